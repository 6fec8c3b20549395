"""The parts of the browser fixtures that tests import: the live server and the mailbox."""

from __future__ import annotations

import socket
import threading
from typing import Any

from _mailbox import Mailbox

__all__ = ["WAIT_MS", "LiveServer", "Mailbox"]

#: How long a browser test waits for an element or an event (ms): long, because the two cores
#: of a CI machine may be busy with other test processes; a wait ends as soon as it is met.
WAIT_MS = 60_000


class LiveServer:
    """uvicorn's Server that says when it is listening (and whether it got there)."""

    def __init__(self, app: Any) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            async def startup(self, sockets: list[socket.socket] | None = None) -> None:
                try:
                    await super().startup(sockets=sockets)
                finally:
                    outer.ready.set()

        outer = self
        self.ready = threading.Event()
        config = uvicorn.Config(app, log_level="warning", lifespan="on", access_log=False)
        self.server = Server(config)
        self.socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.socket.bind(("127.0.0.1", 0))
        host, port = self.socket.getsockname()[:2]
        self.base_url = f"http://{host}:{port}"
        self.thread = threading.Thread(
            target=self.server.run, kwargs={"sockets": [self.socket]}, daemon=True
        )

    def start(self) -> str:
        self.thread.start()
        if not self.ready.wait(WAIT_MS / 1000) or not self.server.started:
            self.stop()
            raise RuntimeError("the support page did not start under uvicorn (see its log)")
        return self.base_url

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(WAIT_MS / 1000)
        self.socket.close()
