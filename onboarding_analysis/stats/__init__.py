"""Layer 3, statistics with no knowledge of the report: intervals, frequency weights and the
Efron Cox fit, the checks that tell a Cox ratio that cannot be estimated."""
