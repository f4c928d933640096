"""Layer 5, the report: notebook execution and HTML rendering, batches and their index, the
helpers notebooks call, the *At a glance* summary and its wording, definitions and metrics.json."""
