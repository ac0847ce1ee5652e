"""What a contract run reports: the matrix, the one-page report, `contract-report.json` and
`contract-junit.xml`. The key never appears: whatever a server echoed, it reads
`$SOMIA_API_KEY`.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections import Counter
from pathlib import Path
from typing import Any

from tests.contract.model import GROUPS
from tests.contract.runner import FAILED, ContractRun, Line
from tests.contract.settings import KEY_VARIABLE

_MARK = {
    "passed": "PASS",
    "failed": "FAIL",
    "not provokable": "N/P ",
    "left out for budget": "LEFT",
    "not run": "NRUN",
}


def hide_key(run: ContractRun, text: str) -> str:
    key = run.target.api_key
    return text.replace(key, f"${KEY_VARIABLE}") if key else text


def cost(run: ContractRun) -> str:
    """The cost line: turns (per group), requests, time."""
    groups = ", ".join(f"{group} {n}" for group, n in run.ledger.spent_on.items() if n)
    return (
        f"{run.ledger.turns_spent} of {run.target.budget} paid turns spent"
        f"{f' ({groups})' if groups else ''}; an honest deployment: {spent_by_honest(run)}; "
        f"{run.ledger.requests_sent} requests sent, {run.seconds:.1f} s"
    )


def honest_turns(run: ContractRun) -> int:
    """The most paid turns an honest deployment spends before the spare turns: the planned
    paid probes and the generated phases' share."""
    from tests.contract.generated import GENERATED_TURNS

    return min(run.plan.paid() + GENERATED_TURNS, run.target.budget)


def spent_by_honest(run: ContractRun) -> str:
    """What an honest deployment spends, and on what."""
    from tests.contract.generated import GENERATED_TURNS

    paid, spares = run.plan.paid(), run.plan.spares()
    most = min(paid + GENERATED_TURNS + spares, run.target.budget)
    return f"at most {most} ({paid} planned, up to {GENERATED_TURNS} generated, {spares} spare)"


def counts(rows: list[Line]) -> str:
    found = Counter(row.status for row in rows)
    return ", ".join(f"{count} {status}" for status, count in sorted(found.items()))


def matrix_text(run: ContractRun, *, full: bool = True) -> str:
    """The matrix: per group, one line per promise (`full`), or those that failed or never ran."""
    rows = run.matrix()
    lines = [f"Promise matrix of {run.target.base_url}: {counts(rows)}"]
    for group in GROUPS:
        mine = [row for row in rows if row.group == group]
        if not mine:
            continue
        lines.append(f"{group}: {counts(mine)}")
        for row in mine:
            if full or row.status in (FAILED, "not run"):
                reason = f"  ({row.reason})" if row.reason and row.status != "passed" else ""
                lines.append(f"  {_MARK.get(row.status, row.status)} {row.promise}{reason}")
    exercised, missing = run.keywords()
    lines.append(f"request keywords exercised: {len(exercised)} of {len(run.plan.keywords)}")
    lines += [f"  not exercised: {keyword}" for keyword in sorted(missing)]
    return hide_key(run, "\n".join(lines))


def one_page(run: ContractRun) -> str:
    """The report a platform team reads: one line per failure, the stop, notes, each failure's
    detail with a command that reproduces it, the cost."""
    target = run.target
    lines = [
        f"Somia contract run against {target.base_url}, agent {target.agent_id}: budget "
        f"{target.budget} paid turns, deadline {target.deadline:g} s"
    ]
    lines += [finding.line for finding in run.findings]
    if run.stopped is not None:
        lines.append(f"STOP [{run.stopped.check}] {run.stopped.line}")
    left = run.not_run()
    if left:
        lines.append(
            f"NOT RUN: {len(left)} planned promise{'s' * (len(left) != 1)} (see the matrix)"
        )
    if not run.findings and run.stopped is None and not left:
        lines.append(f"passed: every promise held ({counts(run.matrix())})")
    lines += [f"note: {note}" for note in run.notes]
    for number, finding in enumerate(run.findings, 1):
        lines += ["", f"--- {number}. [{finding.check}] {finding.promise}"]
        lines += [
            f"request: {finding.request}",
            f"expected: {finding.expected}",
            f"got: {finding.got}",
        ]
        if finding.detail:
            lines.append(finding.detail.rstrip())
        if finding.reproduce:
            lines += ["reproduce:", f"  {finding.reproduce}"]
    lines += ["", cost(run)]
    return hide_key(run, "\n".join(lines))


def as_json(run: ContractRun) -> dict[str, Any]:
    exercised, missing = run.keywords()
    return {
        "target": {"base_url": run.target.base_url, "agent_id": run.target.agent_id},
        "budget": run.target.budget,
        "turns_spent": run.ledger.turns_spent,
        "honest_turns": honest_turns(run),
        "spare_turns": run.plan.spares(),
        "spent_on": dict(run.ledger.spent_on),
        "requests_sent": run.ledger.requests_sent,
        "seconds": round(run.seconds, 3),
        "stopped": None if run.stopped is None else run.stopped.line,
        "notes": run.notes,
        "keywords": {
            "total": len(run.plan.keywords),
            "exercised": len(exercised),
            "missing": sorted(missing),
        },
        "promises": [
            {
                "id": row.id,
                "group": row.group,
                "operation": row.operation,
                "promise": row.promise,
                "status": row.status,
                "reason": row.reason,
                "findings": [
                    {
                        "expected": f.expected,
                        "got": f.got,
                        "request": f.request,
                        "detail": f.detail,
                        "reproduce": f.reproduce,
                    }
                    for f in row.findings
                ],
            }
            for row in run.matrix()
        ],
    }


def as_junit(run: ContractRun) -> ET.Element:
    suites = ET.Element("testsuites", name="somia-contract")
    rows = run.matrix()
    for group in GROUPS:
        mine = [row for row in rows if row.group == group]
        suite = ET.SubElement(
            suites,
            "testsuite",
            name=group,
            tests=str(len(mine)),
            failures=str(sum(row.status == FAILED for row in mine)),
            errors=str(
                sum(
                    row.status in ("not run", "left out for budget") and not row.excused
                    for row in mine
                )
            ),
            skipped=str(sum(row.excused for row in mine)),
        )
        for row in mine:
            case = ET.SubElement(
                suite, "testcase", classname=f"contract.{group}.{row.operation}", name=row.promise
            )
            if row.status == FAILED:
                for finding in row.findings or []:
                    failure = ET.SubElement(
                        case,
                        "failure",
                        message=f"expected {finding.expected}, got {finding.got}"[:500],
                    )
                    failure.text = f"{finding.detail}\nreproduce: {finding.reproduce}"
            elif row.excused:
                ET.SubElement(case, "skipped", message=f"{row.status}: {row.reason}")
            elif row.status != "passed":
                ET.SubElement(case, "error", message=f"{row.status}: {row.reason}")
    return suites


def write(run: ContractRun, folder: Path) -> Path:
    """Write the run's report files into `folder` (made if need be); return it."""
    folder.mkdir(parents=True, exist_ok=True)
    text = hide_key(run, json.dumps(as_json(run), indent=1, ensure_ascii=False))
    (folder / "contract-report.json").write_text(text + "\n", encoding="utf-8")
    junit = hide_key(run, ET.tostring(as_junit(run), encoding="unicode"))
    (folder / "contract-junit.xml").write_text(junit + "\n", encoding="utf-8")
    (folder / "contract-report.txt").write_text(
        one_page(run) + "\n\n" + matrix_text(run) + "\n", encoding="utf-8"
    )
    return folder
