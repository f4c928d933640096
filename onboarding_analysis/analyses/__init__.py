"""Layer 4, one module per report section: each takes the user facts and returns tables,
figures and its part of ``metrics.json``."""
