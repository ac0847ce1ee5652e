"""The `somia` console script's entry point: a Ctrl-C while the SDK loads is one line too.

It lives outside the `somia` package because importing anything inside it first runs
`somia/__init__.py` (httpx and all, the first ~0.1 s of every command), before any of the
command's own code could catch the interrupt.
"""

from __future__ import annotations

import sys

__all__ = ["main"]


def main() -> int:
    """Load the SDK and run the `somia` command; return its exit status."""
    try:
        from somia._cli import main as run
    except KeyboardInterrupt:
        print("\nsomia: interrupted", file=sys.stderr)
        return 130
    return run()
