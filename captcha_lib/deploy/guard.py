"""What keeps the service answering when clients misbehave, below FastAPI: connections.

uvicorn closes a keep-alive connection that idles after a response, but it waits forever
for a connection that sends nothing, or a header a byte a minute, or half a body: each
holds a socket, and a few thousand exhaust the file handles (a "slowloris" attack).
`guarded_protocol` subclasses uvicorn's h11 protocol with two limits:

* a deadline: every request must arrive whole (headers and body) within
  `request_timeout` seconds of the connection opening or the previous response; a request
  that is in, and being read by the model, is never cut;
* a cap on open connections: one over `max_connections` is closed at once.

uvicorn's own settings do the rest (serve.py): `limit_concurrency` answers 503 beyond
that many requests in progress, `timeout_keep_alive` closes idle keep-alive connections,
`h11_max_incomplete_event_size` caps a request's header bytes.
"""

from __future__ import annotations

from uvicorn.protocols.http.h11_impl import H11Protocol

from ..defaults import MAX_CONNECTIONS, REQUEST_TIMEOUT


class GuardedH11Protocol(H11Protocol):
    request_timeout = REQUEST_TIMEOUT
    max_connections = MAX_CONNECTIONS

    def connection_made(self, transport) -> None:
        super().connection_made(transport)
        self._deadline = None
        if len(self.server_state.connections) > self.max_connections:
            self.transport.close()  # over the cap: no response, the socket is freed at once
            return
        self._arm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        self._arm()  # the next request on this connection has its own deadline

    def connection_lost(self, exc) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
        self._deadline = self.loop.call_later(self.request_timeout, self._on_deadline)

    def _on_deadline(self) -> None:
        cycle = self.cycle
        if cycle is not None and not cycle.more_body and not cycle.response_complete:
            self._arm()  # the whole request is in and being answered: look again later
        elif not self.transport.is_closing():
            self.transport.close()


def guarded_protocol(request_timeout: float = REQUEST_TIMEOUT, max_connections: int = MAX_CONNECTIONS) -> type:
    """The protocol class with these limits, for `uvicorn.Config(http=...)`."""
    return type("GuardedH11Protocol", (GuardedH11Protocol,),
                {"request_timeout": request_timeout, "max_connections": max_connections})
