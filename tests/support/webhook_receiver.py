"""A local webhook receiver: records every delivery and checks its signature the way a receiver
in any language would (HMAC-SHA256 over `<t>.<body>`, recent `t`), without the API's code."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Delivery:
    event_type: str
    body: dict[str, Any]
    signature_ok: bool
    delivery_id: str


def signature_ok(secret: str, header: str, raw: bytes, tolerance: float = 300) -> bool:
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(time.time() - timestamp) > tolerance:
        return False
    expected = hmac.new(secret.encode(), f"{timestamp}.".encode() + raw, hashlib.sha256)
    return hmac.compare_digest(expected.hexdigest(), fields.get("v1", ""))


class WebhookReceiver:
    """Answers `fail_first` requests with 500 (to exercise retries), then 204."""

    def __init__(self, fail_first: int = 0) -> None:
        self.secret = ""
        self.deliveries: list[Delivery] = []
        self.failures_left = fail_first
        self.requests = 0
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                receiver.requests += 1
                if receiver.failures_left > 0:
                    receiver.failures_left -= 1
                    self.send_response(500)
                    self.end_headers()
                    return
                receiver.deliveries.append(
                    Delivery(
                        event_type=self.headers.get("Modstream-Event", ""),
                        body=json.loads(raw),
                        signature_ok=signature_ok(
                            receiver.secret, self.headers.get("Modstream-Signature", ""), raw
                        ),
                        delivery_id=self.headers.get("Modstream-Delivery", ""),
                    )
                )
                self.send_response(204)
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks/modstream"

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.server.shutdown()
        self.server.server_close()
