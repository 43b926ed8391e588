"""Serving the console with uvicorn: in the foreground (the CLI) or on a thread (tests, demo)."""

from __future__ import annotations

import socket
import threading
import time
from typing import Any

import uvicorn

LOOPBACK = "127.0.0.1"


def serve(app: Any, listening: socket.socket) -> None:
    """Serve on a bound socket until interrupted (Ctrl-C)."""
    host, port = listening.getsockname()[:2]
    config = uvicorn.Config(app, host=host, port=port, log_level="warning")
    uvicorn.Server(config).run(sockets=[listening])


class BackgroundServer:
    """The app on a daemon thread, on loopback; port 0 picks a free port.

    with BackgroundServer(app) as server: urlopen(server.url + "/api/executions")
    """

    def __init__(self, app: Any, host: str = LOOPBACK, port: int = 0) -> None:
        config = uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="console", daemon=True)

    @property
    def url(self) -> str:
        host, port = self._server.servers[0].sockets[0].getsockname()[:2]
        return f"http://{host}:{port}"

    def start(self, timeout: float = 10.0) -> BackgroundServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the console server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
