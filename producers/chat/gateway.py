"""The chat gateway: a python-socketio ASGI server (Socket.IO over WebSocket or long-polling).

- **Connect** with a login JWT: `auth={"token": "<jwt>"}` (or `Authorization: Bearer`). The
  user (an active user of the token's tenant) is the sender of everything this connection
  sends; a `sender` in a message body is ignored.
- **Client → server** events: `message {to, text}` (ack: `{ok, message_id, status}` or
  `{ok: false, error}`), `typing {to, typing}`, `read {message_id}`, `online` (ack: the users
  of the tenant online now).
- **Server → client** events: `message {message_id, from, text, sent_at, verdict, flagged,
  masked}`, `delivery {message_id, to, status, verdict}` (to the sender: `delivered`, `masked`,
  `flagged`, `withheld`, or `queued` while the receiver is offline; after a reviewer's
  decision `removed`, `restored` or `cleared`), `retract {message_id, reason}` and
  `restore {message_id}` (to the receiver: hide, or show again, a message given before),
  `typing {from, typing}`, `read {message_id, by}`, `presence {user, online}`.

Every message is published to `events.text` as a `chat_message` and held in the message store
until its verdict arrives on `verdicts.text`; then it is delivered (or withheld, masked or
flagged per the tenant's mode), at once or when the receiver next connects. Authors blocked (by
strikes, or by a rule's `block_author`: docs/strikes.md) are refused (`author_blocked`).

A message a live rule holds (`hold DURATION`, docs/rules.md) is given only once its hold has
passed, counted from the verdict (`infra.delivery.visible_after`): its sender is told `held`
(with `visible_after`) meanwhile, and a reviewer's removal in the meantime means it is never
given. The hold lives in the stored verdict, so it survives a gateway restart.

Reviewers' decisions (`moderation.actions`, read by the same consumer) are the effective state,
over the model's: a removal withholds a message still waiting and retracts one given; an
approval or an overturn gives a waiting or withheld one as written and restores a retracted
one (`producers/chat/store.py` has the rules). The text of a message never given is kept for
its appeal window, then erased (hourly).

One module (about 480 lines): the Socket.IO event handlers and the consumer of verdicts and
reviewers' decisions deliver over the same connections and rooms; the delivery rules themselves
live in the store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections import Counter
from collections.abc import Coroutine
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
import socketio
from aiokafka import AIOKafkaConsumer
from aiokafka.errors import KafkaError
from pydantic import ValidationError

from infra.accounts import AccountsDB
from infra.accounts.logins import decode_jwt
from infra.blocks import BlockList
from infra.delivery import mask, outcome_of, verdict_summary, visible_after
from infra.errors import AccountsError, BrokerError
from infra.kafka import Publisher
from infra.settings import AccountsSettings, ChatSettings
from producers.chat.store import (
    Change,
    GroupCommit,
    Held,
    Judgement,
    Message,
    MessageStore,
    Ruling,
)
from schemas.events import MAX_TEXT_CHARS, ChatMessage, ChatMessageEvent, Kind
from schemas.moderation import REASONS, Effect, ModerationAction
from schemas.records import Verdict
from schemas.topics import CHAT_GROUP, EVENTS_TEXT, MODERATION_ACTIONS, READERS, VERDICTS_TEXT

log = logging.getLogger(__name__)

SOURCE = "chat"
MAX_CHAT_CHARS = min(MAX_TEXT_CHARS, 10_000)
ERASE_EVERY = 3_600.0
"""Seconds between sweeps erasing the texts of messages never given whose appeal window passed."""


def _room(tenant: str, user: str) -> str:
    return f"{tenant}\x00{user}"


class ChatGateway:
    def __init__(
        self,
        settings: ChatSettings,
        logins: AccountsSettings,
        bootstrap: str,
        accounts: AccountsDB,
        appeal_window: timedelta = timedelta(days=183),
    ) -> None:
        """`logins` verify the login tokens users connect with; `accounts` is the store; the
        text of a message never given is kept for `appeal_window`."""
        self.settings = settings
        self.logins = logins
        self.bootstrap = bootstrap
        self.store = MessageStore(accounts, keep=appeal_window)
        self._adds: GroupCommit[Message] = GroupCommit(self.store.add_many)
        self._deliveries: GroupCommit[tuple[str, str]] = GroupCommit(self.store.delivered_many)
        self.blocks = BlockList(bootstrap)
        self._publisher: Publisher | None = None  # aiokafka wants the server's loop: in start()
        self.online: Counter[tuple[str, str]] = Counter()
        self.ready = asyncio.Event()
        self._consumer_task: asyncio.Task[None] | None = None
        self._eraser: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._releases: dict[tuple[str, str], datetime] = {}  # receiver → next hold to end
        self.sio = socketio.AsyncServer(
            async_mode="asgi", cors_allowed_origins="*", logger=False, engineio_logger=False
        )
        self.asgi = socketio.ASGIApp(self.sio, on_startup=self.start, on_shutdown=self.stop)
        self.sio.on("connect", self._connect)
        self.sio.on("disconnect", self._disconnect)
        self.sio.on("message", self._message)
        self.sio.on("typing", self._typing)
        self.sio.on("read", self._read)
        self.sio.on("online", self._online)

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def publisher(self) -> Publisher:
        assert self._publisher is not None, "the gateway is not started"
        return self._publisher

    async def start(self) -> None:
        self._publisher = Publisher(self.bootstrap, linger_ms=0)
        await self._publisher.start()
        await self.blocks.start()
        self._consumer_task = asyncio.create_task(self._follow_verdicts(), name="chat-verdicts")
        self._eraser = asyncio.create_task(self._erase_expired(), name="chat-erase")
        with contextlib.suppress(TimeoutError):  # the group join; messages wait, never lost
            await asyncio.wait_for(self.ready.wait(), 30)
        log.info("chat gateway ready")

    async def stop(self) -> None:
        for task in (self._consumer_task, self._eraser):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, BrokerError):
                    await task
        await self.blocks.stop()
        if self._publisher is not None:
            await self._publisher.stop()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run `work` beside the handlers, keeping a reference until it ends."""
        task = asyncio.create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _erase_expired(self) -> None:
        while True:
            try:
                erased = await asyncio.to_thread(self.store.erase_expired)
                if erased:
                    log.info("erased the texts of %d messages past their appeal window", erased)
            except AccountsError:
                log.exception("could not erase expired message texts")
            await asyncio.sleep(ERASE_EVERY)

    # --- connections ----------------------------------------------------------------------

    async def _connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        token = auth.get("token") if isinstance(auth, dict) else None
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not token and header.lower().startswith("bearer "):
            token = header[7:].strip()
        if not isinstance(token, str) or not token:
            raise socketio.exceptions.ConnectionRefusedError("unauthenticated")
        try:
            claims = decode_jwt(self.logins, token)
            user_id, tenant, jti = int(claims["sub"]), str(claims["tid"]), str(claims["jti"])
        except (jwt.InvalidTokenError, KeyError, ValueError) as exc:
            raise socketio.exceptions.ConnectionRefusedError("invalid_token") from exc
        user = await asyncio.to_thread(self.store.user_of, user_id, tenant, jti)
        if user is None:
            raise socketio.exceptions.ConnectionRefusedError("invalid_token")
        await self.sio.save_session(sid, {"tenant": tenant, "user": user})
        await self.sio.enter_room(sid, _room(tenant, user))
        await self.sio.enter_room(sid, tenant)
        self.online[(tenant, user)] += 1
        if self.online[(tenant, user)] == 1:
            await self.sio.emit(
                "presence", {"user": user, "online": True}, room=tenant, skip_sid=sid
            )
        self._spawn(self._deliver_waiting(tenant, user))

    async def _disconnect(self, sid: str, *_: Any) -> None:
        with contextlib.suppress(KeyError):
            session = await self.sio.get_session(sid)
            key = (session["tenant"], session["user"])
            self.online[key] -= 1
            if self.online[key] <= 0:
                del self.online[key]
                await self.sio.emit(
                    "presence", {"user": key[1], "online": False}, room=session["tenant"]
                )

    async def _who(self, sid: str) -> tuple[str, str]:
        session = await self.sio.get_session(sid)
        return session["tenant"], session["user"]

    # --- client events --------------------------------------------------------------------

    async def _message(self, sid: str, data: Any) -> dict[str, Any]:
        tenant, user = await self._who(sid)
        if not isinstance(data, dict):
            return {"ok": False, "error": "invalid_message", "detail": "send {to, text}"}
        to, text = data.get("to"), data.get("text")
        if not isinstance(to, str) or not to or not isinstance(text, str) or not text.strip():
            return {"ok": False, "error": "invalid_message", "detail": "send {to, text}"}
        if len(text) > MAX_CHAT_CHARS:
            return {"ok": False, "error": "too_long", "detail": f"at most {MAX_CHAT_CHARS}"}
        if self.blocks.blocked(tenant, user) is not None:
            return {"ok": False, "error": "author_blocked", "detail": "blocked (strikes or a rule)"}
        try:
            if not await asyncio.to_thread(self.store.user_exists, tenant, to):
                return {"ok": False, "error": "unknown_receiver", "detail": to}
            event_id = f"chat-{uuid.uuid4().hex}"
            event = ChatMessageEvent(
                event_id=event_id, tenant=tenant, source=SOURCE, occurred_at=datetime.now(UTC),
                payload=ChatMessage(message_id=event_id, sender=user, receiver=to, text=text),
            )  # fmt: skip
            await self._adds.submit(Message(tenant, event_id, user, to, text))
            await self.publisher.publish_many(
                EVENTS_TEXT.name, [(event.partition_key, event.model_dump_json().encode())]
            )
        except ValidationError as exc:
            return {"ok": False, "error": "invalid_message", "detail": str(exc)[:300]}
        except (AccountsError, BrokerError) as exc:
            log.warning("chat message not accepted: %s", exc)
            return {"ok": False, "error": "unavailable", "detail": "try again"}
        return {"ok": True, "message_id": event_id, "status": "judging"}

    async def _typing(self, sid: str, data: Any) -> None:
        tenant, user = await self._who(sid)
        if isinstance(data, dict) and isinstance(data.get("to"), str):
            payload = {"from": user, "typing": bool(data.get("typing", True))}
            await self.sio.emit("typing", payload, room=_room(tenant, data["to"]))

    async def _read(self, sid: str, data: Any) -> dict[str, Any]:
        tenant, user = await self._who(sid)
        message_id = data.get("message_id") if isinstance(data, dict) else None
        if not isinstance(message_id, str):
            return {"ok": False, "error": "invalid_receipt"}
        sender = await asyncio.to_thread(self.store.mark_read, tenant, user, message_id)
        if sender is None:
            return {"ok": False, "error": "unknown_message"}
        await self.sio.emit(
            "read", {"message_id": message_id, "by": user}, room=_room(tenant, sender)
        )
        return {"ok": True}

    async def _online(self, sid: str, *_: Any) -> list[str]:
        tenant, _user = await self._who(sid)
        return sorted(u for (t, u) in self.online if t == tenant)

    # --- verdicts -------------------------------------------------------------------------

    async def _follow_verdicts(self) -> None:
        consumer = AIOKafkaConsumer(
            *READERS[CHAT_GROUP],  # verdicts.text and moderation.actions
            bootstrap_servers=self.bootstrap,
            group_id=CHAT_GROUP,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            fetch_max_wait_ms=20,
            session_timeout_ms=10_000,
            heartbeat_interval_ms=1_000,
        )
        try:
            await consumer.start()
            while True:
                batch = await consumer.getmany(timeout_ms=200, max_records=1_000)
                if not self.ready.is_set() and consumer.assignment():
                    self.ready.set()
                chats = [
                    (r.topic, r.value) for records in batch.values() for r in records
                    if r.value and b'"chat_message"' in r.value
                ]  # fmt: skip
                await self._on_verdicts([v for t, v in chats if t == VERDICTS_TEXT.name])
                await self._on_actions([v for t, v in chats if t == MODERATION_ACTIONS.name])
                if batch:
                    await consumer.commit()
        except KafkaError as exc:
            raise BrokerError(f"chat gateway lost the verdict topic: {exc}") from exc
        finally:
            await consumer.stop()

    async def _on_verdicts(self, raws: list[bytes]) -> None:
        """Record a consumer batch's chat verdicts, deliver what may be, tell the senders. The
        store is written twice per batch, not twice per message."""
        verdicts: list[Verdict] = []
        for raw in raws:
            try:
                verdict = Verdict.model_validate_json(raw)
            except ValidationError:
                continue  # the sink dead-letters it
            if verdict.kind == Kind.CHAT_MESSAGE and verdict.source == SOURCE:
                verdicts.append(verdict)
        if not verdicts:
            return
        outcomes = [
            outcome_of(v, self.settings.modes.get(v.tenant, self.settings.mode)) for v in verdicts
        ]
        helds = await asyncio.to_thread(
            self.store.judged_many,
            [Judgement(v.tenant, v.event_id, o, v.model_dump_json())
             for v, o in zip(verdicts, outcomes, strict=True)],
        )  # fmt: skip
        notices: list[tuple[Verdict, Held, str]] = []
        given: list[tuple[Verdict, Held]] = []
        now = datetime.now(UTC)
        for verdict, held in zip(verdicts, helds, strict=True):
            if held is None:
                continue  # not this gateway's, or a repeated verdict
            status = held.outcome or "delivered"  # a reviewer may have decided first
            until = visible_after(verdict)
            if status != "withheld" and until is not None and until > now:
                status = "held"  # waits in the store; given when the hold has passed
                self._release_at(verdict.tenant, held.receiver, until)
            elif status != "withheld":
                if (verdict.tenant, held.receiver) in self.online:
                    given.append((verdict, held))
                else:
                    status = "queued"
            notices.append((verdict, held, status))
        await asyncio.gather(*(self._give(v.tenant, h, v) for v, h in given))
        # Off the consumer loop: the next batch's receivers need not wait for this bookkeeping.
        self._spawn(self._tell_senders([(v.tenant, h.event_id) for v, h in given], notices))

    async def _on_actions(self, raws: list[bytes]) -> None:
        """Apply reviewers' decisions on chat messages: tell the receivers online what to hide
        or show again, and the senders what became of their messages."""
        rulings: list[Ruling] = []
        reasons: dict[tuple[str, str], str] = {}
        for raw in raws:
            try:
                action = ModerationAction.model_validate_json(raw)
            except ValidationError:
                continue  # the sink dead-letters it
            if action.kind != Kind.CHAT_MESSAGE or action.effect == Effect.NONE:
                continue
            removed = action.effect == Effect.REMOVED
            rulings.append(Ruling(action.tenant, action.event_id, removed, action.reason))
            reasons[(action.tenant, action.event_id)] = action.reason
        if not rulings:
            return
        changes = await asyncio.to_thread(self.store.ruled_many, rulings, frozenset(self.online))
        await asyncio.gather(*(self._tell_ruling(c, reasons[(c.tenant, c.event_id)])
                               for c in changes))  # fmt: skip
        for tenant, receiver in {(c.tenant, c.receiver) for c in changes if c.waiting}:
            if (tenant, receiver) in self.online:  # given now, as on connecting
                self._spawn(self._deliver_waiting(tenant, receiver))

    async def _tell_ruling(self, change: Change, reason: str) -> None:
        if change.receiver_event is not None:
            await self.sio.emit(
                change.receiver_event,
                await self._ruling_payload(
                    change.tenant, change.event_id, change.receiver_event, reason
                ),
                room=_room(change.tenant, change.receiver),
            )
        await self.sio.emit(
            "delivery",
            {"message_id": change.event_id, "to": change.receiver,
             "status": change.sender_status, "verdict": None},
            room=_room(change.tenant, change.sender),
        )  # fmt: skip

    async def _ruling_payload(
        self, tenant: str, event_id: str, event: str, reason: str | None
    ) -> dict[str, Any]:
        """`restore {message_id}`, or `retract {message_id, reason}` with the title of the
        reason in the tenant's taxonomy."""
        if event != "retract":
            return {"message_id": event_id}
        found = REASONS.get(reason or "")
        title = found.title if found else None
        if title is None and reason:  # a reason of the tenant's own
            title = await asyncio.to_thread(self.store.reason_title, tenant, reason)
        return {"message_id": event_id, "reason": title or "removed by a reviewer"}

    async def _tell_senders(
        self, given: list[tuple[str, str]], notices: list[tuple[Verdict, Held, str]]
    ) -> None:
        """Mark what was given as delivered, then tell the senders. Until it is marked, a
        message is redelivered when its receiver next connects (at least once)."""
        try:
            await self._deliveries.submit(*given)
        except AccountsError:
            log.exception("could not mark %d messages delivered", len(given))
        await asyncio.gather(*(
            self.sio.emit(
                "delivery",
                {"message_id": held.event_id, "to": held.receiver, "status": status,
                 "verdict": verdict_summary(verdict)} | _hold_of(verdict, status),
                room=_room(verdict.tenant, held.sender),
            )
            for verdict, held, status in notices
        ))  # fmt: skip

    async def _give(self, tenant: str, held: Held, verdict: Verdict) -> None:
        masked = held.outcome == "masked"
        await self.sio.emit(
            "message",
            {
                "message_id": held.event_id,
                "from": held.sender,
                "text": mask(held.text, verdict.spans) if masked else held.text,
                "sent_at": held.sent_at.isoformat(),
                "verdict": verdict_summary(verdict),
                "flagged": held.outcome == "flagged",
                "masked": masked,
            },
            room=_room(tenant, held.receiver),
        )

    async def _deliver_waiting(self, tenant: str, user: str) -> None:
        """On connect: messages judged while this user was offline, then tell their senders."""
        try:
            waiting = []
            now = datetime.now(UTC)
            for held in await asyncio.to_thread(self.store.waiting_for, tenant, user):
                verdict = Verdict.model_validate_json(held.verdict or "{}")
                until = visible_after(verdict)
                if until is not None and until > now:  # still held: given when it has passed
                    self._release_at(tenant, user, until)
                    continue
                await self._give(tenant, held, verdict)
                waiting.append(held)
            if waiting:
                await asyncio.to_thread(self.store.delivered, tenant, [h.event_id for h in waiting])
            for owed in await asyncio.to_thread(self.store.owed_to, tenant, user):
                await self.sio.emit(
                    owed.event,
                    await self._ruling_payload(tenant, owed.event_id, owed.event, owed.reason),
                    room=_room(tenant, user),
                )
            for held in waiting:
                await self.sio.emit(
                    "delivery",
                    {"message_id": held.event_id, "to": user, "status": held.outcome,
                     "verdict": None},
                    room=_room(tenant, held.sender),
                )  # fmt: skip
        except (AccountsError, ValidationError):
            log.exception("could not deliver waiting messages to %s", user)

    def _release_at(self, tenant: str, receiver: str, until: datetime) -> None:
        """Give the receiver's held messages once `until` has passed (one timer per receiver:
        the earliest; each release sets the next)."""
        key = (tenant, receiver)
        pending = self._releases.get(key)
        if pending is not None and pending <= until:
            return
        self._releases[key] = until
        self._spawn(self._release(key, until))

    async def _release(self, key: tuple[str, str], until: datetime) -> None:
        await asyncio.sleep(max((until - datetime.now(UTC)).total_seconds(), 0.0))
        if self._releases.get(key) != until:
            return  # an earlier release took over, and set what follows
        del self._releases[key]
        if key in self.online:  # an offline receiver is given it on connecting
            await self._deliver_waiting(*key)


def _hold_of(verdict: Verdict, status: str) -> dict[str, Any]:
    """`visible_after` for a sender told its message is held."""
    until = visible_after(verdict) if status == "held" else None
    return {"visible_after": until.isoformat()} if until is not None else {}
