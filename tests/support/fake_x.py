"""A local fake of the parts of X the ingestion uses, served over real HTTP on 127.0.0.1 (a
thread the tests start): OAuth 2.0 authorization with PKCE (S256 checked), the token endpoint
(code exchange; refresh with rotation: a refresh token works once), revocation, `GET
/2/users/me`, and the reverse-chronological home timeline with `since_id`, `max_results`,
`pagination_token`, referenced-tweet expansions, rate-limit headers, scripted 429s and tokens
that expire (401). Every request is recorded, so tests can count them."""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

CLIENT_ID = "fake-x-client"
FIRST_ID = 1_850_000_000_000_000_000
TIMELINE = re.compile(r"^/2/users/(\d+)/timelines/reverse_chronological$")


@dataclass
class FakeTweet:
    id: int
    author_id: str
    text: str
    created_at: datetime
    lang: str | None = "en"
    conversation_id: int | None = None
    referenced: list[tuple[str, int]] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": str(self.id),
            "text": self.text,
            "author_id": self.author_id,
            "created_at": self.created_at.isoformat().replace("+00:00", "Z"),
            "conversation_id": str(self.conversation_id or self.id),
            "edit_history_tweet_ids": [str(self.id)],
        }
        if self.lang:
            body["lang"] = self.lang
        if self.referenced:
            body["referenced_tweets"] = [{"type": t, "id": str(i)} for t, i in self.referenced]
        return body


@dataclass
class Seen:
    at: float
    method: str
    path: str
    status: int
    query: dict[str, str]


class FakeX:
    def __init__(self, *, client_secret: str | None = None, token_lifetime: int = 7200) -> None:
        self.client_secret = client_secret
        self.token_lifetime = token_lifetime
        self.users: dict[str, dict[str, str]] = {}
        self.home: dict[str, list[int]] = {}
        self.tweets: dict[int, FakeTweet] = {}
        self.approver: str | None = None
        self.deny = False
        self._codes: dict[str, tuple[str, str, str, str]] = {}
        self.access: dict[str, tuple[str, float]] = {}
        self.refresh_tokens: dict[str, str] = {}
        self.requests: list[Seen] = []
        self.refreshes = 0
        self.revoked: list[str] = []
        self.window = (180, 900.0)  # requests per window, window seconds (per user)
        self._windows: dict[str, tuple[int, float]] = {}
        self._throttled: list[tuple[float, bool]] = []
        self._next_id = FIRST_ID
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        # Stopping waits for the server's next poll: poll often, so stopping is quick.
        self._thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def __enter__(self) -> FakeX:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    # --- what tests arrange ---------------------------------------------------------------

    def add_user(self, user_id: str, username: str) -> None:
        self.users[user_id] = {"id": user_id, "username": username, "name": username.title()}
        self.home.setdefault(user_id, [])

    def tweet(
        self,
        text: str,
        *,
        author: str = "900",
        home_of: list[str] | None = None,
        lang: str | None = "en",
        reply_to: int | None = None,
        quote: int | None = None,
        retweet_of: int | None = None,
    ) -> int:
        """A new tweet, newest of all, on the home timelines of `home_of` (default: everyone)."""
        with self._lock:
            self._next_id += 1_000 + secrets.randbelow(1_000)  # increasing, not contiguous
            tweet_id = self._next_id
            referenced = [
                (kind, ref)
                for kind, ref in (("replied_to", reply_to), ("quoted", quote),
                                  ("retweeted", retweet_of))
                if ref is not None
            ]  # fmt: skip
            parent = self.tweets.get(reply_to) if reply_to else None
            conversation = (parent.conversation_id or parent.id) if parent else None
            self.tweets[tweet_id] = FakeTweet(
                tweet_id, author, text, datetime.now(UTC), lang, conversation, referenced
            )
            for user in self.users if home_of is None else home_of:
                self.home[user].append(tweet_id)
            return tweet_id

    def throttle(self, times: int = 1, *, reset_in: float = 2.0, retry_after: bool = False) -> None:
        """The next `times` timeline requests answer 429 with a reset `reset_in` seconds away."""
        self._throttled.extend([(reset_in, retry_after)] * times)

    def expire_tokens(self) -> None:
        """Every access token issued so far stops working (refresh tokens still work)."""
        for token, (user, _) in list(self.access.items()):
            self.access[token] = (user, 0.0)

    def timeline_requests(self) -> list[Seen]:
        return [r for r in self.requests if TIMELINE.match(r.path)]

    def authorize(self, url: str) -> str:
        """What a browser does with the authorization URL (the user approves as `approver`):
        the callback URL X redirects to."""
        import httpx

        response = httpx.get(url, follow_redirects=False)
        assert response.status_code == 302, response.text
        return response.headers["location"]

    # --- the server -----------------------------------------------------------------------

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake._serve(self, "GET")

            def do_POST(self) -> None:
                fake._serve(self, "POST")

            def log_message(self, *args: object) -> None:
                pass

        return Handler

    def _serve(self, http: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(http.path)
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        length = int(http.headers.get("Content-Length") or 0)
        form = {k: v[0] for k, v in parse_qs(http.rfile.read(length).decode()).items()}
        with self._lock:
            status, headers, body = self._route(method, parts.path, query, form, http.headers)
            self.requests.append(Seen(time.time(), method, parts.path, status, query))
        payload = b"" if body is None else json.dumps(body).encode()
        http.send_response(status)
        for name, value in headers.items():
            http.send_header(name, value)
        if body is not None:
            http.send_header("Content-Type", "application/json")
        http.send_header("Content-Length", str(len(payload)))
        http.end_headers()
        http.wfile.write(payload)

    def _route(
        self, method: str, path: str, query: dict[str, str], form: dict[str, str], headers: Any
    ) -> tuple[int, dict[str, str], Any]:
        if method == "GET" and path == "/i/oauth2/authorize":
            return self._authorize(query)
        if method == "POST" and path == "/2/oauth2/token":
            return self._token(form, headers)
        if method == "POST" and path == "/2/oauth2/revoke":
            self.access.pop(form.get("token", ""), None)
            self.refresh_tokens.pop(form.get("token", ""), None)
            self.revoked.append(form.get("token", ""))
            return 200, {}, {"revoked": True}
        user = self._bearer(headers)
        if user is None:
            return 401, {}, _problem(401, "Unauthorized")
        if method == "GET" and path == "/2/users/me":
            return 200, {}, {"data": self.users[user]}
        match = TIMELINE.match(path)
        if method == "GET" and match:
            if match.group(1) != user:
                return 403, {}, _problem(403, "Forbidden")
            return self._timeline(user, query)
        return 404, {}, _problem(404, "Not Found")

    def _authorize(self, q: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        wanted = ("response_type", "client_id", "redirect_uri", "state", "code_challenge")
        if any(not q.get(k) for k in wanted) or q["client_id"] != CLIENT_ID:
            return 400, {}, {"error": "invalid_request"}
        if q.get("code_challenge_method") != "S256" or q["response_type"] != "code":
            return 400, {}, {"error": "invalid_request"}
        if self.deny:
            location = (
                f"{q['redirect_uri']}?{urlencode({'error': 'access_denied', 'state': q['state']})}"
            )
            return 302, {"Location": location}, None
        assert self.approver is not None, "set FakeX.approver: who approves"
        code = secrets.token_urlsafe(16)
        self._codes[code] = (q["code_challenge"], q["redirect_uri"], self.approver, q["scope"])
        location = f"{q['redirect_uri']}?{urlencode({'code': code, 'state': q['state']})}"
        return 302, {"Location": location}, None

    def _token(self, form: dict[str, str], headers: Any) -> tuple[int, dict[str, str], Any]:
        if form.get("client_id") != CLIENT_ID:
            return 401, {}, {"error": "unauthorized_client"}
        if self.client_secret is not None:
            basic = base64.b64encode(f"{CLIENT_ID}:{self.client_secret}".encode()).decode()
            if headers.get("Authorization") != f"Basic {basic}":
                return 401, {}, {"error": "unauthorized_client"}
        invalid: tuple[int, dict[str, str], Any] = 400, {}, {
            "error": "invalid_request",
            "error_description": "Value passed for the token was invalid.",
        }  # fmt: skip
        if form.get("grant_type") == "authorization_code":
            found = self._codes.pop(form.get("code", ""), None)
            if found is None:
                return invalid
            challenge, redirect_uri, user, scope = found
            verifier = form.get("code_verifier", "")
            digest = hashlib.sha256(verifier.encode()).digest()
            if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != challenge:
                return invalid
            if form.get("redirect_uri") != redirect_uri:
                return invalid
            return 200, {}, self._issue(user, scope)
        if form.get("grant_type") == "refresh_token":
            owner = self.refresh_tokens.pop(form.get("refresh_token", ""), None)  # rotation
            if owner is None:
                return invalid
            self.refreshes += 1
            return 200, {}, self._issue(owner, "tweet.read users.read follows.read offline.access")
        return 400, {}, {"error": "unsupported_grant_type"}

    def _issue(self, user: str, scope: str) -> dict[str, Any]:
        access, refresh = secrets.token_urlsafe(24), secrets.token_urlsafe(24)
        self.access[access] = (user, time.time() + self.token_lifetime)
        self.refresh_tokens[refresh] = user
        return {
            "token_type": "bearer",
            "expires_in": self.token_lifetime,
            "access_token": access,
            "refresh_token": refresh,
            "scope": scope,
        }

    def _bearer(self, headers: Any) -> str | None:
        value = headers.get("Authorization") or ""
        found = self.access.get(value.removeprefix("Bearer "))
        if found is None or found[1] <= time.time():
            return None
        return found[0]

    def _timeline(self, user: str, q: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        now = time.time()
        if self._throttled:
            reset_in, retry_after = self._throttled.pop(0)
            headers = {
                "x-rate-limit-limit": str(self.window[0]),
                "x-rate-limit-remaining": "0",
                "x-rate-limit-reset": str(math.ceil(now + reset_in)),
            }
            if retry_after:
                headers["retry-after"] = str(math.ceil(reset_in))
            return 429, headers, _problem(429, "Too Many Requests")
        limit, seconds = self.window
        remaining, reset = self._windows.get(user, (limit, now + seconds))
        if reset <= now:
            remaining, reset = limit, now + seconds
        headers = {"x-rate-limit-limit": str(limit), "x-rate-limit-reset": str(math.ceil(reset))}
        if remaining <= 0:
            return 429, headers | {"x-rate-limit-remaining": "0"}, _problem(429, "Too Many")
        self._windows[user] = (remaining - 1, reset)
        headers["x-rate-limit-remaining"] = str(remaining - 1)
        max_results = int(q.get("max_results", "100"))
        if not 1 <= max_results <= 100:
            return 400, headers, _problem(400, "Invalid Request")
        since = int(q["since_id"]) if "since_id" in q else 0
        before = int(q["pagination_token"].removeprefix("p")) if "pagination_token" in q else None
        ids = sorted((i for i in self.home[user] if i > since), reverse=True)
        if before is not None:
            ids = [i for i in ids if i < before]
        page, rest = ids[:max_results], ids[max_results:]
        meta: dict[str, Any] = {"result_count": len(page)}
        if page:
            meta |= {"newest_id": str(page[0]), "oldest_id": str(page[-1])}
        if rest:
            meta["next_token"] = f"p{page[-1]}"
        body: dict[str, Any] = {"meta": meta}
        if page:
            body["data"] = [self.tweets[i].as_json() for i in page]
            if "referenced_tweets.id" in q.get("expansions", ""):
                refs = {r for i in page for _, r in self.tweets[i].referenced if r in self.tweets}
                if refs:
                    body["includes"] = {"tweets": [self.tweets[r].as_json() for r in sorted(refs)]}
        return 200, headers, body


def _problem(status: int, title: str) -> dict[str, Any]:
    return {"title": title, "type": "about:blank", "status": status, "detail": title}
