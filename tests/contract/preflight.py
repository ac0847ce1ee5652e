"""Before a run: is the key the run was given one the deployment takes?

A wrong `SOMIA_API_KEY` would make every probe that carries it a broken promise (`expected
422, got 401` hundreds of times). One free probe of the plan tells first: a request with the
key that a valid key gets through authentication to a later refusal (nothing runs). Refused
with the authentication status, the run is a configuration error (exit 2), as an unreachable
base URL is. The probe's outcome is kept, so the run does not send it again.
"""

from __future__ import annotations

from typing import Any

from tests.contract.model import Probe, Ref
from tests.contract.recipes import Recipes
from tests.contract.runner import ContractRun
from tests.contract.settings import KEY_VARIABLE, SettingsError


def check_key(run: ContractRun) -> None:
    """SettingsError when the deployment refuses the run's key on a request that a valid key
    gets through authentication."""
    recipes = Recipes(run.doc, run.target)
    rule = recipes.rule("unauthenticated")
    probe = _teller(run, recipes, rule)
    if rule is None or probe is None:
        return
    exchange = run.run_probe(probe).exchange
    refused = recipes.status[rule]
    if exchange is None or exchange.status != refused:
        return
    header = run.target.api_key_header or run.doc.api_key_header()
    raise SettingsError(
        f"{KEY_VARIABLE} was refused ({refused}) on {exchange.line}, where a valid key gets "
        f"{probe.expect.status} ({probe.expect.rule}: nothing runs). Check {KEY_VARIABLE}, "
        f"and that the deployment reads it from header {header} (SOMIA_API_KEY_HEADER)"
    )


def _teller(run: ContractRun, recipes: Recipes, rule: str | None) -> Probe | None:
    """The free probe with the key whose expected refusal comes after authentication's: one
    aimed at the run's own resources, the one with the smallest body."""
    if rule is None:
        return None
    after = [
        probe
        for probe in run.plan.probes
        if probe.request.credentials == "valid"
        and not probe.paid
        and not probe.needs
        and probe.expect.rule in recipes.order
        and recipes.order[probe.expect.rule] > recipes.order[rule]
        and not _refers(probe.request.path)
        and not _refers(probe.request.headers)
    ]
    own = set(run.target.resources("own").values())
    return min(after, key=lambda probe: _rank(probe, own), default=None)


def _refers(values: Any) -> bool:
    return any(isinstance(value, Ref) for value in values.values())


def _rank(probe: Probe, own: set[int]) -> tuple[bool, int]:
    request = probe.request
    size = len(request.raw) if request.raw is not None else len(repr(request.body))
    return not set(request.path.values()) <= own, size
