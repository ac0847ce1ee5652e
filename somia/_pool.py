"""The HTTP client a Somia client shares with its copies, and what may use it.

A client and its copies (`with_options`) share one `Pool`: the httpx client, and with it
the connections. Only the original closes it. After `os.fork()` the child never touches
the parent's connections: the pool of an httpx client the SDK created is replaced on its
next use, and the inherited one is abandoned, never closed (closing could write on a
connection the parent still reads from). Who owns the pool and whether it was inherited are
derived (from the pool's maker and process), not flagged.
"""

from __future__ import annotations

import os
import weakref
from collections.abc import Callable
from typing import Any, Generic, TypeVar

import httpx

from somia._version import __version__

HttpT = TypeVar("HttpT", httpx.Client, httpx.AsyncClient)

USER_AGENT = f"somia-python/{__version__}"
# Sent by every client, so set on the httpx client the SDK makes: the rest (the key
# first) travels with each request.
SDK_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}

# httpx clients inherited through a fork: kept, never closed or finalised.
_ABANDONED: list[object] = []


class Pool(Generic[HttpT]):
    """An httpx client shared by a client and its copies."""

    __slots__ = ("closed", "http", "loop", "make", "origin", "pid")

    make: Callable[..., HttpT] | None
    http: HttpT

    def __init__(self, http: HttpT | None, make: Callable[..., HttpT], origin: object) -> None:
        self.make = make if http is None else None  # set: the SDK made it, closes and replaces it
        self.http = self._new() if http is None else http
        self.origin = weakref.ref(origin)  # the client that made it: only it closes it
        self.pid = os.getpid()  # of the process whose connections these are
        self.closed = False
        self.loop: object = None  # the event loop an async client's connections belong to

    @property
    def owned(self) -> bool:
        """The SDK made this httpx client (not given as `http_client`)."""
        return self.make is not None

    @property
    def forked(self) -> bool:
        """This process is a child of the one that opened the SDK's connections."""
        return self.make is not None and self.pid != os.getpid()

    def is_copy(self, client: object) -> bool:
        """`client` shares this pool as a copy (`with_options`), not as its maker."""
        return self.origin() is not client

    def open_http(self, client_closed: bool) -> HttpT:
        """The httpx client for a call of a client (closed or not); raises
        ClientClosedError when there is none to use."""
        if client_closed or self.closed:
            from somia._errors import ClientClosedError  # the first error loads them
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
            from somia._errors import ClientClosedError

            raise ClientClosedError(
                "the http_client given to this client was closed: pass one that stays open "
                "for as long as the client is used"
            )
        return http

    def close_for(self, client: object) -> HttpT | None:
        """Record that `client` closed; the httpx client it must now close, if any (only
        the maker closes the pool, and only an httpx client the SDK made)."""
        if self.is_copy(client) or self.closed:
            return None
        self.closed = True
        if self.forked:  # the parent's connections: never close them from a child
            self.abandon()
            return None
        return self.http if self.make is not None else None

    def abandon(self) -> None:
        """Drop the connections inherited through a fork without closing them."""
        _ABANDONED.append(self.http)
        self.pid = os.getpid()
        self.loop = None

    def _new(self) -> HttpT:
        make: Any = self.make
        http: HttpT = make(headers=SDK_HEADERS)
        return http
