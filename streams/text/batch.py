"""Classify a JSON Lines file: one verdict line per input line, errors reported in-line."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import IO, Any

from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from schemas.records import Decision
from streams.policy import DecisionPolicy
from streams.text.classifier import Classifier
from streams.text.rewrite import Rewriter, RewriteRequest

__all__ = ["classify_jsonl"]


def _parse(line: str) -> tuple[Any, str | None, str | None, str | None]:
    """(id, text, lang, error) of one input line."""
    try:
        obj = json.loads(line)
    except json.JSONDecodeError as exc:
        return None, None, None, f"invalid JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(obj, dict):
        return None, None, None, f"expected a JSON object, got {type(obj).__name__}"
    row_id = obj.get("id")
    if isinstance(row_id, (dict, list)):
        return None, None, None, "`id` must be a string or a number"
    text = obj.get("text")
    if not isinstance(text, str):
        return row_id, None, None, "missing or non-string `text`"
    lang = obj.get("lang")
    if lang is not None and not isinstance(lang, str):
        return row_id, None, None, "`lang` must be a string or null"
    return row_id, text, lang, None


def _batches(
    src: IO[str], size: int
) -> Iterator[list[tuple[Any, str | None, str | None, str | None]]]:
    batch = []
    for line in src:
        if not line.strip():
            continue
        batch.append(_parse(line))
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def classify_jsonl(
    classifier: Classifier,
    policy: DecisionPolicy,
    src: IO[str],
    dst: IO[str],
    *,
    progress: bool = True,
    batch_size: int = 256,
    rewriter: Rewriter | None = None,
) -> int:
    """Classify rows `{"id", "text", "lang"?}` from `src`, write verdict rows to `dst`.

    Output rows: `{"id", "toxic", "labels", "decision", "lang", "spans"}`, or `{"id", "error"}`
    for a line that cannot be classified. Blank lines are skipped. Returns the rows written.
    With a `rewriter`, rows the policy does not approve also carry `"rewrite": {"text",
    "toxic", "source", "note"}` (`text` null when no acceptable rewrite was found).
    """
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    written = 0
    bar = Progress(
        SpinnerColumn(),
        TextColumn("classified {task.completed} rows"),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        disable=not progress,
    )
    with bar:
        task = bar.add_task("classify", total=None)
        for batch in _batches(src, batch_size):
            good = [
                i for i, (_, text, _, err) in enumerate(batch) if err is None and text is not None
            ]
            scores = classifier.classify(
                [batch[i][1] or "" for i in good], [batch[i][2] for i in good]
            )
            by_index = dict(zip(good, scores, strict=True))
            rewrites: dict[int, dict[str, Any]] = {}
            if rewriter is not None:
                toxic = [
                    i
                    for i, s in by_index.items()
                    if policy.decide(s.toxic, s.labels, s.lang) is not Decision.APPROVE
                ]
                asked = [RewriteRequest(batch[i][1] or "", by_index[i], policy) for i in toxic]
                for i, r in zip(toxic, rewriter.rewrite(asked), strict=True):
                    rewrites[i] = r.record().model_dump(mode="json")
            for i, (row_id, _, _, err) in enumerate(batch):
                s = by_index.get(i)
                out: dict[str, Any]
                if s is None:
                    out = {"id": row_id, "error": err or "not classified"}
                else:
                    out = {
                        "id": row_id,
                        "toxic": round(s.toxic, 6),
                        "labels": {k: round(v, 6) for k, v in s.labels.items()},
                        "decision": policy.decide(s.toxic, s.labels, s.lang).value,
                        "lang": s.lang,
                        "spans": [[a, b] for a, b in s.spans],
                    }
                    if i in rewrites:
                        out["rewrite"] = rewrites[i]
                dst.write(json.dumps(out, ensure_ascii=False) + "\n")
                written += 1
            bar.advance(task, len(batch))
    return written
