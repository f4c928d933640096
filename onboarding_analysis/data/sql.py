"""SQL quoting for DuckDB: identifiers and string literals, for the loader and the vendor readers."""

from __future__ import annotations


def quote_ident(name: str) -> str:
    """Quote an SQL identifier (column or table name) for DuckDB."""
    return '"' + str(name).replace('"', '""') + '"'


def quote_literal(value: str) -> str:
    """Quote a string literal for DuckDB."""
    return "'" + str(value).replace("'", "''") + "'"


__all__ = ["quote_ident", "quote_literal"]
