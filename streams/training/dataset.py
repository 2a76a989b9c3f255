"""Loading the labeled JSONL data and the deterministic held-out split."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "EXTRA_TRAIN",
    "HOLDOUT_FRACTION",
    "VALIDATION_ONLY",
    "Row",
    "is_holdout",
    "iter_rows",
    "load_dir",
    "load_extra",
    "split",
]

HOLDOUT_FRACTION = 0.15
# Files that are never trained on: they are validation data as a whole.
VALIDATION_ONLY: frozenset[str] = frozenset({"en_hatexplain_val", "ar_osact2020_dev"})


@dataclass(frozen=True, slots=True)
class Row:
    id: str
    text: str
    lang: str
    toxic: int
    hate: int | None
    sub: str | None  # a finer sub-label where the set has one (MPOLD: "HS", "V", "-")
    votes: tuple[tuple[str, int], ...] | None  # annotator votes per class where the set has them
    spans: tuple[tuple[int, int], ...] | None
    source: str
    dataset: str  # the file stem, e.g. "en_davidson_train"


def is_holdout(row_id: str, fraction: float = HOLDOUT_FRACTION) -> bool:
    """Stable, platform-independent assignment of a row to the held-out part."""
    digest = hashlib.blake2b(row_id.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64 < fraction


def _row(obj: dict[str, object], dataset: str) -> Row:
    labels = obj.get("labels")
    sub = labels.get("sub") if isinstance(labels, dict) else None
    votes_raw = labels.get("votes") if isinstance(labels, dict) else None
    votes = (
        tuple(sorted((str(k), int(v)) for k, v in votes_raw.items()))
        if isinstance(votes_raw, dict)
        else None
    )
    spans_raw = obj.get("spans")
    spans: tuple[tuple[int, int], ...] | None = None
    if isinstance(spans_raw, list):
        spans = tuple((int(s), int(e)) for s, e in spans_raw)
    hate = obj.get("hate")
    return Row(
        id=str(obj["id"]),
        text=str(obj["text"]),
        lang=str(obj["lang"]),
        toxic=int(obj["toxic"]),  # type: ignore[call-overload]
        hate=None if hate is None else int(hate),  # type: ignore[call-overload]
        sub=str(sub) if sub is not None else None,
        votes=votes,
        spans=spans,
        source=str(obj.get("source", dataset)),
        dataset=dataset,
    )


def iter_rows(path: Path, limit: int | None = None) -> Iterator[Row]:
    """Rows of one JSONL file, in file order; at most `limit` of them."""
    dataset = path.name.removesuffix(".jsonl")
    with path.open(encoding="utf-8") as fh:
        n = 0
        for line in fh:
            if not line.strip():
                continue
            if limit is not None and n >= limit:
                return
            yield _row(json.loads(line), dataset)
            n += 1


def load_dir(data_dir: Path, limit: int | None = None) -> list[Row]:
    """All rows of every `*.jsonl` file in `data_dir` or its `text/` folder, by file name."""
    files = sorted(data_dir.glob("*.jsonl")) or sorted((data_dir / "text").glob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"no *.jsonl files in {data_dir}")
    return [row for path in files for row in iter_rows(path, limit)]


# Files of `extra/` (added after `text/`) the fast tier trains on; the others are scored only.
# None yet: the English MLMA, Stormfront and ConvAbuse sets lift leave-one-source-out, but the
# calibration that keeps everyday texts below the approve line with them is not settled (see
# docs/performance.md#leave-one-source-out); Arabic MLMA cost OSACT2020 0.025 ROC-AUC and 0.10
# macro-F1 leave-one-source-out. The HateCheck suites are templated tests, kept as a diagnostic.
EXTRA_TRAIN: tuple[str, ...] = ()


def load_extra(
    data_dir: Path, limit: int | None = None, names: Iterable[str] | None = None
) -> list[Row]:
    """Rows of the `extra/` files named (file stems; default: every file there)."""
    folder = data_dir / "extra"
    if not folder.is_dir():
        return []
    wanted = None if names is None else set(names)
    files = sorted(p for p in folder.glob("*.jsonl") if wanted is None or p.stem in wanted)
    return [row for path in files for row in iter_rows(path, limit)]


def split(rows: Iterable[Row]) -> tuple[list[Row], list[Row]]:
    """(train, held_out): validation-only files and ~15% of every other file by id hash."""
    train: list[Row] = []
    held: list[Row] = []
    for row in rows:
        if row.dataset in VALIDATION_ONLY or is_holdout(row.id):
            held.append(row)
        else:
            train.append(row)
    return train, held
