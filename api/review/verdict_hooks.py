"""Verdicts to webhooks: the review intake (`api/review/intake.py`), which reads `verdicts.text`
in the API process, queues a delivery of each verdict to every endpoint of its tenant that
subscribed to `verdict` (all decisions, or only the `verdict:<decision>` it named).

Delivery is at least once, never lost: the rows are written before the intake commits its
offsets, so a crash in between reads the batch again, and the rows already written are found
(by endpoint and record id) and not written twice. The deliverer then sends each row until a 2xx
(a receiver whose answer was lost gets it again: receivers dedupe on the `id`). The record id is
`<event_id>@<judged_at in ms>`: a verdict read again is the same record; an item judged anew is
another.

A tenant in privacy mode gets no `rewrite` (words of the text), as the warehouse keeps none.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import partial

from sqlalchemy.orm import Session

from api.review import deliveries
from api.review.deliveries import Outgoing
from api.review.webhooks import VERDICT
from schemas.records import Verdict


def record_id(verdict: Verdict) -> str:
    return f"{verdict.event_id}@{int(verdict.judged_at.timestamp() * 1000)}"


def takes(events: str, decision: str) -> bool:
    tokens = events.split()
    return VERDICT in tokens or f"{VERDICT}:{decision}" in tokens


def _body(verdict: Verdict, private: bool) -> str:
    data = verdict.model_dump(mode="json", exclude={"rewrite"} if private else None)
    return json.dumps({"type": VERDICT, "id": record_id(verdict), "data": data}, sort_keys=True)


def enqueue_verdicts(session: Session, verdicts: Sequence[Verdict]) -> int:
    """Queue each verdict for its tenant's subscribed endpoints, once; returns the rows added."""
    outgoing = []
    for v in verdicts:
        taken_by = partial(takes, decision=v.decision.value)
        outgoing.append(Outgoing(v.tenant, record_id(v), partial(_body, v), taken_by))
    return deliveries.enqueue(session, VERDICT, outgoing)
