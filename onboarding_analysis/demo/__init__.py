"""Layer 3, the demo data: a generated event log with a known ground truth."""
