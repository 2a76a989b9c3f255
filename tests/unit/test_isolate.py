"""A judge that keeps crashing, or cannot start a new child, is not blamed on the events: the
crash budget of `Isolating`, with a scripted judge and no child process."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from infra.errors import JudgeCrashed, JudgeUnavailable
from streams.isolate import Isolating
from streams.pipeline import RawRecord
from streams.pipeline_process import Outgoing
from tests.support.events import records


class Scripted:
    """A judge that crashes a given number of times (each time with a fresh child ready), or
    cannot start a new child."""

    def __init__(self, crashes: int, restarts: bool = True) -> None:
        self.crashes = crashes
        self.restarts = restarts
        self.calls = 0

    def process(self, records: Sequence[RawRecord]) -> Outgoing:
        self.calls += 1
        if self.crashes:
            self.crashes -= 1
            if not self.restarts:
                raise JudgeUnavailable("the text pipeline's child process could not start")
            raise JudgeCrashed("the text pipeline's process died")
        return Outgoing([], 0, [], 0, 0)


def test_a_judge_that_keeps_crashing_is_not_blamed_on_the_events() -> None:
    judge = Scripted(crashes=1000)
    with pytest.raises(JudgeCrashed, match="keeps crashing"):
        Isolating(judge).process(records(*"abcdefgh"))
    assert judge.calls == 2 * 3 + 3 + 1  # the budget for 8 events, and the crash past it


def test_a_judge_that_cannot_start_a_new_child_stops_the_batch() -> None:
    judge = Scripted(crashes=1, restarts=False)
    with pytest.raises(JudgeUnavailable, match="could not start"):
        Isolating(judge).process(records("a", "b"))
    assert judge.calls == 1  # not retried, not blamed on the events
