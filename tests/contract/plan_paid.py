"""Planning the groups that read paid turns: the turns themselves (media), a resource through
another owner, idempotency, and the stream rules watched on every streamed answer."""

from __future__ import annotations

from typing import Any

from somia._document import EVENT_STREAM, Operation
from tests.contract.model import Expect, Probe, Ref, Request
from tests.contract.plan_base import PlannerBase
from tests.contract.turns import AcceptPool, another_body, turn_body

Variant = tuple[str, str, Request, Expect, tuple[str, ...]]
"""An Idempotency-Key probe: its slug, what it changes, its request, expectation, needs."""


class PaidGroups(PlannerBase):
    def ownership(self, op: Operation) -> None:
        """A resource through another owner is not found (`x-somia-owner`)."""
        status = self.status("not-found")
        for turn in self.turns.get(op.id, [])[:1]:
            for parameter in self.doc.parameters(op):
                owner = parameter.get("x-somia-owner")
                if owner is None or status is None:
                    continue
                (owner_parameter,) = [p for p in self.doc.parameters(op) if p["name"] == owner]
                resource = owner_parameter.get("x-somia-resource")
                other = self.target.resources("other").get(resource or "")
                name = parameter["name"]
                promise = f"{name} of this run through another {resource} is answered {status}"
                if other is None:
                    self.row(
                        "refusals",
                        op,
                        f"owner-{parameter['name']}",
                        promise,
                        f"needs another {resource} of the account: set SOMIA_OTHER_AGENT_ID",
                    )
                    continue
                request = turn.request.with_(path={**turn.request.path, owner: other}, headers={})
                self.add(
                    "refusals",
                    op,
                    f"owner-{parameter['name']}",
                    promise,
                    request,
                    Expect(status, "not-found"),
                    needs=turn.needs,
                )

    # media: the paid turns

    def media(self, ops: list[Operation]) -> None:
        """One paid turn per operation and answer form, each under another `Accept` value."""
        pool = AcceptPool([media for op in ops for media in self.doc.media_rules(op)])
        tried: set[tuple[str, str, str | None]] = set()
        for op in self.runnable(ops):
            order = list(self.doc.media_rules(op))
            if self.source(op) is not None:  # continue the other form: each link works for both
                order = order[1:] + order[:1]
            for index, media in enumerate(order):
                accept = pool.take(media)
                tried.add((op.id, media, accept))
                promise = (
                    f"a valid turn ({self.when(op, media)}) is answered 200 with {media}, "
                    f"under Accept: {accept or '(none)'}"
                )
                turn = self.turn("media", op, f"turn-{index + 1}", promise, media, accept, index)
                self.turns.setdefault(op.id, []).append(turn)
        self.accepts = (pool, tried)

    def turn(
        self,
        group: str,
        op: Operation,
        slug: str,
        promise: str,
        media: str,
        accept: str | None,
        index: int,
        **more: Any,
    ) -> Probe:
        """Add a paid turn of `op` answered with `media`, under `accept`: its body carries the
        next candidates of the optional fields; a path parameter the target does not name
        comes from the link of an earlier turn (its `index`-th)."""
        path: dict[str, Any] = {}
        needs: tuple[str, ...] = ()
        own = self.target.resources("own")
        source = self.source(op)
        for parameter in self.recipes.parameters(op, "path"):
            name = parameter["name"]
            if parameter.get("x-somia-resource") in own and (
                source is None or name not in source[1]
            ):
                path[name] = own[parameter["x-somia-resource"]]
            else:
                assert source is not None
                earlier = self.turns[source[0]][index % len(self.turns[source[0]])]
                path[name] = Ref("link", source[1][name], earlier.id)
                needs = (earlier.id,)
        number = self.turns_planned
        self.turns_planned += 1
        when = self.doc.media_rules(op)[media]
        body = turn_body(self.doc, op, number, when, self.target.pipeline_version)
        headers: dict[str, Any] = {}
        key = self.doc.idempotency(op)
        if key is not None:
            headers[key.header] = Ref("key", f"{op.id}/{group}/{slug}")
        request = Request(op.id, path, headers, body=body, accept=accept)
        expect = Expect(200, media=media)
        return self.add(group, op, slug, promise, request, expect, paid=True, needs=needs, **more)

    def when(self, op: Operation, media: str) -> str:
        """The body fields that choose `media` (`x-somia-when`), in words."""
        rules = self.doc.media_rules(op)[media]
        return ", ".join(f"{k}: {v!r}" for k, v in rules.items()) or "any body"

    def accept(self, ops: list[Operation]) -> None:
        """Each answer form of each operation under each `Accept` value a client may send,
        beyond the media turns: first one turn for each (form, Accept) pair no media turn
        tried, the operations taking turns; then, as spares, the other operations."""
        pool, tried = self.accepts
        pairs = {(media, accept) for _, media, accept in tried}
        runnable = self.runnable(ops)
        required: list[tuple[Operation, str, str | None]] = []
        spare: list[tuple[Operation, str, str | None]] = []
        for accept in pool.values:
            for media in dict.fromkeys(m for op in runnable for m in self.doc.media_rules(op)):
                having = [op for op in runnable if media in self.doc.media_rules(op)]
                shift = sum(m == media for _, m, _ in required) % len(having)
                for op in having[shift:] + having[:shift]:
                    if (op.id, media, accept) in tried:
                        continue
                    if (media, accept) in pairs:
                        spare.append((op, media, accept))
                    else:
                        pairs.add((media, accept))
                        required.append((op, media, accept))
        for number, (op, media, accept) in enumerate(required + spare):
            names = [part.split("/")[-1].replace("*", "any") for part in (accept or "").split(", ")]
            slug = f"{media.split('/')[-1]}-under-{'+'.join(names) if accept else 'none'}"
            promise = f"a valid turn ({self.when(op, media)}) is answered {media} under Accept: "
            promise += accept or "(none)"
            self.turn(
                "accept", op, slug, promise, media, accept, number, spare=number >= len(required)
            )

    def runnable(self, ops: list[Operation]) -> list[Operation]:
        """The operations with a 200 to provoke, those a link feeds after their sources."""
        done: list[Operation] = []
        waiting = [op for op in ops if self.doc.media_rules(op)]
        while waiting:
            ready = [op for op in waiting if self.source(op, done) is not False]
            if not ready:
                for op in waiting:
                    self.row(
                        "media",
                        op,
                        "turns",
                        "answers a valid turn",
                        "a path parameter that no link of the document gives and the target "
                        "does not name",
                    )
                break
            done.append(ready[0])
            waiting.remove(ready[0])
        return done

    def source(self, op: Operation, done: list[Operation] | None = None) -> Any:
        """(the operation whose answer's link gives `op` its parameters, their expressions);
        None when the target names them all; False when nothing gives them (yet)."""
        own = self.target.resources("own")
        missing = {
            p["name"]
            for p in self.recipes.parameters(op, "path")
            if p.get("x-somia-resource") not in own
        }
        if not missing:
            return None
        candidates = self.doc.operations() if done is None else done
        for earlier in candidates:
            for link in self.doc.responses(earlier).get(200, {}).get("links", {}).values():
                link = self.doc.resolve(link)
                if link.get("operationId") == op.id and missing <= set(link.get("parameters", {})):
                    return earlier.id, dict(link["parameters"])
        return False

    # idempotency

    def idempotency(self, op: Operation) -> None:
        key = self.doc.idempotency(op)
        turns = self.turns.get(op.id, [])
        if key is None:
            return
        if not turns:
            self.row(
                "idempotency",
                op,
                "replay",
                "replays a request sent again with its key",
                "no paid turn of this operation could be planned",
            )
            return
        first = turns[0]
        accept = self.accepts[0].take(first.expect.media or "")
        replay = self.add(
            "idempotency",
            op,
            "replay",
            f"the same request again with its key (Accept: {accept or '(none)'}) replays the "
            "stored answer",
            first.request.with_(accept=accept),
            Expect(200, media=first.expect.media, replay_of=first.id),
            paid=True,
            needs=(first.id,),
        )
        conflict = self.status("idempotency-conflict")
        if conflict is None:
            self.row(
                "idempotency",
                op,
                "conflict",
                "refuses a key reused with another request",
                "x-somia-refusals names no idempotency-conflict rule",
            )
            return
        variants = self.variants(op, first, key.same_request)
        for slug, what, request, expect, needs in variants:
            self.add(
                "idempotency",
                op,
                slug,
                f"the key of a turn sent again {what} is answered {expect.status}",
                request,
                expect,
                needs=(first.id, replay.id, *needs),
                # Another body tells a deployment that ignores keys from one that keeps them
                # but runs a repeat again; the other variants are sent only when keys hold.
                when_honoured=None if slug == "other-body" else replay.id,
                tells_honour=replay.id if slug == "other-body" else None,
            )

    def variants(
        self, op: Operation, first: Probe, same: tuple[str, ...]
    ) -> list[tuple[str, str, Request, Expect, tuple[str, ...]]]:
        conflict = Expect(self.recipes.status["idempotency-conflict"], "idempotency-conflict")
        found: list[Variant] = []
        if "body" in same:
            found.append(
                (
                    "other-body",
                    "with another body",
                    first.request.with_(body=another_body(self.doc, op, first.request.body)),
                    conflict,
                    (),
                )
            )
        if "path" in same:
            for parameter in self.recipes.parameters(op, "path"):
                found += self.other_path(op, first, parameter, conflict)
        if "operation" in same:
            for other in self.doc.operations():
                key = self.doc.idempotency(other)
                if other.id == op.id or key is None or not self.turns.get(other.id):
                    continue
                turn = self.turns[other.id][0]
                path = dict(turn.request.path)
                needs = turn.needs
                source = self.source(other)
                if source and source[0] == op.id:  # continue what `first` made
                    path = {
                        name: Ref("link", source[1][name], first.id) if name in source[1] else value
                        for name, value in path.items()
                    }
                    needs = ()
                request = first.request.with_(operation=other.id, path=path)
                found.append(
                    (f"other-operation-{other.id}", f"to {other.id}", request, conflict, needs)
                )
        return found

    def other_path(
        self, op: Operation, first: Probe, parameter: dict[str, Any], conflict: Expect
    ) -> list[tuple[str, str, Request, Expect, tuple[str, ...]]]:
        name = parameter["name"]
        value = first.request.path.get(name)
        resource = parameter.get("x-somia-resource")
        if resource not in self.target.resources("own") and isinstance(value, Ref):
            others = [t for t in self.turns.get(self.source(op)[0], []) if t.id != value.probe]
            if not others:
                self.row(
                    "idempotency",
                    op,
                    f"other-{name}",
                    f"refuses the key with another {name}",
                    f"needs a second {resource or name} from another paid turn",
                )
                return []
            other: Any = Ref("link", value.name, others[0].id)
            return [
                (
                    f"other-{name}",
                    f"with another {name}",
                    first.request.with_(path={**first.request.path, name: other}),
                    conflict,
                    (others[0].id,),
                )
            ]
        other = self.target.resources("other").get(resource or "")
        if other is None:
            self.row(
                "idempotency",
                op,
                f"other-{name}",
                f"refuses the key with another {name}",
                f"needs another {resource} of the account: set SOMIA_OTHER_AGENT_ID",
            )
            return []
        owned = [p["name"] for p in self.doc.parameters(op) if p.get("x-somia-owner") == name]
        expect = conflict
        if (
            owned
            and self.status("not-found") is not None
            and self.recipes.order["not-found"] < self.recipes.order["idempotency-conflict"]
        ):
            expect = Expect(self.recipes.status["not-found"], "not-found")
        request = first.request.with_(path={**first.request.path, name: other})
        return [(f"other-{name}", f"with another {name} ({other})", request, expect, ())]

    # stream

    def stream(self, op: Operation) -> None:
        rules = self.doc.stream_rules(op)
        streamed = [t for t in self.turns.get(op.id, []) if t.expect.media == EVENT_STREAM]
        if rules is None:
            return
        if not streamed:
            self.row(
                "stream",
                op,
                "rules",
                "keeps the x-somia-stream rules",
                "no streamed turn of this operation could be planned",
            )
            return
        ends = " or ".join(sorted(rules.ends_with))
        self.watch("stream", op, "ends-with", f"a stream ends with an event of kind {ends}")
        for kind, after in rules.followed_by.items():
            allowed = " or ".join(sorted(after)) or "nothing"
            self.watch(
                "stream", op, "followed-by", f"after an event of kind {kind} comes {allowed}", kind
            )
        for name in rules.cumulative:
            self.watch(
                "stream",
                op,
                "cumulative",
                f"each chunk's {name} starts with the previous chunk's",
                name,
            )
        self.watch(
            "stream",
            op,
            "event-data",
            "every event's data is what the document says (a chunk, an error or the end)",
        )
