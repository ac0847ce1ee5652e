"""`make contract`: hold a live deployment to openapi/somia.yaml, within a budget of paid turns.

Runs tests/contract/live_suite.py against the deployment that SOMIA_CONTRACT_BASE_URL,
SOMIA_API_KEY and SOMIA_AGENT_ID name, prints its report (one line per failure, then the
detail, then the turns spent, requests sent and time taken) and exits 1 when a promise is
broken, 2 when a variable is missing or malformed.
"""

from __future__ import annotations

import sys
from pathlib import Path

# The suite's modules are top-level modules of tests/contract (as pytest imports them).
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "contract"))

from live_run import SettingsError, target_from_env


def main() -> int:
    try:
        target = target_from_env()
    except SettingsError as exc:
        print(f"make contract: {exc}", file=sys.stderr)
        return 2
    from live_suite import run_suite  # imports schemathesis: only once the settings are good

    report = run_suite(target)
    print(report.render())
    return 0 if report.passed else 1


if __name__ == "__main__":
    sys.exit(main())
