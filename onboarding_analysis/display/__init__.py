"""Layer 3, display helpers shared by the analyses and the report.

The figure theme and palette, and the formatted HTML tables.
"""

from .figures import axes_or_new
from .style import PALETTE, apply_theme, group_colors, plot_km
from .tables import Table, format_value

__all__ = ["PALETTE", "Table", "apply_theme", "axes_or_new", "format_value", "group_colors", "plot_km"]
