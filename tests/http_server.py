"""A WSGI application served over real HTTP on 127.0.0.1 from a thread of the test process: the portal
for the browser, and the fake LMS, OneRoster service, time-stamping authority and trap servers."""
from __future__ import annotations

import threading

from werkzeug.serving import make_server


class ThreadedServer:
    #: How often the serving thread looks for a request to stop (socketserver's default, 0.5 s, made every
    #: stop wait up to half a second; the servers here are stopped after nearly every test that starts one).
    POLL_INTERVAL = 0.02

    def __init__(self, app, port: int = 0) -> None:
        self.server = make_server("127.0.0.1", port, app, threaded=True)
        self.port = self.server.server_port
        self.thread = threading.Thread(target=self.server.serve_forever, args=(self.POLL_INTERVAL,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.thread.join(5)
        self.server.server_close()
