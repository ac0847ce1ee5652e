"""The workshop in proportion to the house: no module of the SDK or of its tooling over about
500 lines, and the tooling at most a quarter of the hand-written code outside the tests."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 500
SHIPPED = ("somia",)
TOOLING = ("scripts",)  # every folder of tooling: what is never shipped nor a test
NOT_HAND_WRITTEN = ("generated",)  # made by `make generate`
MAX_TOOLING_SHARE = 0.25


def _lines(folders: tuple[str, ...]) -> dict[str, int]:
    return {
        str(path.relative_to(ROOT)): len(path.read_text(encoding="utf-8").splitlines())
        for folder in folders
        for path in sorted((ROOT / folder).rglob("*.py"))
    }


def test_no_module_of_the_sdk_or_its_tooling_is_over_500_lines() -> None:
    long = {name: n for name, n in _lines(SHIPPED + TOOLING).items() if n > MAX_LINES}
    assert long == {}, "split these by job (one module, one job)"


def test_the_tooling_is_at_most_a_quarter_of_the_hand_written_code_outside_tests() -> None:
    tooling = sum(_lines(TOOLING).values())
    shipped = sum(_lines(SHIPPED).values())
    share = tooling / (tooling + shipped)
    assert share <= MAX_TOOLING_SHARE, (
        f"the tooling is {tooling} lines against {shipped} of the SDK: {share:.3f} of the "
        f"two, over {MAX_TOOLING_SHARE}; trim it rather than move it into somia/"
    )


def test_every_folder_of_python_code_is_counted_as_sdk_tooling_or_tests() -> None:
    folders = {
        folder.name
        for folder in ROOT.iterdir()
        if folder.is_dir()
        and not folder.name.startswith(".")
        and next(folder.rglob("*.py"), None) is not None
    }
    counted = {*SHIPPED, *TOOLING, *NOT_HAND_WRITTEN, "tests"}
    assert folders <= counted, "a new folder of code: add it to SHIPPED or TOOLING above"
