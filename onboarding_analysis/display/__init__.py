"""Layer 3, display helpers shared by the analyses and the report: the figure theme and
palette, and the formatted HTML tables."""
