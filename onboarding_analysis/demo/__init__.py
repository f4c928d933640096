"""Layer 3, the demo data: a generated event log with a known ground truth."""

from .generator import DemoData, DemoSpec, generate, write_demo

__all__ = ["DemoData", "DemoSpec", "generate", "write_demo"]
