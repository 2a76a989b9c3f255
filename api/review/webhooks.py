"""Webhooks: per-tenant endpoints that receive actions, notices and (opted in) verdicts and rule
webhooks as signed HTTP POSTs.

A delivery is a row written in the same transaction as the decision it reports, so nothing is
announced that did not happen and nothing that happened goes unannounced (verdicts and rules:
see `api/review/verdict_hooks.py` and `api/review/rule_hooks.py`). `Deliverer` sends due
rows: a 2xx marks one delivered; anything else (an error status, a refused or failed connection)
schedules a retry after `backoff · 2^(attempts-1)` seconds, and after `attempts` tries the row is
dead-lettered (`state = dead`), kept in the delivery log with its last error.

Signature (`Modstream-Signature: t=<unix seconds>,v1=<hex>`): HMAC-SHA256 with the endpoint's
secret over `<t>.<body>`. Receivers recompute it and refuse old timestamps (replays).

The target is fetched through the media fetcher's SSRF guard (`infra.fetch.GuardedTransport`):
only http(s), every resolved address public unless `MODSTREAM_REVIEW_WEBHOOK_ALLOWED_NETWORKS`
grants it, the connection pinned to the vetted address, no redirects followed.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlsplit

import httpcore
import httpx
from pydantic import SecretStr
from sqlalchemy import select
from sqlalchemy.orm import Session

from infra.accounts import AccountsDB
from infra.accounts.review import WebhookDelivery, WebhookEndpoint
from infra.errors import AccountsError, FetchError, InvalidInput, NotFound
from infra.fetch import NETWORK_ERRORS, FetchPolicy, GuardedTransport
from infra.settings import ReviewSettings
from infra.x.cipher import TokenCipher
from schemas.records import Decision

log = logging.getLogger(__name__)

EVENT_TYPES = ("action", "notice", "verdict", "rule")
DEFAULT_EVENTS = ("action", "notice")  # verdicts and rule webhooks: an endpoint opts in
VERDICT = "verdict"
RULE = "rule"
WEBHOOK_NAME = r"^[^\s:]{1,64}$"
"""A rule webhook's name as an endpoint subscribes to it (`rule:<name>`: one token, no spaces)."""
EVENTS_LENGTH = 200  # the `events` column
DECISIONS = tuple(d.value for d in Decision)
PENDING, DELIVERED, DEAD = "pending", "delivered", "dead"
SIGNATURE = "Modstream-Signature"


def cipher(secret_key: SecretStr) -> TokenCipher:
    """Encrypts signing secrets at rest with a key derived from the login secret."""
    raw = hashlib.sha256(b"webhook-secret-key\0" + secret_key.get_secret_value().encode())
    return TokenCipher([base64.urlsafe_b64encode(raw.digest())])


def sign(secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), str(timestamp).encode() + b"." + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify(secret: str, header: str, body: bytes, *, now: float, tolerance: float = 300) -> bool:
    """What a receiver does (Python receivers may import it): the signature matches and its
    timestamp is recent."""
    try:
        fields = dict(part.split("=", 1) for part in header.split(","))
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    return hmac.compare_digest(sign(secret, timestamp, body), header)


def _check_url(url: str) -> None:
    try:
        parts = urlsplit(url)
        host, _ = parts.hostname, parts.port
    except ValueError as exc:
        raise InvalidInput("invalid_url", f"not a URL: {exc}") from exc
    if parts.scheme not in ("http", "https") or not host:
        raise InvalidInput("invalid_url", "a webhook URL is http(s)://host/…")


def stored_events(events: list[str], decisions: list[str], names: list[str] | None = None) -> str:
    """The `events` column: the types, with `verdict` narrowed to `verdict:<decision>` tokens
    when only some decisions are wanted, and `rule` to `rule:<webhook name>` tokens when only
    some of the rules' webhooks are."""
    names = names or []
    unknown = sorted(set(events) - set(EVENT_TYPES))
    if unknown or not events:
        raise InvalidInput("invalid_events", f"events are some of {list(EVENT_TYPES)}")
    if sorted(set(decisions) - set(DECISIONS)):
        raise InvalidInput("invalid_decisions", f"decisions are some of {list(DECISIONS)}")
    if decisions and VERDICT not in events:
        raise InvalidInput("invalid_decisions", "verdict decisions need the 'verdict' event")
    if names and RULE not in events:
        raise InvalidInput("invalid_webhook_names", "webhook names need the 'rule' event")
    if any(not re.fullmatch(WEBHOOK_NAME, n) for n in names):
        raise InvalidInput(
            "invalid_webhook_names", "a webhook name is 1-64 characters without spaces or ':'"
        )
    tokens = set(events)
    if decisions and set(decisions) != set(DECISIONS):
        tokens = (tokens - {VERDICT}) | {f"{VERDICT}:{d}" for d in decisions}
    if names:
        tokens = (tokens - {RULE}) | {f"{RULE}:{n}" for n in names}
    stored = " ".join(sorted(tokens))
    if len(stored) > EVENTS_LENGTH:
        raise InvalidInput(
            "invalid_webhook_names", f"events and names take up to {EVENTS_LENGTH} characters"
        )
    return stored


def event_types(stored: str) -> tuple[list[str], list[str]]:
    """The endpoint's event types and, if narrowed, the verdict decisions it takes."""
    tokens = stored.split()
    decisions = sorted(t.split(":", 1)[1] for t in tokens if t.startswith(f"{VERDICT}:"))
    types = {t.split(":", 1)[0] for t in tokens}
    return sorted(types), decisions


def webhook_names(stored: str) -> list[str]:
    """The rule webhooks an endpoint narrowed `rule` to (empty: all of them, if subscribed)."""
    return sorted(t.split(":", 1)[1] for t in stored.split() if t.startswith(f"{RULE}:"))


def create(
    session: Session,
    tenant: str,
    url: str,
    events: list[str],
    box: TokenCipher,
    decisions: list[str] | None = None,
    names: list[str] | None = None,
) -> tuple[WebhookEndpoint, str]:
    """A new endpoint and its signing secret (shown once)."""
    _check_url(url)
    stored = stored_events(events, decisions or [], names)
    secret = f"whsec_{secrets.token_urlsafe(32)}"
    row = WebhookEndpoint(tenant=tenant, url=url, events=stored, secret=box.encrypt(secret))
    session.add(row)
    session.flush()
    return row, secret


def endpoint(session: Session, tenant: str, ident: int) -> WebhookEndpoint:
    row = session.get(WebhookEndpoint, ident)
    if row is None or row.tenant != tenant:
        raise NotFound("not_found", f"no webhook {ident}")
    return row


def enqueue(
    session: Session, tenant: str, event_type: str, record_id: str, data: dict[str, Any]
) -> int:
    """A delivery of `data` to every active endpoint of the tenant that takes `event_type`."""
    rows = session.scalars(
        select(WebhookEndpoint).where(
            WebhookEndpoint.tenant == tenant, WebhookEndpoint.active.is_(True)
        )
    ).all()
    body = json.dumps({"type": event_type, "id": record_id, "data": data}, sort_keys=True)
    count = 0
    for row in rows:
        if event_type in row.events.split():
            session.add(
                WebhookDelivery(
                    endpoint_id=row.id,
                    tenant=tenant,
                    event_type=event_type,
                    record_id=record_id,
                    body=body,
                )
            )
            count += 1
    return count


class Deliverer:
    """Sends due deliveries until stopped (one per API process; a row is taken by moving its
    `next_at` forward first, so two processes do not send one row at the same moment)."""

    def __init__(self, accounts: AccountsDB, settings: ReviewSettings, box: TokenCipher) -> None:
        self.accounts, self.settings, self.box = accounts, settings, box
        policy = FetchPolicy.build(
            allowed_networks=settings.webhook_allowed_networks,
            timeout=settings.webhook_timeout,
            max_redirects=0,
        )
        self.client = httpx.AsyncClient(
            transport=GuardedTransport(policy), timeout=settings.webhook_timeout,
            follow_redirects=False, trust_env=False,
        )  # fmt: skip
        self._stopping = asyncio.Event()
        self.wakeup = asyncio.Event()

    async def run(self, interval: float = 0.5) -> None:
        while not self._stopping.is_set():
            try:
                due = await asyncio.to_thread(self._take)
                await asyncio.gather(*(self._send(*d) for d in due))
            except AccountsError as exc:
                log.warning("webhook deliveries: %s", exc)
            if not due:
                self.wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wakeup.wait(), interval)

    def _take(self, limit: int = 32) -> list[tuple[int, str, str, str, str]]:
        """Due rows (id, url, secret, event type, body), each leased for a timeout's length."""
        now = datetime.now(UTC)
        with self.accounts.session() as session:
            rows = session.execute(
                select(WebhookDelivery, WebhookEndpoint)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(WebhookDelivery.state == PENDING, WebhookDelivery.next_at <= now)
                .order_by(WebhookDelivery.next_at)
                .limit(limit)
            ).all()
            out = []
            for delivery, target in rows:
                delivery.next_at = now + timedelta(seconds=self.settings.webhook_timeout * 2)
                secret = self.box.decrypt(target.secret)
                out.append((delivery.id, target.url, secret, delivery.event_type, delivery.body))
        return out

    async def _send(self, ident: int, url: str, secret: str, event_type: str, body: str) -> None:
        raw = body.encode()
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "modstream-webhooks/1",
            "Modstream-Event": event_type,
            "Modstream-Delivery": str(ident),
            SIGNATURE: sign(secret, int(time.time()), raw),
        }
        status, error = None, ""
        try:
            async with asyncio.timeout(self.settings.webhook_timeout):
                response = await self.client.post(url, content=raw, headers=headers)
            status = response.status_code
            if not 200 <= status < 300:
                error = f"HTTP {status}"
        except FetchError as exc:  # refused by the SSRF guard, or no address
            error = f"{exc.reason}: {exc.detail}"[:500]
        except (TimeoutError, httpcore.TimeoutException, *NETWORK_ERRORS) as exc:
            error = f"{type(exc).__name__}: {exc}"[:500]
        await asyncio.to_thread(self._record, ident, status, error)

    def _record(self, ident: int, status: int | None, error: str) -> None:
        now = datetime.now(UTC)
        with self.accounts.session() as session:
            row = session.get(WebhookDelivery, ident)
            if row is None:
                return
            row.attempts += 1
            row.last_status, row.last_error = status, error
            if not error:
                row.state, row.delivered_at = DELIVERED, now
            elif row.attempts >= self.settings.webhook_attempts:
                row.state = DEAD
                log.warning(
                    "webhook delivery %d dead after %d tries: %s", ident, row.attempts, error
                )
            else:
                delay = self.settings.webhook_backoff * 2 ** (row.attempts - 1)
                row.next_at = now + timedelta(seconds=delay)

    def stop(self) -> None:
        self._stopping.set()
        self.wakeup.set()

    async def aclose(self) -> None:
        await self.client.aclose()
