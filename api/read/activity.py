"""Composer activity: sessions and intervention funnels per moderation mode.

Activity events (`kind = activity`) carry `user`, `session_id`, `action`, `mode`, `metadata`. The
funnels count the actions of the composer contract (`schemas/activity.py`); a `metadata.event_id`
links a session to the post it produced, so the harmful rate of posts can be compared across
modes (does an intervention reduce toxicity?).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from api.read.analytics import TimeRange
from api.rollups import HARMFUL
from infra.warehouse import Warehouse
from schemas.activity import ACTIONS as COMPOSER_ACTIONS
from schemas.activity import ComposerAction as A

ACTIONS = {action.value: why for action, why in COMPOSER_ACTIONS.items()}
"""The action vocabulary the analytics count (other actions are stored and count as activity)."""


class Funnel(BaseModel):
    shown: int
    yes: int = Field(description="Cancelled (warnings) or accepted (rewrites).")
    no: int = Field(description="Posted anyway (warnings) or rejected (rewrites).")
    rate: float | None = Field(description="`yes / shown`; null when nothing was shown.")


class ModeActivity(BaseModel):
    mode: str = Field(description="The moderation mode (`none` when the event named none).")
    sessions: int
    users: int
    events: int
    warnings: Funnel
    rewrites: Funnel
    blocked: int = Field(description="Submits refused in safe mode (`submit_blocked`).")
    published: int = Field(description="Posts published from a composer (`post_published`).")
    errors: int = Field(description="Composer errors (`error`).")
    avg_session_seconds: float = Field(description="First to last event of a session.")
    posts: int = Field(description="Judged posts linked by `metadata.event_id`.")
    harmful_posts: int = Field(description=f"Linked posts with toxic >= {HARMFUL}.")
    harmful_rate: float | None


class ComposerActivity(BaseModel):
    data: list[ModeActivity]


def _funnel(shown: int, yes: int, no: int) -> Funnel:
    return Funnel(shown=shown, yes=yes, no=no, rate=yes / shown if shown else None)


def activity(warehouse: Warehouse, tenant: str, query: TimeRange) -> ComposerActivity:
    since, until = query.bounds()
    params = {"tenant": tenant, "since": since, "until": until, "source": query.source or ""}
    rows = warehouse.rows(
        f"""
        WITH sessions AS (
            SELECT if(mode = '', 'none', mode) AS mode, session,
                   any(user) AS user, count() AS events,
                   countIf(action = '{A.WARNING_SHOWN}') AS warned,
                   countIf(action = '{A.POST_CANCELLED}') AS cancelled,
                   countIf(action = '{A.POSTED_ANYWAY}') AS posted_anyway,
                   countIf(action = '{A.REWRITE_SUGGESTED}') AS suggested,
                   countIf(action = '{A.REWRITE_ACCEPTED}') AS accepted,
                   countIf(action = '{A.REWRITE_REJECTED}') AS rejected,
                   countIf(action = '{A.SUBMIT_BLOCKED}') AS blocked,
                   countIf(action = '{A.POST_PUBLISHED}') AS published,
                   countIf(action = '{A.ERROR}') AS errors,
                   dateDiff('millisecond', min(occurred_at), max(occurred_at)) / 1000 AS seconds,
                   groupUniqArrayIf(linked, linked != '') AS posts
            FROM (
                SELECT JSONExtractString(payload, 'mode') AS mode,
                       JSONExtractString(payload, 'session_id') AS session,
                       JSONExtractString(payload, 'user') AS user,
                       JSONExtractString(payload, 'action') AS action,
                       JSONExtractString(payload, 'metadata', 'event_id') AS linked,
                       occurred_at
                FROM events FINAL
                WHERE tenant = {{tenant:String}} AND kind = 'activity'
                  AND occurred_at >= {{since:DateTime64(3, 'UTC')}}
                  AND occurred_at < {{until:DateTime64(3, 'UTC')}}
                  AND ({{source:String}} = '' OR source = {{source:String}})
            )
            GROUP BY mode, session
        ),
        judged AS (
            SELECT event_id, toxic >= {HARMFUL} AS harmful FROM verdicts FINAL
            WHERE tenant = {{tenant:String}}
              AND event_id IN (SELECT arrayJoin(posts) FROM sessions)
        ),
        linked AS (SELECT DISTINCT mode, arrayJoin(posts) AS event_id FROM sessions),
        per_mode AS (
            SELECT mode, count() AS sessions, uniqExact(user) AS users, sum(events) AS events,
                   sum(warned) AS warned, sum(cancelled) AS cancelled,
                   sum(posted_anyway) AS posted_anyway, sum(suggested) AS suggested,
                   sum(accepted) AS accepted, sum(rejected) AS rejected,
                   sum(blocked) AS blocked, sum(published) AS published, sum(errors) AS errors,
                   avg(seconds) AS seconds
            FROM sessions GROUP BY mode
        ),
        posts AS (
            SELECT l.mode AS mode, count() AS posts, countIf(j.harmful) AS harmful
            FROM linked AS l INNER JOIN judged AS j ON l.event_id = j.event_id
            GROUP BY l.mode
        )
        SELECT m.*, p.posts AS posts, p.harmful AS harmful
        FROM per_mode AS m LEFT JOIN posts AS p ON m.mode = p.mode
        ORDER BY m.mode
        """,  # noqa: S608 - constants (threshold, action names), values bound
        params,
    )
    return ComposerActivity(
        data=[
            ModeActivity(
                mode=r["mode"],
                sessions=r["sessions"],
                users=r["users"],
                events=r["events"],
                warnings=_funnel(r["warned"], r["cancelled"], r["posted_anyway"]),
                rewrites=_funnel(r["suggested"], r["accepted"], r["rejected"]),
                blocked=r["blocked"],
                published=r["published"],
                errors=r["errors"],
                avg_session_seconds=round(float(r["seconds"]), 3),
                posts=r["posts"],
                harmful_posts=r["harmful"],
                harmful_rate=r["harmful"] / r["posts"] if r["posts"] else None,
            )
            for r in rows
        ]
    )
