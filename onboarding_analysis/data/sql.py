"""SQL quoting for DuckDB: identifiers and string literals, for the loader and the vendor readers."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (column or table name) for DuckDB.

    Parameters
    ----------
    name : str
        The identifier, any text.

    Returns
    -------
    str
        ``"name"`` with inner double quotes doubled.

    Examples
    --------
    >>> quote_ident('us"er')
    '"us""er"'
    """
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB: no value from the data or the params is read as SQL.

    Parameters
    ----------
    value : str
        Any text; a non-string is converted with ``str``.

    Returns
    -------
    str
        The literal, in single quotes, each inner single quote written twice.

    Examples
    --------
    >>> quote_literal("it's")
    "'it''s'"
    """
    return "'" + str(value).replace("'", "''") + "'"


__all__ = ["quote_ident", "quote_literal"]
