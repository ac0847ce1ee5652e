"""somia._patterns: the document's patterns keep their ECMA-262 meaning, in the SDK and the fake.

One table of cases where Python's `re`, Unicode and ECMA-262 disagree; the SDK's compiled
check and the fake server give ECMA-262's verdict on each, and on every witness of every
pattern the document uses (the fake over loopback HTTP).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from somia._bridge import check_body, check_parameter
from somia._document import shipped
from somia._patterns import WHITE_SPACE, PatternError, compile_pattern, translate, witnesses
from somia.testing import FakeServer, FakeSomia, echo_agent
from somia.testing._schema import SchemaCheck

ECMA_WHITE_SPACE = "\t\n\v\f\r \xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007"
ECMA_WHITE_SPACE += "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

# (pattern, text, ECMA-262's verdict: does the pattern match somewhere in the text?)
TABLE = [
    *((r"\S", ch, False) for ch in ECMA_WHITE_SPACE),
    (r"\S", "\x1c", True),  # Python's \s takes U+001C-U+001F and U+0085; ECMA-262's does not
    (r"\S", "\x1d", True),
    (r"\S", "\x1e", True),
    (r"\S", "\x1f", True),
    (r"\S", "\x85", True),
    (r"\S", "\u180e", True),  # white space in Unicode before 6.3, not in ECMA-262
    (r"\S", "\u200b", True),
    (r"\S", " a ", True),
    (r"\S", "", False),
    (r"^\s+$", "\ufeff\u2028", True),
    (r"^[!-~]+$", "a\n", False),  # Python's $ matches before a final newline
    (r"^[!-~]+$", "key-1~", True),
    (r"^[!-~]+$", "a b", False),
    (r"^[!-~]+$", "\x7f", False),
    (r"^\d+$", "\u0663", False),  # Python's \d takes any script's digits
    (r"^\d{2}$", "12", True),
    (r"^\w+$", "é", False),
    (r"^\w+$", "\u212a", False),  # the Kelvin sign: \w only under case folding
    (r"^[^\s]+$", "a\ufeff", False),
    (r"^[\sx-z]$", "\u3000", True),
    (r"^a\u00e9?$", "aé", True),
]


@pytest.mark.parametrize(("pattern", "text", "verdict"), TABLE)
def test_the_sdk_and_the_fake_give_ecma_262s_verdict(
    pattern: str, text: str, verdict: bool
) -> None:
    assert (compile_pattern(pattern).search(text) is not None) is verdict
    assert SchemaCheck({"type": "string", "pattern": pattern}).is_valid(text) is verdict


def test_white_space_is_ecma_262s() -> None:
    listed = "".join(chr(c) for low, high in WHITE_SPACE for c in range(low, high + 1))
    assert listed == ECMA_WHITE_SPACE


@pytest.mark.parametrize(
    ("pattern", "construct"),
    [
        ("a.b", "'.'"),
        ("(ab)+", "a group"),
        ("a|b", "'|'"),
        (r"\bword", r"\b"),
        (r"\p{L}", r"\p"),
        ("a+?", "lazy"),
        (r"[\S]", r"\S inside a class"),
        ("a$b", "'$' here"),
        ("*a", "quantifier"),
        ("[]", "empty class"),
        ("[a", "not closed"),
        ("x{2,1}", "out of order"),
        ("a{", "not a quantifier"),
        ("\\", "trailing backslash"),
    ],
)
def test_any_other_construct_is_refused_naming_it(pattern: str, construct: str) -> None:
    with pytest.raises(PatternError, match=re.escape(construct)) as info:
        translate(pattern)
    assert "\n" not in str(info.value)


def test_witnesses_sit_on_both_sides_of_each_edge() -> None:
    found = dict(witnesses(r"^[!-~]{2,3}$"))
    assert found["!!"] is True
    assert found["~!"] is True  # the range's last character
    assert found["!"] is False  # one below the minimum
    assert found["!!!!"] is False  # one above the maximum
    assert found["!!\n"] is False
    assert found[" !"] is False  # U+0020, just below the range
    assert found["\x7f!"] is False  # just above it
    assert found["\ufeff!"] is False
    assert all(isinstance(text, str) for text in found)


# -- the document's own patterns, through the SDK and over HTTP to the fake -----------------


def _patterned() -> Iterator[tuple[str, str, str]]:
    """(where, name, pattern) of each body field and header parameter the document patterns."""
    document = shipped()
    for operation in document.operations():
        for name, schema in document.properties(document.request_schema(operation)).items():
            for member in [schema, *map(document.merged, schema.get("oneOf", []))]:
                if "pattern" in member:
                    yield "body", name, member["pattern"]
        for parameter in document.parameters(operation):
            schema = document.merged(parameter["schema"])
            if parameter["in"] == "header" and "pattern" in schema:
                yield "header", parameter["name"], schema["pattern"]


PATTERNED = sorted(set(_patterned()))


def test_the_document_uses_patterns_in_a_body_field_and_a_header() -> None:
    assert {where for where, _, _ in PATTERNED} == {"body", "header"}


@pytest.fixture(scope="module")
def fake() -> Iterator[FakeServer]:
    with FakeServer(FakeSomia(default_agent=echo_agent)) as server:
        yield server


def _sdk_accepts(where: str, name: str, text: str) -> bool:
    try:
        if where == "body":
            check_body({name: text})
        else:
            check_parameter(name.lower().replace("-", "_"), text)
    except ValueError:
        return False
    return True


def _sendable(where: str, text: str) -> bool:
    # A header value is printable ASCII, and HTTP drops white space around it.
    return where == "body" or (text.isascii() and text.isprintable() and text == text.strip())


@pytest.mark.parametrize(("where", "name", "pattern"), PATTERNED)
def test_on_each_witness_the_sdk_and_the_fake_agree_with_ecma_262(
    fake: FakeServer, where: str, name: str, pattern: str
) -> None:
    cases = [(text, verdict) for text, verdict in witnesses(pattern) if _sendable(where, text)]
    assert len(cases) > 5
    url = f"{fake.base_url}/api/v1/external/agent/1/session"
    wrong: list[tuple[str, bool, bool, bool]] = []
    with httpx.Client(headers=fake.headers, timeout=5) as http:
        for text, verdict in cases:
            options: dict[str, Any] = (
                {"json": {name: text}} if where == "body" else {"json": {}, "headers": {name: text}}
            )
            status = http.post(url, **options).status_code
            assert status in (200, 422), status
            fake_accepts = status == 200
            sdk = _sdk_accepts(where, name, text)
            if not sdk == fake_accepts == verdict:
                wrong.append((text, verdict, sdk, fake_accepts))
    assert wrong == []
