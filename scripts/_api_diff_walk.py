"""The document walk behind scripts/api_diff.py: two OpenAPI documents in, changes out.

Both documents are walked from their operations (matched by method and path shape), through
parameters, request bodies, statuses, headers, media types and security; schemas are compared
by `_api_diff_schema`. A change to a shared component is one record naming every operation
that reaches it.
"""

from __future__ import annotations

from typing import Any

from scripts._api_diff_kinds import Change
from scripts._api_diff_schema import DOC_KEYS, Json, SchemaWalk, _canon, _Place, type_label
from somia._document import METHODS, Document, DocumentError


class Walk(SchemaWalk):
    """Compares two documents, operation by operation."""

    # -- the document ------------------------------------------------------------------------

    def run(self) -> list[Change]:
        for doc in (self.old, self.new):
            if not isinstance(doc, dict) or not isinstance(doc.get("paths", {}), dict):
                raise DocumentError("not an OpenAPI document: no `paths` mapping")
        o, n = self.old, self.new
        if _canon(o.get("servers")) != _canon(n.get("servers")):
            urls = [[s.get("url") for s in d.get("servers") or []] for d in (o, n)]
            self.add("servers-changed", "servers", f"changed from {urls[0]} to {urls[1]}")
        self.rest(o, n, {"paths", "components", "security", "servers", "info"}, "document")
        if _canon(o.get("info")) != _canon(n.get("info")):
            self.docs["info"] = None
        old_ops, new_ops = self.operations(o), self.operations(n)
        for key in old_ops.keys() - new_ops.keys():
            label, _, _ = old_ops[key]
            self.add("operation-removed", f"operation {label}", "removed", anchor=("op", label))
        for key in new_ops.keys() - old_ops.keys():
            label, _, _ = new_ops[key]
            text = f"added ({key[0].upper()} {new_ops[key][2]})"
            self.add("operation-added", f"operation {label}", text, anchor=("op", label))
        for key in sorted(old_ops.keys() & new_ops.keys()):
            self.operation(old_ops[key], new_ops[key])
        return self.changes()

    def operations(self, doc: dict[str, Json]) -> dict[tuple[str, str], tuple[str, Json, str]]:
        """(method, path with unnamed parameters) -> (label, operation with path params, path)."""
        out = {}
        for path, item in doc.get("paths", {}).items():
            item, _ = Document(doc).named(item)
            shared = item.get("parameters", [])
            for method in METHODS:
                if method in item:
                    op = dict(item[method])
                    op["parameters"] = [*shared, *op.get("parameters", [])]
                    label = op.get("operationId") or f"{method.upper()} {path}"
                    shape = "".join(
                        p if i % 2 == 0 else "{}"
                        for i, p in enumerate(path.replace("}", "{").split("{"))
                    )
                    op["x-path-item"] = {
                        k: v for k, v in item.items() if k not in METHODS and k != "parameters"
                    }
                    out[(method, shape)] = (label, op, path)
        return out

    def operation(self, old: tuple[str, Json, str], new: tuple[str, Json, str]) -> None:
        (olabel, o, _), (label, n, _) = old, new
        anchor = ("op", label)
        if olabel != label:
            self.add(
                "operation-id-changed",
                f"operation {label}",
                f"operationId changed from {olabel}",
                label,
                anchor=anchor,
            )
        self.deprecation(o, n, f"operation {label}", label, anchor)
        self.parameters(o["parameters"], n["parameters"], label)
        self.request_body(o.get("requestBody"), n.get("requestBody"), label)
        self.responses(o.get("responses", {}), n.get("responses", {}), label)
        self.security(o, n, label)
        self.rest(o["x-path-item"], n["x-path-item"], (), f"path of {label}", label)
        handled = {"operationId", "deprecated", "parameters", "requestBody", "responses"}
        self.rest(o, n, {*handled, "security", "x-path-item"}, f"operation {label}", label)

    # -- parameters and headers --------------------------------------------------------------

    def parameters(self, old: list[Json], new: list[Json], op: str) -> None:
        def keyed(doc: dict[str, Json], params: list[Json]) -> dict[tuple[str, str], Json]:
            out = {}
            for p in params:
                p, _ = Document(doc).named(p)
                name = p["name"].lower() if p["in"] == "header" else p["name"]
                out[(p["in"], name)] = p
            return out

        o, n = keyed(self.old, old), keyed(self.new, new)
        for key in sorted(o.keys() | n.keys()):
            p = n.get(key) or o[key]
            subject = f"{p['in']} parameter {p['name']}"
            anchor = ("param", p["name"])
            if key not in n:
                self.add("parameter-removed", subject, "removed", op, anchor=anchor)
            elif key not in o:
                required = bool(p.get("required"))
                kind = "parameter-added-required" if required else "parameter-added"
                what = "required" if required else "optional"
                self.add(
                    kind,
                    subject,
                    f"added ({what}, {type_label(self.new, p.get('schema'))})",
                    op,
                    anchor=anchor,
                )
            else:
                self.parameter(o[key], n[key], subject, op, anchor)

    def parameter(self, o: Json, n: Json, subject: str, op: str, anchor: Any) -> None:
        was, now = bool(o.get("required")), bool(n.get("required"))
        if now and not was:
            self.add("parameter-made-required", subject, "made required", op, anchor=anchor)
        elif was and not now:
            self.add("parameter-made-optional", subject, "made optional", op, anchor=anchor)
        self.deprecation(o, n, subject, op, anchor)
        self.schema(
            o.get("schema", {}),
            n.get("schema", {}),
            _Place("request", subject, op=op, named=anchor),
        )
        self.rest(o, n, {"name", "in", "required", "deprecated", "schema"}, subject, op)

    def headers(self, old: Json, new: Json, op: str, status: str) -> None:
        o = {k.lower(): (k, v) for k, v in (old or {}).items()}
        n = {k.lower(): (k, v) for k, v in (new or {}).items()}
        for key in sorted(o.keys() | n.keys()):
            name = (n.get(key) or o[key])[0]
            subject = f"response header {name}"
            anchor = ("header", name)
            if key not in n:
                header, _ = Document(self.old).named(o[key][1])
                required = bool(header.get("required"))
                kind = "response-header-removed" if required else "response-optional-header-removed"
                self.add(kind, subject, "removed", op, status, anchor)
                continue
            if key not in o:
                self.add("response-header-added", subject, "added", op, status, anchor)
                continue
            oh, _ = Document(self.old).named(o[key][1])
            nh, _ = Document(self.new).named(n[key][1])
            was, now = bool(oh.get("required")), bool(nh.get("required"))
            if was and not now:
                self.add(
                    "response-header-made-optional", subject, "made optional", op, status, anchor
                )
            elif now and not was:
                self.add(
                    "response-header-made-required", subject, "made required", op, status, anchor
                )
            self.deprecation(oh, nh, subject, op, anchor)
            place = _Place("response", subject, op=op, status=status, named=anchor)
            self.schema(oh.get("schema", {}), nh.get("schema", {}), place)
            self.rest(oh, nh, {"required", "deprecated", "schema"}, subject, op, status)

    # -- bodies and answers ------------------------------------------------------------------

    def request_body(self, old: Json, new: Json, op: str) -> None:
        subject = f"{op} request body"
        anchor = ("body", op)
        if old is None and new is None:
            return
        if new is None:
            self.add("request-body-removed", subject, "removed", op, anchor=anchor)
            return
        n, _ = Document(self.new).named(new)
        if old is None:
            required = bool(n.get("required"))
            kind = "request-body-added-required" if required else "request-body-added"
            self.add(kind, subject, "added (required)" if required else "added", op, anchor=anchor)
            return
        o, _ = Document(self.old).named(old)
        was, now = bool(o.get("required")), bool(n.get("required"))
        if now and not was:
            self.add("request-body-made-required", subject, "made required", op, anchor=anchor)
        elif was and not now:
            self.add("request-body-made-optional", subject, "made optional", op, anchor=anchor)
        self.content(o.get("content", {}), n.get("content", {}), _Place("request", subject, op=op))
        self.rest(o, n, {"required", "content"}, subject, op)

    def responses(self, old: Json, new: Json, op: str) -> None:
        # YAML reads an unquoted 200 as a number, JSON keys are strings: compare as strings.
        old, new = ({str(k): v for k, v in d.items()} for d in (old, new))
        for status in sorted(old.keys() | new.keys()):
            code = status
            subject = f"status {code}"
            if status not in new:
                self.add("status-removed", subject, "removed", op, anchor=("status", code))
            elif status not in old:
                self.add("status-added", subject, "added", op, anchor=("status", code))
            else:
                o, _ = Document(self.old).named(old[status])
                n, _ = Document(self.new).named(new[status])
                self.headers(o.get("headers"), n.get("headers"), op, code)
                place = _Place("response", f"{op} {code} answer", op=op, status=code)
                self.content(o.get("content", {}), n.get("content", {}), place)
                self.rest(o, n, {"headers", "content"}, f"{op} {code} answer", op, code)

    def content(self, old: Json, new: Json, place: _Place) -> None:
        side = "request body" if place.side == "request" else "answer"
        for media in sorted(old.keys() | new.keys()):
            subject = f"media type {media}"
            anchor = ("media", place.side, media)
            if media not in new:
                self.add(
                    "media-type-removed", subject, f"{side} removed", place.op, place.status, anchor
                )
            elif media not in old:
                self.add(
                    "media-type-added", subject, f"{side} added", place.op, place.status, anchor
                )
            else:
                o, n = old[media], new[media]
                self.schema(o.get("schema", {}), n.get("schema", {}), place)
                self.rest(o, n, {"schema"}, f"{place.subject} ({media})", place.op, place.status)

    # -- security ----------------------------------------------------------------------------

    def requirements(self, doc: dict[str, Json], op: Json) -> list[str]:
        schemes = doc.get("components", {}).get("securitySchemes", {})
        out = []
        for requirement in op.get("security", doc.get("security", [])):
            parts = []
            for name, scopes in sorted(requirement.items()):
                scheme, _ = Document(doc).named(schemes.get(name, {}))
                shape = {k: v for k, v in scheme.items() if k not in DOC_KEYS}
                parts.append(f"{name} {_canon(shape)} {sorted(scopes)}")
            out.append(" and ".join(parts))
        return sorted(out)

    def security(self, o: Json, n: Json, op: str) -> None:
        was, now = self.requirements(self.old, o), self.requirements(self.new, n)
        if was == now:
            return
        if not now or "" in now:
            self.add(
                "security-relaxed",
                "security",
                "authentication no longer required",
                op,
                anchor=("security",),
            )
        else:
            text = f"changed from {' or '.join(was) or 'none'} to {' or '.join(now)}"
            self.add("security-changed", "security", text, op, anchor=("security",))
