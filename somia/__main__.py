"""`python -m somia` and the `somia` console script: the SDK's command line."""

from __future__ import annotations

import sys

from somia._cli import main

__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
