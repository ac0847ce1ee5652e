"""The HTTP client a Somia client shares with its copies, and what may use it.

A client and its copies (`with_options`) share one `Pool`: the httpx client, and with it
the connections. Only the original closes it. After `os.fork()` the child never touches
the parent's connections: the pool of an httpx client the SDK created is replaced on its
next use, and the inherited one is abandoned, never closed (closing could write on a
connection the parent still reads from).
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx

from somia._config import USER_AGENT
from somia._errors import ClientClosedError

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

_OWNED: weakref.WeakSet[Pool[Any]] = weakref.WeakSet()
# httpx clients inherited through a fork: kept, never closed or finalised.
_ABANDONED: list[object] = []


def _after_fork_in_child() -> None:
    for pool in list(_OWNED):
        pool.forked = True


if hasattr(os, "register_at_fork"):  # not on Windows, which has no fork
    os.register_at_fork(after_in_child=_after_fork_in_child)


class Pool(Generic[HttpT]):
    """An httpx client shared by a client and its copies."""

    __slots__ = ("__weakref__", "closed", "forked", "http", "loop", "make", "owned")

    make: Callable[..., HttpT]
    http: HttpT

    def __init__(self, http: HttpT | None, make: Callable[..., HttpT]) -> None:
        self.owned = http is None  # the SDK made it: the SDK closes and replaces it
        self.make = make
        self.http = self._new() if http is None else http
        self.closed = False
        self.forked = False  # set in a child process: the connections are the parent's
        self.loop: object = None  # the event loop an async client's connections belong to
        if self.owned:
            _OWNED.add(self)

    def open_http(self, client_closed: bool) -> HttpT:
        """The httpx client for a call of a client (closed or not); raises
        ClientClosedError when there is none to use."""
        if client_closed:
            raise ClientClosedError(
                "this client was closed: create a new one, and close it only once you are "
                "done with it (a `with` block does that)"
            )
        if self.closed:
            raise ClientClosedError(
                "the client this copy was made from (with_options) was closed, and with it "
                "the connections they share: close the original only once its copies are "
                "done, or create a new client"
            )
        if self.forked:  # in a child process: never use the parent's connections
            self.abandon()
            self.http = self._new()
        http = self.http
        if http.is_closed:
            raise ClientClosedError(
                "the http_client given to this client was closed: pass one that stays open "
                "for as long as the client is used"
            )
        return http

    def _new(self) -> HttpT:
        # The SDK's constants, the same for every client: per-client headers (the key
        # first) travel with each request.
        return self.make(headers={"User-Agent": USER_AGENT, "Accept": "application/json"})

    def abandon(self) -> None:
        """Drop the connections inherited through a fork without closing them."""
        _ABANDONED.append(self.http)
        self.forked = False
        self.loop = None
