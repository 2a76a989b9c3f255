"""How `Judges` splits a batch between its children: every record once, each key's records
together and in order (per-author order), and the same key in the same child batch after batch."""

from __future__ import annotations

from streams.pipeline import RawRecord
from streams.pipeline_process import Outgoing, merge, split


def _record(offset: int, key: bytes | None, partition: int = 0) -> RawRecord:
    return RawRecord("events.text", partition, offset, key, b"{}")


def test_each_key_stays_in_one_group_in_order() -> None:
    batch = [_record(n, f"demo:user-{n % 7}".encode()) for n in range(200)]
    groups = split(batch, 2)
    assert len(groups) == 2
    assert all(groups)  # 7 keys spread over both children
    assert sorted(r.offset for g in groups for r in g) == list(range(200))
    for group in groups:
        for key in {r.key for r in group}:
            offsets = [r.offset for r in group if r.key == key]
            assert offsets == sorted(offsets)
        assert not {r.key for r in group} & {r.key for g in groups if g is not group for r in g}


def test_a_key_lands_with_the_same_child_in_every_batch() -> None:
    first = split([_record(n, f"k{n}".encode()) for n in range(50)], 3)
    second = split([_record(n, f"k{n}".encode()) for n in reversed(range(50))], 3)
    assert [{r.key for r in g} for g in first] == [{r.key for r in g} for g in second]


def test_records_without_a_key_go_with_their_partition() -> None:
    batch = [_record(n, None, partition=n % 4) for n in range(40)]
    for group in split(batch, 2):
        for partition in {r.partition for r in group}:
            assert [r.offset for r in group if r.partition == partition] == list(
                range(partition, 40, 4)
            )
    assert sum(len(g) for g in split(batch, 2)) == 40


def test_one_child_gets_the_whole_batch() -> None:
    batch = [_record(n, f"k{n}".encode()) for n in range(10)]
    assert split(batch, 1) == [batch]


def test_merged_parts_put_verdicts_before_dead_letters() -> None:
    a = Outgoing(
        [("v", "a", "1"), ("d", "a", "2")], 1, [("t", 0, 1, "bad", "why")], 0, 0, [b"1", b"2"]
    )
    b = Outgoing([("v", "b", "3")], 1, [], 1, 2, [b"3"])
    out = merge([a, b])
    assert out.records == [("v", "a", "1"), ("v", "b", "3"), ("d", "a", "2")]
    assert out.keys == [b"1", b"3", b"2"]
    assert (out.verdicts, out.duplicates, out.reused_scores) == (2, 1, 2)
