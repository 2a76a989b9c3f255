"""The embedded broker's durable storage: a small S3-compatible object store in a local file.

The broker (Tansu) keeps topics in S3: one object per produced batch, a watermark object per
partition updated by compare-and-swap, group offsets and metadata as objects. It needs a handful
of S3 calls, and needs them cheap: a general object store spent about 1.1 ms of CPU on each
(at 1,000 events/s more than one of the machine's two cores). This one serves exactly those:

- `PUT` an object, with `If-None-Match: *` (create only) or `If-Match: <etag>` (replace only
  that version) answered 412 when the condition fails; `GET`/`HEAD` with `ETag` and
  `Last-Modified`; `DELETE`; `POST ?delete` (many at once).
- `GET ?list-type=2` (ListObjectsV2) with `prefix`, `delimiter`, `start-after`, `max-keys`
  and continuation tokens, from a sorted in-memory index: a listing costs what it returns.
- `PUT`/`HEAD` on a bucket.

Objects live in one append-only log (`Log`) with the index in memory: a write is one append,
where a file per object cost more in the file system than the whole request. One event loop
serves every request and touches the log synchronously, so a conditional PUT is atomic without
locks, and a write is acknowledged only once it is in the file. The log is not fsynced: like the
store it replaces, it survives any process dying (a torn last record is cut off at start), not a
power cut. It listens on loopback only, without authentication (the broker signs its requests;
the signature is not checked).
"""

from __future__ import annotations

import argparse
import bisect
import hashlib
import logging
import os
import struct
import time
import zlib
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import formatdate
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote
from xml.sax.saxutils import escape

log = logging.getLogger(__name__)

_XMLNS = "http://s3.amazonaws.com/doc/2006-03-01/"
_MAX_KEYS = 1_000

Send = Any  # ASGI callables, kept loose: this module needs no ASGI framework
Receive = Any


@dataclass(slots=True)
class Meta:
    etag: str  # quoted, as S3 sends it
    size: int
    modified: float  # epoch seconds
    at: int  # where the object's bytes start in the log


class Log:
    """Every object in one append-only file, with the index in memory (as Bitcask does).

    A record is a header (CRC-32, key length, data length, time, kind), the key (`bucket/key`)
    and the data; a delete or a new bucket is a record too. Reading the file at start rebuilds
    the index; a record cut short by a crash (its CRC fails) ends the log and is cut off. When
    more than half the file (and at least `compact_at` bytes) is superseded, the live objects
    are copied into a new file that replaces the old one in one rename.
    """

    _HEADER = struct.Struct("<IIIdB")
    PUT, DELETE, BUCKET = 1, 2, 3

    def __init__(self, path: Path, compact_at: int = 64 << 20) -> None:
        self.path = path
        self.compact_at = compact_at
        self.meta: dict[str, Meta] = {}
        self.buckets: dict[str, list[str]] = {}  # sorted keys per bucket
        path.parent.mkdir(parents=True, exist_ok=True)
        self.size = self._load()
        self.fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o600)
        self.live = sum(len(k) + m.size + self._HEADER.size for k, m in self.meta.items())

    def _load(self) -> int:
        """Index the log; returns its length after cutting off a torn tail."""
        if not self.path.exists():
            return 0
        data = self.path.read_bytes()
        at = 0
        while at + self._HEADER.size <= len(data):
            crc, klen, dlen, modified, kind = self._HEADER.unpack_from(data, at)
            end = at + self._HEADER.size + klen + dlen
            if end > len(data) or zlib.crc32(data[at + 4 : end]) != crc:
                break
            key = data[at + self._HEADER.size : at + self._HEADER.size + klen].decode()
            body = data[end - dlen : end]
            self._apply(kind, key, Meta(_etag(body), dlen, modified, end - dlen))
            at = end
        if at < len(data):
            log.warning("object store: cutting off %d bytes of a torn write", len(data) - at)
            os.truncate(self.path, at)
        for keys in self.buckets.values():
            keys.sort()
        return at

    def _apply(self, kind: int, key: str, meta: Meta, *, sorted_: bool = False) -> None:
        if kind == self.BUCKET:
            self.buckets.setdefault(key, [])
            return
        bucket, _, name = key.partition("/")
        keys = self.buckets.setdefault(bucket, [])
        if kind == self.PUT:
            if key not in self.meta:
                if sorted_:
                    bisect.insort(keys, name)
                else:
                    keys.append(name)
            self.meta[key] = meta
        elif self.meta.pop(key, None) is not None:
            if sorted_:
                del keys[bisect.bisect_left(keys, name)]
            else:
                keys.remove(name)

    def append(self, kind: int, key: str, data: bytes = b"") -> Meta:
        k = key.encode()
        modified = time.time()
        record = self._record(kind, key, data, modified)
        os.write(self.fd, record)  # one write: whole, or torn and cut off at the next start
        at = self.size + len(record) - len(data)
        self.size += len(record)
        old = self.meta.get(key)
        meta = Meta(_etag(data), len(data), modified, at)
        self._apply(kind, key, meta, sorted_=True)
        if kind == self.PUT:
            self.live += self._HEADER.size + len(k) + len(data)
        if old is not None:
            self.live -= self._HEADER.size + len(k) + old.size
        if self.size > self.compact_at and self.size > 2 * self.live:
            self.compact()
        return meta

    def read(self, meta: Meta) -> bytes:
        return os.pread(self.fd, meta.size, meta.at)

    def compact(self) -> None:
        staged = self.path.with_suffix(".compacting")
        with staged.open("wb") as out:
            at = 0
            for bucket in self.buckets:
                record = self._record(self.BUCKET, bucket, b"", time.time())
                out.write(record)
                at += len(record)
            for key, meta in self.meta.items():
                record = self._record(self.PUT, key, self.read(meta), meta.modified)
                out.write(record)
                meta.at = at + len(record) - meta.size
                at += len(record)
        os.replace(staged, self.path)
        os.close(self.fd)
        self.fd = os.open(self.path, os.O_RDWR | os.O_APPEND)
        self.size = self.live = at

    def _record(self, kind: int, key: str, data: bytes, modified: float) -> bytes:
        k = key.encode()
        record = self._HEADER.pack(0, len(k), len(data), modified, kind)[4:] + k + data
        return struct.pack("<I", zlib.crc32(record)) + record

    def list(
        self, bucket: str, prefix: str, delimiter: str, after: str, max_keys: int
    ) -> tuple[list[str], list[str], str | None]:
        """Keys and common prefixes after `after` (at most `max_keys` in all), and the last
        one returned when more follow (the continuation token)."""
        names = self.buckets[bucket]
        keys: list[str] = []
        prefixes: list[str] = []
        i = (
            bisect.bisect_right(names, after)
            if after >= prefix
            else bisect.bisect_left(names, prefix)
        )
        last = None
        while i < len(names):
            name = names[i]
            if not name.startswith(prefix):
                break
            if len(keys) + len(prefixes) == max_keys:
                return keys, prefixes, last
            cut = name.find(delimiter, len(prefix)) if delimiter else -1
            if cut >= 0:
                common = name[: cut + len(delimiter)]
                prefixes.append(common)
                last = common
                i = bisect.bisect_left(names, common[:-1] + chr(ord(common[-1]) + 1))
                continue
            keys.append(name)
            last = name
            i += 1
        return keys, prefixes, None


class ObjectStore:
    """The ASGI application over a `Log`."""

    def __init__(self, root: Path) -> None:
        self.log = Log(root / "objects.dat")

    async def __call__(self, scope: dict[str, Any], receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            status, headers, out = self.handle(scope, body)
        except (ValueError, KeyError, SyntaxError) as exc:  # SyntaxError: XML's ParseError
            status, headers, out = 400, {}, _error("InvalidArgument", repr(exc))
        headers.setdefault("content-length", str(len(out)))
        start = [(k.encode(), v.encode()) for k, v in headers.items()]
        await send({"type": "http.response.start", "status": status, "headers": start})
        await send({"type": "http.response.body", "body": out})

    def handle(self, scope: dict[str, Any], body: bytes) -> tuple[int, dict[str, str], bytes]:
        method = scope["method"]
        bucket, _, name = unquote(scope["path"]).lstrip("/").partition("/")
        query = dict(parse_qsl(scope["query_string"].decode(), keep_blank_values=True))
        if not name:
            return self._bucket(method, bucket, query, body)
        if bucket not in self.log.buckets:
            return 404, {}, _error("NoSuchBucket", bucket)
        headers = {k.decode().lower(): v.decode() for k, v in scope["headers"]}
        key = f"{bucket}/{name}"
        meta = self.log.meta.get(key)
        if method == "PUT":
            return self._put(key, meta, headers, body)
        if method == "DELETE":
            if meta is not None:
                self.log.append(Log.DELETE, key)
            return 204, {}, b""
        if method not in ("GET", "HEAD"):
            return 405, {}, _error("MethodNotAllowed", method)
        if meta is None:
            return 404, {}, _error("NoSuchKey", name)
        if "if-match" in headers and meta.etag != headers["if-match"]:
            return 412, {}, _error("PreconditionFailed", name)
        found = {
            "etag": meta.etag,
            "last-modified": formatdate(meta.modified, usegmt=True),
            "content-type": "application/octet-stream",
            "content-length": str(meta.size),
        }
        return 200, found, b"" if method == "HEAD" else self.log.read(meta)

    def _put(
        self, key: str, meta: Meta | None, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        """A write, or 412 when its condition fails: `If-None-Match: *` (only a new object) or
        `If-Match: <etag>` (only over that version); the broker's compare-and-swap."""
        exists = headers.get("if-none-match") == "*" and meta is not None
        if exists or ("if-match" in headers and (meta is None or meta.etag != headers["if-match"])):
            return 412, {}, _error("PreconditionFailed", key)
        return 200, {"etag": self.log.append(Log.PUT, key, body).etag}, b""

    def _bucket(
        self, method: str, bucket: str, query: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        if method == "PUT":
            if bucket not in self.log.buckets:
                self.log.append(Log.BUCKET, bucket)
            return 200, {}, b""
        if bucket not in self.log.buckets:
            return 404, {}, _error("NoSuchBucket", bucket)
        xml = {"content-type": "application/xml"}
        if method == "HEAD":
            return 200, {}, b""
        if method == "GET":
            return 200, xml, self._list(bucket, query)
        if method == "POST" and "delete" in query:
            for name in _keys_to_delete(body):
                if f"{bucket}/{name}" in self.log.meta:
                    self.log.append(Log.DELETE, f"{bucket}/{name}")
            return (
                200,
                xml,
                f'<?xml version="1.0" encoding="UTF-8"?><DeleteResult xmlns="{_XMLNS}"/>'.encode(),
            )
        return 405, {}, _error("MethodNotAllowed", method)

    def _list(self, bucket: str, query: dict[str, str]) -> bytes:
        prefix = query.get("prefix", "")
        delimiter = query.get("delimiter", "")
        after = query.get("continuation-token") or query.get("start-after", "")
        max_keys = min(int(query.get("max-keys", _MAX_KEYS)), _MAX_KEYS)
        keys, prefixes, token = self.log.list(bucket, prefix, delimiter, after, max_keys)
        parts = [
            f'<?xml version="1.0" encoding="UTF-8"?><ListBucketResult xmlns="{_XMLNS}">',
            f"<Name>{escape(bucket)}</Name><Prefix>{escape(prefix)}</Prefix>",
            f"<KeyCount>{len(keys) + len(prefixes)}</KeyCount><MaxKeys>{max_keys}</MaxKeys>",
            f"<IsTruncated>{'true' if token else 'false'}</IsTruncated>",
        ]
        if delimiter:
            parts.append(f"<Delimiter>{escape(delimiter)}</Delimiter>")
        for name in keys:
            m = self.log.meta[f"{bucket}/{name}"]
            modified = datetime.fromtimestamp(m.modified, UTC).isoformat(timespec="milliseconds")
            parts.append(
                f"<Contents><Key>{escape(name)}</Key><LastModified>{modified[:-6]}Z</LastModified>"
                f"<ETag>{escape(m.etag)}</ETag><Size>{m.size}</Size>"
                "<StorageClass>STANDARD</StorageClass></Contents>"
            )
        parts += [
            f"<CommonPrefixes><Prefix>{escape(p)}</Prefix></CommonPrefixes>" for p in prefixes
        ]
        if token:
            parts.append(f"<NextContinuationToken>{escape(token)}</NextContinuationToken>")
        parts.append("</ListBucketResult>")
        return "".join(parts).encode()


def _etag(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'  # noqa: S324 - S3's ETag, not security


def _error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>{escape(message)}</Message></Error>"
    ).encode()


def _keys_to_delete(body: bytes) -> list[str]:
    import xml.etree.ElementTree as ET

    root = ET.fromstring(body)  # noqa: S314 - from the broker on loopback
    return [k.text or "" for k in root.iter() if k.tag.rsplit("}", 1)[-1] == "Key"]


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    app = ObjectStore(args.root)
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning", access_log=False)


if __name__ == "__main__":
    main()
