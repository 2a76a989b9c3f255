"""One poll of one connected X account, shared by the poller (`modstream x-poll`) and the API's
preview: refresh the access token if it expires within the margin, page through the home
timeline since the checkpoint, publish each new tweet as a `post` event, and move the checkpoint
only after the broker acknowledged every one of them.

A crash between publishing and the checkpoint publishes those tweets again on the next poll,
under the same event ids: downstream that is one item (the worker skips judged items, the
warehouse keeps one row per event id). Outcomes are recorded on the account: the checkpoint and
counts, or the error, when to try again (a rate-limit reset; an exponential back-off after
errors), or that X refused the tokens (`reauthorize`: the operator connects it again).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from infra.accounts.models import XAccount
from infra.errors import BrokerError, ConfigError, InvalidEvent
from infra.kafka import Publisher
from infra.settings import XSettings
from infra.x.cipher import TokenCipher
from infra.x.client import TokenSet, Tweet, XClient
from infra.x.errors import XAuthError, XError, XRateLimited
from infra.x.store import ACTIVE, EncryptedTokens, XAccounts
from infra.x.tweets import post_event
from schemas.events import Kind
from schemas.topics import topic_for_kind

log = logging.getLogger(__name__)

MAX_BACKOFF = 3600.0


@dataclass
class PollResult:
    account_id: int
    fetched: int = 0
    pages: int = 0
    event_ids: list[str] = field(default_factory=list)  # published, oldest first
    skipped: int = 0
    truncated: bool = False
    since_id: int | None = None

    @property
    def new(self) -> int:
        return len(self.event_ids)


def encrypt_tokens(cipher: TokenCipher, tokens: TokenSet) -> EncryptedTokens:
    return EncryptedTokens(
        access=cipher.encrypt(tokens.access_token),
        refresh=cipher.encrypt(tokens.refresh_token) if tokens.refresh_token else None,
        expires_at=datetime.now(UTC) + timedelta(seconds=tokens.expires_in),
        scopes=tokens.scope,
    )


class XPoll:
    def __init__(
        self,
        settings: XSettings,
        store: XAccounts,
        client: XClient,
        publisher: Publisher,
        cipher: TokenCipher,
    ) -> None:
        self.settings = settings
        self.store = store
        self.client = client
        self.publisher = publisher
        self.cipher = cipher

    async def poll(self, account_id: int, *, max_wait: float) -> PollResult:
        """Poll the account once. Raises what stopped it (`XRateLimited`, `XAuthError`,
        `XError`, `BrokerError`, `ConfigError`) after recording it on the account."""
        account = await asyncio.to_thread(self.store.get, account_id)
        if account is None or account.status != ACTIVE:
            raise XAuthError(f"X account {account_id} is not connected")
        limited = account.rate_limited_until
        if limited is not None and limited > datetime.now(UTC):
            raise XRateLimited("timeline", limited.timestamp())  # known already: do not ask
        try:
            return await self._poll(account, max_wait)
        except XRateLimited as exc:
            until = datetime.fromtimestamp(exc.retry_at, UTC)
            await asyncio.to_thread(self.store.rate_limited, account_id, until)
            raise
        except XAuthError as exc:
            await asyncio.to_thread(self.store.reauthorize, account_id, str(exc))
            raise
        except (XError, BrokerError, ConfigError) as exc:  # ConfigError: a token key removed
            delay = min(MAX_BACKOFF, self.settings.poll_interval * 2 ** (account.failures + 1))
            retry_at = datetime.now(UTC) + timedelta(seconds=delay)
            await asyncio.to_thread(self.store.failed, account_id, str(exc), retry_at)
            raise

    async def _poll(self, account: XAccount, max_wait: float) -> PollResult:
        token = await self.access_token(account, max_wait=max_wait)
        result = PollResult(account.id, since_id=account.since_id)
        try:
            tweets, included = await self._fetch(account, token, result, max_wait)
        except XAuthError:
            # Refused before its expiry (revoked, or clocks apart): refresh once and retry.
            log.info("X refused the access token of @%s; refreshing", account.username)
            fresh = await asyncio.to_thread(self.store.get, account.id)
            if fresh is None:
                raise
            token = await self.access_token(fresh, max_wait=max_wait, force=True)
            result = PollResult(account.id, since_id=account.since_id)
            tweets, included = await self._fetch(account, token, result, max_wait)
        events = []
        for tweet in sorted(tweets.values(), key=lambda t: int(t.id)):  # oldest first
            try:
                events.append(post_event(account.tenant, tweet, included))
            except InvalidEvent as exc:
                result.skipped += 1
                log.warning("X tweet not published: %s", exc)
        if events:
            topic = topic_for_kind(Kind.POST).name
            await self.publisher.publish_many(
                topic, [(e.partition_key, e.model_dump_json().encode()) for e in events]
            )
        newest = max((int(t) for t in tweets), default=None)
        await asyncio.to_thread(self.store.advance, account.id, newest, len(events))
        result.event_ids = [e.event_id for e in events]
        result.since_id = max(newest or 0, account.since_id or 0) or None
        log.info(
            "X @%s: %d fetched, %d published, %d skipped in %d page(s)",
            account.username, result.fetched, result.new, result.skipped, result.pages,
        )  # fmt: skip
        return result

    async def _fetch(
        self, account: XAccount, token: str, result: PollResult, max_wait: float
    ) -> tuple[dict[str, Tweet], dict[str, Tweet]]:
        """Every tweet newer than the checkpoint (at most `x_max_pages` pages), and the
        referenced tweets X included."""
        tweets: dict[str, Tweet] = {}
        included: dict[str, Tweet] = {}
        next_token: str | None = None
        while result.pages < self.settings.max_pages:
            page = await self.client.home_timeline(
                token, account.x_user_id, since_id=account.since_id, pagination_token=next_token,
                max_results=self.settings.page_size, max_wait=max_wait,
            )  # fmt: skip
            result.pages += 1
            result.fetched += len(page.data)
            for tweet in page.data:
                if account.since_id is None or int(tweet.id) > account.since_id:
                    tweets[tweet.id] = tweet
            included.update((t.id, t) for t in page.includes.tweets)
            next_token = page.meta.next_token
            if not next_token or not page.data:
                break
        else:
            result.truncated = True
            log.warning(
                "X @%s: more than %d pages since the last poll; older tweets are skipped",
                account.username, self.settings.max_pages,
            )  # fmt: skip
        return tweets, included

    async def access_token(self, account: XAccount, *, max_wait: float, force: bool = False) -> str:
        """The account's access token, refreshed first if it expires within the margin (or
        `force`). X rotates refresh tokens, so when the poller and the API refresh at once,
        one loses: the loser finds the winner's tokens in the store and uses those."""
        margin = timedelta(seconds=self.settings.refresh_margin)
        if not force and account.expires_at - datetime.now(UTC) > margin:
            return self.cipher.decrypt(account.access_token)
        if account.refresh_token is None:
            raise XAuthError(f"@{account.username} has no refresh token: connect it again")
        try:
            tokens = await self.client.refresh(
                self.cipher.decrypt(account.refresh_token), max_wait=max_wait
            )
        except XAuthError:
            current = await asyncio.to_thread(self.store.get, account.id)
            if current is not None and current.token_version != account.token_version:
                return self.cipher.decrypt(current.access_token)
            raise
        saved = await asyncio.to_thread(
            self.store.replace_tokens, account.id, account.token_version,
            encrypt_tokens(self.cipher, tokens),
        )  # fmt: skip
        if not saved:
            log.info("X @%s: tokens were replaced meanwhile; using ours once", account.username)
        log.info("X @%s: access token refreshed", account.username)
        return tokens.access_token
