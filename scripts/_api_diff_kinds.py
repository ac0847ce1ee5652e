"""The API diff's rules: every kind of change to the document, with its level for users of
the SDK and its changelog section (the table in docs/regenerating.md is this table), and the
record of one change."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# kind -> (level, changelog section). The table in docs/regenerating.md is this table.
KINDS: dict[str, tuple[str, str]] = {
    "operation-added": ("info", "Added"),
    "operation-removed": ("breaking", "Removed"),
    "operation-id-changed": ("warning", "Changed"),
    "parameter-added": ("info", "Added"),
    "parameter-added-required": ("breaking", "Changed"),
    "parameter-removed": ("breaking", "Removed"),
    "parameter-made-required": ("breaking", "Changed"),
    "parameter-made-optional": ("info", "Changed"),
    "request-body-added": ("info", "Added"),
    "request-body-added-required": ("breaking", "Changed"),
    "request-body-removed": ("breaking", "Removed"),
    "request-body-made-required": ("breaking", "Changed"),
    "request-body-made-optional": ("info", "Changed"),
    "request-field-added": ("info", "Added"),
    "request-field-added-required": ("breaking", "Changed"),
    "request-field-removed": ("breaking", "Removed"),
    "request-field-renamed": ("breaking", "Changed"),
    "request-field-made-required": ("breaking", "Changed"),
    "request-field-made-optional": ("info", "Changed"),
    "request-type-narrowed": ("breaking", "Changed"),
    "request-type-changed": ("breaking", "Changed"),
    "request-type-widened": ("info", "Changed"),
    "request-enum-value-removed": ("breaking", "Changed"),
    "request-enum-value-added": ("info", "Changed"),
    "request-format-changed": ("breaking", "Changed"),
    "request-format-removed": ("info", "Changed"),
    "request-bound-tightened": ("breaking", "Changed"),
    "request-bound-loosened": ("info", "Changed"),
    "request-default-changed": ("warning", "Changed"),
    "response-field-added": ("info", "Added"),
    "response-field-removed": ("breaking", "Removed"),
    "response-field-renamed": ("breaking", "Changed"),
    "response-field-made-optional": ("warning", "Changed"),
    "response-field-made-required": ("info", "Changed"),
    "response-type-widened": ("breaking", "Changed"),
    "response-type-changed": ("breaking", "Changed"),
    "response-type-narrowed": ("info", "Changed"),
    "response-enum-value-added": ("warning", "Changed"),
    "response-enum-value-removed": ("info", "Changed"),
    "response-format-changed": ("warning", "Changed"),
    "response-bound-loosened": ("warning", "Changed"),
    "response-bound-tightened": ("info", "Changed"),
    "response-default-changed": ("info", "Changed"),
    "response-header-added": ("info", "Added"),
    "response-header-removed": ("breaking", "Removed"),
    "response-optional-header-removed": ("warning", "Removed"),
    "response-header-made-optional": ("warning", "Changed"),
    "response-header-made-required": ("info", "Changed"),
    "deprecated": ("warning", "Deprecated"),
    "undeprecated": ("info", "Changed"),
    "status-added": ("info", "Added"),
    "status-removed": ("breaking", "Removed"),
    "media-type-added": ("info", "Added"),
    "media-type-removed": ("breaking", "Removed"),
    "security-changed": ("breaking", "Changed"),
    "security-relaxed": ("info", "Changed"),
    "servers-changed": ("warning", "Changed"),
    "unclassified": ("warning", "Changed"),
    "documentation": ("info", "Changed"),
}


@dataclass(frozen=True)
class Change:
    """One change, its level, and where it is (`anchor` says which SDK name it touches)."""

    kind: str
    subject: str  # what changed: a schema path, a parameter, a status, an operation
    text: str  # what happened to it
    operations: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    anchor: tuple[Any, ...] = ()

    @property
    def level(self) -> str:
        return KINDS[self.kind][0]
