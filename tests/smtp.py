"""A real SMTP server on 127.0.0.1 (aiosmtpd) that keeps what it receives."""
from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import EmailMessage

from aiosmtpd.controller import Controller


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class _Handler:
    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd API
        msg = email.message_from_bytes(envelope.content, policy=email.policy.default)
        msg["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
        with self.lock:
            self.messages.append(msg)
        return "250 Message accepted for delivery"


class SMTPServer:
    """One per test session, so one per pytest-xdist worker: each has its own port and mailbox."""

    def __init__(self) -> None:
        self.handler = _Handler()
        self._port = _free_port()
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self._port)

    def start(self) -> None:
        # A free port can be taken by another worker between choosing it and binding it: choose again.
        for _ in range(4):
            try:
                self.controller.start()
                return
            except OSError:
                self._port = _free_port()
                self.controller = Controller(self.handler, hostname="127.0.0.1", port=self._port)
        self.controller.start()

    @property
    def port(self) -> int:
        return self._port

    def stop(self) -> None:
        self.controller.stop()

    @property
    def messages(self) -> list[EmailMessage]:
        with self.handler.lock:
            return list(self.handler.messages)

    def clear(self) -> None:
        with self.handler.lock:
            self.handler.messages.clear()

    def to(self, address: str) -> list[EmailMessage]:
        return [m for m in self.messages if address in m["X-Envelope-To"]]
