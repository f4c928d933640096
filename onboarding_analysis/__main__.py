"""``python -m onboarding_analysis``: the command line (see :mod:`onboarding_analysis.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
