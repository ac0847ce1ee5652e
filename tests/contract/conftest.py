"""The contract suite's pytest wiring: one run per session, against the fake or a deployment.

`pytest tests/contract` (in `make test`) holds the fake server to the document, and tests the
suite itself against broken servers. `pytest tests/contract --live` (`make contract`) holds
the deployment the variables name (settings.py) to it: only the suite's own tests run, a
missing variable, an unreachable base URL or a refused key ends the session with status 2,
and the terminal summary gives the matrix, the one-page report, the cost and the report
folder.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from somia.testing import FakeServer, FakeSomia, echo_agent
from tests.contract.answer_audit import AnswerAudit
from tests.contract.ledger import Exchange
from tests.contract.model import GROUPS
from tests.contract.preflight import check_key
from tests.contract.report import cost, matrix_text, one_page, write
from tests.contract.runner import AnswerCheck, ContractRun
from tests.contract.settings import SettingsError, Target, check_reachable, target_from_env

LIVE = pytest.StashKey[ContractRun]()
"""The live run, made (and its key checked) when pytest starts."""
RUN = pytest.StashKey[ContractRun]()
FOLDER = pytest.StashKey[Path]()
SELECTED = pytest.StashKey[tuple[str, ...]]()
FAKE_KEY = "sk-contract-fake"
OTHER_AGENT = 2


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("somia contract")
    group.addoption(
        "--live",
        action="store_true",
        help="hold the deployment SOMIA_CONTRACT_BASE_URL names to the document (paid turns)",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "contract_suite: a group of the contract suite's promises")
    config.addinivalue_line("markers", "fake_only: checks only the fake's run can pass")
    if not config.getoption("--live", default=False):
        return
    run = None
    try:
        target = target_from_env()
        check_reachable(target)
        run = ContractRun(target)
        check_key(run)
    except SettingsError as exc:
        if run is not None:
            run.close()
        pytest.exit(f"make contract: {exc}", returncode=2)
    config.stash[LIVE] = run


def pytest_unconfigure(config: pytest.Config) -> None:
    run = config.stash.get(LIVE, None)
    if run is not None:
        run.close()


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if LIVE not in config.stash:
        return
    kept = [
        i
        for i in items
        if i.get_closest_marker("contract_suite") and not i.get_closest_marker("fake_only")
    ]
    config.hook.pytest_deselected(items=[item for item in items if item not in kept])
    items[:] = kept


def pytest_collection_finish(session: pytest.Session) -> None:
    """Note the groups the session will run: the run keeps paid turns for their probes."""
    groups: set[str] = set()
    for item in session.items:
        if item.get_closest_marker("contract_suite"):
            callspec = getattr(item, "callspec", None)
            group = None if callspec is None else callspec.params.get("group")
            groups |= set(GROUPS) if group is None else {group}
    session.config.stash[SELECTED] = tuple(g for g in GROUPS if g in groups)


@pytest.fixture(scope="session")
def contract_server() -> Iterator[FakeServer]:
    """The fake the suite runs against without --live: agents 1 and 2 exist."""
    fake = FakeSomia(
        api_key=FAKE_KEY,
        agents={1: echo_agent, OTHER_AGENT: echo_agent},
        max_requests=100_000,
    )
    with FakeServer(fake) as server:
        yield server


@pytest.fixture(scope="session")
def answer_audit() -> AnswerAudit:
    """Against the fake, answers are held to closed schemas and must show every field."""
    return AnswerAudit()


@pytest.fixture(scope="session")
def contract(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    answer_audit: AnswerAudit,
) -> Iterator[ContractRun]:
    """The session's contract run: every group test reads its findings from it."""
    config = request.config
    if LIVE in config.stash:
        run = config.stash[LIVE]
        folder = _folder()
    else:
        server: FakeServer = request.getfixturevalue("contract_server")
        target = Target(server.base_url, server.api_key, 1, other_agent_id=OTHER_AGENT)
        run = ContractRun(target, answer_checks=[_audited(answer_audit)])
        folder = tmp_path_factory.mktemp("contract-report")
    run.groups = config.stash.get(SELECTED, GROUPS)
    config.stash[RUN] = run
    config.stash[FOLDER] = folder
    try:
        yield run
    finally:
        run.close()
        write(run, folder)


def _audited(audit: AnswerAudit) -> AnswerCheck:
    def check(exchange: Exchange) -> None:
        if exchange.status == 200 and exchange.response is not None:
            response = httpx.Response(200, headers=exchange.response.headers, content=exchange.body)
            before = len(audit.problems)
            audit.add_response(response)
            if len(audit.problems) > before:
                raise AssertionError("; ".join(audit.problems[before:]))

    return check


def _folder() -> Path:
    root = Path(os.environ.get("SOMIA_CONTRACT_REPORT_DIR") or "contract-reports")
    return root / time.strftime("run-%Y%m%dT%H%M%SZ", time.gmtime())


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, config: pytest.Config
) -> None:
    run = config.stash.get(RUN, None)
    if run is None:
        return
    live = LIVE in config.stash
    terminalreporter.section("somia contract" + ("" if live else " (the fake server)"))
    terminalreporter.write_line(matrix_text(run, full=live))
    if live or run.findings or run.stopped is not None:
        terminalreporter.write_line(one_page(run))
    terminalreporter.write_line(f"contract: {cost(run)}; report: {config.stash[FOLDER]}")
