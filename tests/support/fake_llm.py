"""A local OpenAI-compatible chat-completions server for rewrite tests: a real HTTP server on a
free loopback port that answers what a test tells it to (a text, an error status, a slow or a
malformed answer) and records every request it gets."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    body: dict[str, Any]


@dataclass
class Behaviour:
    reply: Callable[[dict[str, Any]], str] = lambda body: "A calm and polite post."
    status: int = 200
    delay: float = 0.0
    raw: bytes | None = None  # sent instead of a chat completion


@dataclass
class FakeChat:
    behaviour: Behaviour = field(default_factory=Behaviour)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0

    @property
    def url(self) -> str:
        """The base URL a client is configured with (it appends /chat/completions)."""
        return f"http://127.0.0.1:{self.port}/v1"


@contextlib.contextmanager
def fake_chat() -> Iterator[FakeChat]:
    state = FakeChat()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = json.loads(self.rfile.read(length) or b"{}")
            state.seen.append(Seen(self.path, dict(self.headers.items()), body))
            b = state.behaviour
            if b.delay:
                time.sleep(b.delay)
            if self.path != "/v1/chat/completions":
                payload, status = b'{"error": "not found"}', 404
            elif b.raw is not None:
                payload, status = b.raw, b.status
            elif b.status != 200:
                payload, status = b'{"error": {"message": "failed"}}', b.status
            else:
                status = 200
                payload = json.dumps(
                    {
                        "id": "chatcmpl-1",
                        "object": "chat.completion",
                        "model": body.get("model"),
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": b.reply(body)},
                                "finish_reason": "stop",
                            }
                        ],
                    }
                ).encode()
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    state.port = httpd.server_address[1]
    # Stopping waits for the server's next poll: poll often, so stopping is quick.
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield state
    finally:
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)
