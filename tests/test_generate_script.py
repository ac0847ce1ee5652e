"""scripts/generate.py: deterministic output and a drift check that names what drifted."""

from __future__ import annotations

from pathlib import Path

import pytest

from scripts import generate

pytestmark = pytest.mark.slow  # runs openapi-python-client

ROOT = Path(__file__).resolve().parent.parent


def test_committed_package_matches_a_fresh_generation(tmp_path: Path) -> None:
    fresh = generate.generate(tmp_path)
    assert generate.diff(generate.TARGET, fresh) == ""
    assert (fresh / "py.typed").exists()
    assert "DO NOT EDIT" in (fresh / "GENERATED.txt").read_text()


def test_a_new_field_in_the_document_shows_up_in_the_drift_diff(tmp_path: Path) -> None:
    text = generate.SPEC.read_text()
    anchor = "        end_user_id:\n"
    assert anchor in text
    changed = text.replace(
        anchor, "        conversation_topic:\n          type: string\n" + anchor, 1
    )
    spec = tmp_path / "somia.yaml"
    spec.write_text(changed)
    (tmp_path / "out").mkdir()
    fresh = generate.generate(tmp_path / "out", spec=spec)
    drift = generate.diff(generate.TARGET, fresh)
    assert "+    conversation_topic: str | Unset = UNSET" in drift
    assert "regenerated/models/agent_execution_request.py" in drift


def test_check_mode_fails_with_a_message_when_the_copy_differs(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "somia_api"
    stale.mkdir()
    (stale / "client.py").write_text("# edited by hand\n")
    monkeypatch.setattr(generate, "TARGET", stale)
    assert generate.main(["--check"]) == 1
    out = capsys.readouterr()
    assert "-# edited by hand" in out.out
    assert "make generate" in out.err


def test_an_edit_that_changes_no_code_still_shows_up_as_drift(tmp_path: Path) -> None:
    spec = tmp_path / "somia.yaml"
    spec.write_text(generate.SPEC.read_text() + "\n# a comment only\n")
    (tmp_path / "out").mkdir()
    fresh = generate.generate(tmp_path / "out", spec=spec)
    drift = generate.diff(generate.TARGET, fresh)
    assert "regenerated/GENERATED.txt" in drift
    assert "sha256" in drift
