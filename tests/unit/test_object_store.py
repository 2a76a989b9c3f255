"""The embedded broker's object store: the S3 calls the broker makes, and its log on disk."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from infra.object_store import Log, ObjectStore

KEY = "clusters/c/topics/t/partitions/0000000000/records/{:020d}.batch"


def call(
    store: ObjectStore, method: str, path: str, body: bytes = b"", query: str = "", **headers: str
) -> tuple[int, dict[str, str], bytes]:
    scope: dict[str, Any] = {
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(k.replace("_", "-").encode(), v.encode()) for k, v in headers.items()],
    }
    return store.handle(scope, body)


def listed(store: ObjectStore, query: str) -> tuple[list[str], list[str], str | None]:
    xml = call(store, "GET", "/b", query=f"list-type=2&{query}")[2].decode()
    token = re.search(r"<NextContinuationToken>(.*?)</", xml)
    return (
        re.findall(r"<Key>(.*?)</Key>", xml),
        re.findall(r"<CommonPrefixes><Prefix>(.*?)</Prefix>", xml),
        token.group(1) if token else None,
    )


def test_objects_round_trip_with_etags_and_conditional_writes(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    assert call(store, "PUT", "/b/k")[0] == 404  # no such bucket yet
    assert call(store, "PUT", "/b")[0] == 200
    status, headers, _ = call(store, "PUT", "/b/w.json", b"v1", if_none_match="*")
    assert status == 200
    first = headers["etag"]
    assert call(store, "PUT", "/b/w.json", b"v2", if_none_match="*")[0] == 412  # exists
    assert call(store, "PUT", "/b/w.json", b"v2", if_match='"other"')[0] == 412  # changed since
    status, headers, _ = call(store, "PUT", "/b/w.json", b"v2", if_match=first)
    assert status == 200
    assert headers["etag"] != first
    status, headers, body = call(store, "GET", "/b/w.json")
    assert (status, body) == (200, b"v2")
    assert "last-modified" in headers
    assert headers["content-length"] == "2"
    assert call(store, "HEAD", "/b/w.json")[1]["content-length"] == "2"
    assert call(store, "DELETE", "/b/w.json")[0] == 204
    assert call(store, "GET", "/b/w.json")[0] == 404
    assert call(store, "PUT", "/b/w.json", b"v3", if_match=first)[0] == 412  # gone


def test_listing_pages_by_prefix_and_folds_common_prefixes(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    call(store, "PUT", "/b")
    for i in range(5):
        call(store, "PUT", f"/b/{KEY.format(i)}", b"x")
    call(store, "PUT", "/b/clusters/c/meta.json", b"{}")
    call(store, "PUT", "/b/other/x", b"y")

    records = "clusters/c/topics/t/partitions/0000000000/records/"
    keys, _, token = listed(store, f"prefix={records}&max-keys=2")
    assert keys == [KEY.format(0), KEY.format(1)]
    keys, _, token = listed(store, f"prefix={records}&max-keys=2&continuation-token={token}")
    assert keys == [KEY.format(2), KEY.format(3)]
    keys, _, token = listed(store, f"prefix={records}&continuation-token={token}")
    assert (keys, token) == ([KEY.format(4)], None)
    assert listed(store, f"prefix={records}&start-after={KEY.format(3)}")[0] == [KEY.format(4)]
    assert listed(store, "prefix=clusters/&delimiter=/") == ([], ["clusters/c/"], None)
    assert listed(store, "prefix=clusters/c/&delimiter=/") == (
        ["clusters/c/meta.json"], ["clusters/c/topics/"], None
    )  # fmt: skip
    call(store, "POST", "/b", b"<Delete><Object><Key>other/x</Key></Object></Delete>", "delete")
    assert listed(store, "prefix=other/")[0] == []


def test_the_log_survives_a_restart_and_cuts_off_a_torn_write(tmp_path: Path) -> None:
    store = ObjectStore(tmp_path)
    call(store, "PUT", "/b")
    call(store, "PUT", "/b/a", b"one")
    call(store, "PUT", "/b/b", b"two")
    call(store, "DELETE", "/b/a")
    etag = call(store, "PUT", "/b/c", b"three")[1]["etag"]
    log = tmp_path / "objects.dat"
    with log.open("ab") as f:
        f.write(b"\x01\x02\x03 half a record")  # what a SIGKILL mid-write leaves

    again = ObjectStore(tmp_path)
    assert call(again, "GET", "/b/a")[0] == 404
    assert call(again, "GET", "/b/b")[2] == b"two"
    assert call(again, "GET", "/b/c")[1]["etag"] == etag
    call(again, "PUT", "/b/d", b"four")  # appends after the cut, readable after a restart
    assert call(ObjectStore(tmp_path), "GET", "/b/d")[2] == b"four"


def test_compaction_keeps_the_live_objects_only(tmp_path: Path) -> None:
    log = Log(tmp_path / "objects.dat", compact_at=10_000)
    log.append(Log.BUCKET, "b")
    for i in range(400):
        log.append(Log.PUT, "b/watermark", b"x" * 100 + str(i).encode())  # one key, rewritten
    log.append(Log.PUT, "b/kept", b"kept")
    size = (tmp_path / "objects.dat").stat().st_size
    assert size < 10_000 + 200  # compacted on the way: 400 versions take ~50 KB
    assert log.read(log.meta["b/watermark"]) == b"x" * 100 + b"399"
    reopened = Log(tmp_path / "objects.dat")
    assert reopened.read(reopened.meta["b/kept"]) == b"kept"
    assert reopened.buckets == {"b": ["kept", "watermark"]}
