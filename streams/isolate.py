"""Keep one bad event from stopping a worker: find it, dead-letter it, judge the rest.

A batch whose judging fails (an exception, or the pipeline's child process dying in native code)
would otherwise fail again after every restart, since it was never acknowledged: a crash loop
and a stalled partition for one event. So a failed batch is judged again in halves, down to
the single events that fail; each of those becomes a dead letter (`processing_error`, with the
error) and everything else is judged as usual. Retrying is safe: the pipeline judges an event
again under the same event id (dedupe skips only *other* events of the same item).

The judge replaces a child that died before it reports the crash. A lone event is dead-lettered
for a crash only if it crashes a fresh child twice, so a crash that had nothing to do with it
(the OOM killer, say) costs a restart, not a wrong dead letter. If no new child can start
(`JudgeUnavailable`), or children die more often than bisecting one batch can explain, the
failure is not the events': it is raised, and the worker stops for its supervisor to restart it.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from infra.dead_letters import dead_letter
from infra.errors import InvalidEvent, JudgeCrashed, JudgeUnavailable
from schemas.records import DeadLetterReason
from streams.pipeline import BatchResult, RawRecord
from streams.pipeline_process import Judge, Outgoing, outgoing

__all__ = ["Isolating"]

log = logging.getLogger(__name__)


class Isolating:
    """A `Judge` over `judge` that dead-letters the events that make it fail."""

    def __init__(
        self, judge: Judge, clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    ) -> None:
        self.judge = judge
        self._clock = clock

    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        try:
            return self.judge.process(records)
        except Exception as exc:  # any failure of a batch is isolated below
            log.error("judging a batch of %d events failed (%r); isolating", len(records), exc)
            first = exc
        # Each bisection level can cost two crashes; more than that is not the events' doing.
        budget = [2 * math.ceil(math.log2(max(len(records), 2))) + 3]
        self._account(first, budget)
        return _merge(self._bisect(records, budget))

    def _bisect(self, records: Sequence[RawRecord], budget: list[int]) -> list[Outgoing]:
        if len(records) == 1:
            return [self._alone(records[0], budget)]
        half = len(records) // 2
        out: list[Outgoing] = []
        for part in (records[:half], records[half:]):
            try:
                out.append(self.judge.process(part))
            except Exception as exc:
                self._account(exc, budget)
                out += self._bisect(part, budget)
        return out

    def _alone(self, record: RawRecord, budget: list[int]) -> Outgoing:
        """A record that failed in company: judged alone, and dead-lettered if that fails too
        (twice, for a crash)."""
        try:
            return self.judge.process([record])
        except JudgeCrashed as exc:
            self._account(exc, budget)
            try:
                return self.judge.process([record])
            except Exception as again:
                self._account(again, budget)
                failure: Exception = again
        except Exception as exc:  # an error is deterministic: no retry
            failure = exc
        detail = f"judging this event failed: {failure!r}"
        letter = dead_letter(
            record, InvalidEvent(DeadLetterReason.PROCESSING_ERROR, detail), self._clock()
        )
        return outgoing(BatchResult(dead_letters=[letter]))

    def _account(self, exc: Exception, budget: list[int]) -> None:
        """Raise what is not the events' doing; count a crash against the budget."""
        if isinstance(exc, JudgeCrashed):
            budget[0] -= 1
            if budget[0] < 0:
                raise JudgeCrashed("the text pipeline keeps crashing, whatever it judges") from exc
        elif isinstance(exc, JudgeUnavailable):
            raise exc


def _merge(parts: Sequence[Outgoing]) -> Outgoing:
    """One batch's output from its parts: every verdict (in order), then every dead letter."""
    return Outgoing(
        records=[r for p in parts for r in p.records[: p.verdicts]]
        + [r for p in parts for r in p.records[p.verdicts :]],
        verdicts=sum(p.verdicts for p in parts),
        dead_letters=[d for p in parts for d in p.dead_letters],
        duplicates=sum(p.duplicates for p in parts),
        reused_scores=sum(p.reused_scores for p in parts),
        keys=[k for p in parts for k in p.keys[: p.verdicts]]
        + [k for p in parts for k in p.keys[p.verdicts :]],
        judged=[j for p in parts for j in p.judged],
        models=[m for p in parts for m in p.models],
    )
