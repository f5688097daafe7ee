"""A deadline for a whole HTTP request, not just for each read of its socket.

A socket timeout bounds each read: a server sending one byte a second would hold a
request for ever. A `Watch` collects the sockets of one request (through the
handlers below) and `expire` shuts them down when the request's time is up, so
every request ends within its budget whatever the server does. Used by the
channels (comms) and by the trackers; standard library only.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import urllib.request
from typing import Any


class Watch:
    """Shuts the sockets of one request down when its time is up."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self.expired = False

    def add(self, sock: socket.socket) -> None:
        with self._lock:
            self._sockets.append(sock)
            if self.expired:
                _shut(sock)

    def expire(self) -> None:
        with self._lock:
            self.expired = True
            for sock in self._sockets:
                _shut(sock)


def _shut(sock: socket.socket) -> None:
    with contextlib.suppress(OSError):  # already closed
        sock.shutdown(socket.SHUT_RDWR)


class _Watched:
    """A handler mixin: connections it opens register their socket with `watch`."""

    watch: Watch | None = None

    def do_open(self, http_class: Any, req: Any, **kwargs: Any) -> Any:
        watch = self.watch

        class Connection(http_class):  # type: ignore[misc]
            def connect(self) -> None:
                super().connect()
                if watch is not None:
                    watch.add(self.sock)

        return super().do_open(Connection, req, **kwargs)  # type: ignore[misc]


class HTTPHandler(_Watched, urllib.request.HTTPHandler):
    def __init__(self, watch: Watch | None = None) -> None:
        super().__init__()
        self.watch = watch


class HTTPSHandler(_Watched, urllib.request.HTTPSHandler):
    def __init__(self, watch: Watch | None = None, ctx: ssl.SSLContext | None = None) -> None:
        super().__init__(context=ctx)
        self.watch = watch
