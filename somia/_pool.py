"""The HTTP client a Somia client shares with its copies, and what may use it.

A client and its copies (`with_options`) share one `Pool`: the HTTP client (the SDK's own
httpx client, or a caller's httpx or httpx2 one), and with it the connections. Only the
original closes it. After `os.fork()` the child never touches the parent's connections: the
pool of an httpx client the SDK created is replaced on its next use, and the inherited one is
abandoned, never closed (closing could write on a connection the parent still reads from).
Who owns the pool and whether it was inherited are derived (from the pool's maker and
process), not flagged.
"""

from __future__ import annotations

import os
import weakref
from typing import TYPE_CHECKING, Any

from somia._version import __version__

if TYPE_CHECKING:
    from somia._http import Stack

USER_AGENT = f"somia-python/{__version__}"
# Sent by every client, so set on the httpx client the SDK makes: the rest (the key
# first) travels with each request.
SDK_HEADERS = {"User-Agent": USER_AGENT, "Accept": "application/json"}

# httpx clients inherited through a fork: kept, never closed or finalised.
_ABANDONED: list[object] = []


class Pool:
    """An HTTP client shared by a client and its copies.

    `http` is an httpx client or a caller's httpx2 one (`stack` says which), typed Any: each
    client's I/O loop names the kind it sends through.
    """

    __slots__ = ("closed", "http", "loop", "make", "origin", "pid", "stack")

    make: type[Any] | None
    http: Any

    def __init__(self, http: Any, stack: Stack, asynchronous: bool, origin: object) -> None:
        self.stack = stack  # the library it sends through
        # Set: the SDK made it (always with httpx), closes and replaces it.
        self.make = stack.client_type(asynchronous) if http is None else None
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

    def open_http(self, client_closed: bool) -> Any:
        """The HTTP client for a call of a client (closed or not); raises
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

    def close_for(self, client: object) -> Any:
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

    def _new(self) -> Any:
        make: Any = self.make
        return make(headers=SDK_HEADERS)
