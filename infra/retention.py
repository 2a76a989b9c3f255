"""Retention for the durable embedded broker: deleting its record batches from the object store.

The embedded broker's S3 storage writes one object per produced batch and, on every fetch, lists
all the objects of the partition fetched: a fetch costs more the longer the partition (seconds
at tens of thousands of batches). It runs no retention of its own and does not implement
`DeleteRecords`. So the stack deletes batches itself, as a broker with retention would, by two
rules:

- **Time**: a batch older than its topic's `retention_ms` (the catalogue's; -1 keeps forever).
- **Read**: a batch older than `after_read` seconds that every reader has committed past. The
  readers of a topic are the consumer groups with an offset on any of its partitions (read from
  the broker's own records in the store), and the groups of `required` even before their first
  commit (under `modstream up`, the stack's own, `READERS`: the warehouse sink reads every
  topic, so nothing leaves the broker before the warehouse has it). A group that stops reading
  holds its topics' batches back until their retention.

A partition's newest batch always stays (the broker answers earliest and latest offsets from the
batches it lists), deletions run from the oldest batch on without leaving holes, and topics outside
the catalogue (Faust's changelogs, anything a subscriber created) are never touched. A reader
that asks for an offset already deleted gets the oldest batch kept, as from Kafka after retention.
On Apache Kafka none of this runs: the broker has retention.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import logging
import math
import re
import threading
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise
from urllib.parse import quote

import httpx
from aiokafka import TopicPartition

from infra.errors import BrokerError
from schemas.topics import CATALOGUE, READERS, TopicSpec

log = logging.getLogger(__name__)

_S3 = "{http://s3.amazonaws.com/doc/2006-03-01/}"
_DELETE_AT_ONCE = 1_000  # S3's limit for one DeleteObjects request
# Where the broker keeps a group's committed offset, under `clusters/<cluster>/groups/consumers/`.
_OFFSET_KEY = re.compile(
    r"(?P<group>[^/]+)/offsets/(?P<topic>[^/]+)/partitions/(?P<partition>\d+)\.json"
)


@dataclass(frozen=True, slots=True)
class RetentionPolicy:
    after_read: float = 10.0
    """Seconds a batch every reader has committed past is kept."""
    every: float = 5.0
    """Seconds between rounds."""
    required: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Consumer groups and the topics each reads, counted as readers before their first
    commit."""


def stack_retention(after_read: float) -> RetentionPolicy:
    """The policy of `modstream up`: its groups hold what they have not read (`READERS`)."""
    return RetentionPolicy(after_read=after_read, required=READERS)


@dataclass(frozen=True, slots=True)
class Batch:
    key: str
    offset: int
    """The offset of the batch's first record."""
    written: float
    """When the object store received it (epoch seconds)."""


def expired(
    batches: Sequence[Batch], now: float, *, retention: float | None, floor: int, after_read: float
) -> list[Batch]:
    """The oldest batches of one partition (in offset order) that may go: each ends before `floor`
    (the lowest offset a reader has yet to read) and is `after_read` seconds old, or is older
    than `retention` seconds. Never the newest batch, never one after a batch that stays."""
    gone: list[Batch] = []
    for batch, following in pairwise(batches):
        age = now - batch.written
        read = following.offset <= floor and age >= after_read
        if not (read or (retention is not None and age >= retention)):
            break
        gone.append(batch)
    return gone


class StoreClient:
    """The few S3 calls retention needs, against the broker's bucket."""

    def __init__(self, client: httpx.AsyncClient, bucket: str) -> None:
        self.client = client
        self.bucket = bucket

    async def folders(self, prefix: str) -> list[str]:
        page = await self._list({"list-type": "2", "prefix": prefix, "delimiter": "/"})
        return [c.findtext(f"{_S3}Prefix") or "" for c in page.iter(f"{_S3}CommonPrefixes")]

    async def contents(self, prefix: str) -> AsyncIterator[list[tuple[str, str, float]]]:
        """Each object under `prefix` as (key, ETag, time written), a page (in key order) at a
        time."""
        params = {"list-type": "2", "prefix": prefix}
        while True:
            page = await self._list(params)
            found = []
            for item in page.iter(f"{_S3}Contents"):
                written = datetime.fromisoformat(item.findtext(f"{_S3}LastModified") or "")
                etag = item.findtext(f"{_S3}ETag") or ""
                found.append((item.findtext(f"{_S3}Key") or "", etag, written.timestamp()))
            yield found
            token = page.findtext(f"{_S3}NextContinuationToken")
            if page.findtext(f"{_S3}IsTruncated") != "true" or not token:
                return
            params["continuation-token"] = token

    async def batches(self, prefix: str) -> AsyncIterator[list[Batch]]:
        """The record batches under `prefix`, a page (in offset order) at a time."""
        async for page in self.contents(prefix):
            found = []
            for key, _, written in page:
                name = key.rsplit("/", 1)[-1]
                if name.endswith(".batch") and name[:-6].isdigit():
                    found.append(Batch(key, int(name[:-6]), written))
            yield found  # keys are zero-padded offsets: S3's order is offset order

    async def get(self, key: str) -> bytes:
        return await self._call("GET", params={}, path=key)

    async def delete(self, keys: Sequence[str]) -> None:
        for start in range(0, len(keys), _DELETE_AT_ONCE):
            chunk = keys[start : start + _DELETE_AT_ONCE]
            objects = "".join(f"<Object><Key>{k}</Key></Object>" for k in chunk)
            body = f"<Delete><Quiet>true</Quiet>{objects}</Delete>".encode()
            md5 = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - S3 asks it
            headers = {"Content-MD5": md5}
            await self._call("POST", params={"delete": ""}, content=body, headers=headers)

    async def _list(self, params: dict[str, str]) -> ET.Element:
        return ET.fromstring(await self._call("GET", params=params))  # noqa: S314

    async def _call(
        self,
        method: str,
        params: dict[str, str],
        content: bytes | None = None,
        headers: dict[str, str] | None = None,
        path: str = "",
    ) -> bytes:
        url = f"/{self.bucket}/{quote(path)}" if path else f"/{self.bucket}"
        try:
            response = await self.client.request(
                method, url, params=params, content=content, headers=headers
            )
            response.raise_for_status()
        except httpx.HTTPError as exc:
            raise BrokerError(f"the broker's object store failed: {exc}") from exc
        return response.content


class Retention:
    """One round at a time (`sweep`), or every `policy.every` seconds in a thread (`start`).

    A partition is listed again only when its floor moved or when its oldest batch comes of age,
    so an idle stack lists nothing and a busy one lists only what it may delete."""

    def __init__(
        self,
        s3_url: str,
        bucket: str,
        policy: RetentionPolicy,
        topics: Iterable[TopicSpec] = CATALOGUE,
    ) -> None:
        self.s3_url = s3_url
        self.bucket = bucket
        self.policy = policy
        self.topics = [t for t in topics if t.retention_ms >= 0]  # the rest is kept forever
        self._partitions = {t.name: t.partitions for t in self.topics}
        self._offsets: dict[str, tuple[str, int]] = {}
        """(ETag, offset) of each committed-offset object last read."""
        self._seen: dict[tuple[str, TopicPartition], tuple[int, float]] = {}
        """(floor, when to look again) per cluster and partition, as of its last listing."""
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="broker-retention", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    def _loop(self) -> None:
        failing = False
        while not self._stop.wait(self.policy.every):
            try:
                asyncio.run(self.sweep())
                failing = False
            except BrokerError as exc:  # the broker or its store restarting: the next round
                if not failing:
                    log.warning("broker retention skipped a round: %s", exc)
                failing = True
            except Exception:  # a bug must not end retention for good: said, and tried again
                log.exception("broker retention failed a round")
                failing = True

    async def sweep(self) -> Counter[str]:
        """Delete what the rules allow now; returns the batches deleted, by topic."""
        deleted: Counter[str] = Counter()
        async with httpx.AsyncClient(base_url=self.s3_url, timeout=30) as client:
            store = StoreClient(client, self.bucket)
            for cluster in await store.folders("clusters/"):
                floors = await self._floors(store, cluster)
                for spec in self.topics:
                    for p in range(spec.partitions):
                        tp = TopicPartition(spec.name, p)
                        gone = await self._partition(store, cluster, tp, spec, floors.get(tp, 0))
                        deleted[spec.name] += gone
        deleted = +deleted
        if deleted:
            done = ", ".join(f"{n:,} batches of {t}" for t, n in sorted(deleted.items()))
            log.info("broker retention deleted %s", done)
        return deleted

    async def _partition(
        self, store: StoreClient, cluster: str, tp: TopicPartition, spec: TopicSpec, floor: int
    ) -> int:
        now = time.time()
        seen = self._seen.get((cluster, tp))
        if seen is not None and seen[0] == floor and now < seen[1]:
            return 0
        retention = spec.retention_ms / 1000 if spec.retention_ms else None
        listed: list[Batch] = []
        gone: list[Batch] = []
        async for page in store.batches(
            f"{cluster}topics/{tp.topic}/partitions/{tp.partition:010d}/records/"
        ):
            listed += page
            gone = expired(
                listed, now, retention=retention, floor=floor, after_read=self.policy.after_read
            )
            if len(gone) < len(listed) - 1:  # one stays: the rest of the partition stays too
                break
        await store.delete([b.key for b in gone])
        kept = listed[len(gone) :]
        self._seen[(cluster, tp)] = (
            floor,
            next_look(kept, floor, retention, self.policy.after_read),
        )
        return len(gone)

    async def _floors(self, store: StoreClient, cluster: str) -> dict[TopicPartition, int]:
        """Each partition's lowest offset a reader has yet to read (absent: no reader).

        Read from the broker's own records of committed offsets in the store, not through the
        Kafka API: after a restart the broker lists only the groups that joined since, and a
        group missing from the floors would let its unread batches go."""
        prefix = f"{cluster}groups/consumers/"
        committed: dict[str, dict[TopicPartition, int]] = {g: {} for g in self.policy.required}
        async for page in store.contents(prefix):
            for key, etag, _ in page:
                found = _OFFSET_KEY.fullmatch(key[len(prefix) :])
                if found is None or found["topic"] not in self._partitions:
                    continue
                cached = self._offsets.get(key)
                if cached is None or cached[0] != etag:
                    offset = int(json.loads(await store.get(key))["offset"])
                    cached = self._offsets[key] = (etag, offset)
                tp = TopicPartition(found["topic"], int(found["partition"]))
                committed.setdefault(found["group"], {})[tp] = cached[1]
        floors: dict[TopicPartition, int] = {}
        for group, offsets in committed.items():
            reads = {tp.topic for tp in offsets} | set(self.policy.required.get(group, ()))
            for topic in reads & self._partitions.keys():
                for p in range(self._partitions[topic]):
                    tp = TopicPartition(topic, p)
                    mine = max(0, offsets.get(tp, 0))  # no offset yet: nothing read
                    floors[tp] = min(floors.get(tp, mine), mine)
        return floors


def next_look(
    kept: Sequence[Batch], floor: int, retention: float | None, after_read: float
) -> float:
    """When the oldest batch kept could go with the floor unchanged: once it is old enough."""
    if len(kept) < 2:
        return math.inf if retention is None or not kept else kept[0].written + retention
    oldest, following = kept[0], kept[1]
    times = [oldest.written + retention] if retention is not None else []
    if following.offset <= floor:
        times.append(oldest.written + after_read)
    return min(times, default=math.inf)
