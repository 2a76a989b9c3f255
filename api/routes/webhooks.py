"""Webhook endpoints of a tenant and their delivery log (tenant admins)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy import select

from api.deps import StateDep, TenantAdmin
from api.errors import responses
from api.review import webhooks
from infra.accounts.review import WebhookDelivery, WebhookEndpoint
from schemas.records import Decision

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

HookPath = Annotated[int, Path(ge=1, le=2**62, examples=[1])]
PORT = r"(?:6553[0-5]|655[0-2]\d|65[0-4]\d{2}|6[0-4]\d{3}|[1-5]\d{4}|\d{1,4})"
URL_PATTERN = (
    r"^[Hh][Tt][Tt][Pp][Ss]?://[A-Za-z0-9._~%!$&'()*+,;=\-]+(?::" + PORT + r")?(?:[/?#]\S*)?$"
)
"""What a webhook URL may be, stated whole: everything it matches has a host and a valid port."""


class WebhookIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            # `verdict_decisions` narrow the `verdict` event, so they need it among `events`
            # (the default, `action` and `notice`, has not): stated here as the API holds it.
            # and `webhook_names` narrow the `rule` event in the same way.
            "allOf": [
                {
                    "if": {
                        "required": ["verdict_decisions"],
                        "properties": {"verdict_decisions": {"minItems": 1}},
                    },
                    "then": {
                        "required": ["events"],
                        "properties": {"events": {"contains": {"const": "verdict"}}},
                    },
                },
                {
                    "if": {
                        "required": ["webhook_names"],
                        "properties": {"webhook_names": {"minItems": 1}},
                    },
                    "then": {
                        "required": ["events"],
                        "properties": {"events": {"contains": {"const": "rule"}}},
                    },
                },
            ],
            "examples": [
                {"url": "https://app.example.com/hooks/modstream", "events": ["notice"]},
                {
                    "url": "https://app.example.com/hooks/removals",
                    "events": ["action", "verdict"],
                    "verdict_decisions": ["reject", "review"],
                },
                {
                    "url": "https://app.example.com/hooks/escalate",
                    "events": ["rule"],
                    "webhook_names": ["escalate"],
                },
            ],
        },
    )

    url: str = Field(
        min_length=8,
        max_length=2000,
        pattern=URL_PATTERN,
        examples=["https://app.example.com/hooks/modstream"],
        description="http(s)://host[:port][/path]; delivered under the outbound address policy.",
    )
    events: list[str] = Field(
        default_factory=lambda: list(webhooks.DEFAULT_EVENTS),
        max_length=4,
        description="Any of `action` (every decision), `notice` (notices to deliver), "
        "`verdict` (every verdict of the models; opt-in) and `rule` (a live rule's "
        '`webhook "NAME"` action; opt-in). Default: `action` and `notice`.',
        json_schema_extra={
            "minItems": 1,
            "items": {"type": "string", "enum": list(webhooks.EVENT_TYPES)},
        },
    )
    verdict_decisions: list[Decision] = Field(
        default_factory=list,
        max_length=3,
        description="With `verdict`: only verdicts of these decisions (e.g. `reject`, "
        "`review`). Empty: all.",
    )
    webhook_names: list[Annotated[str, Field(pattern=webhooks.WEBHOOK_NAME)]] = Field(
        default_factory=list,
        max_length=16,
        examples=[["escalate"]],
        description='With `rule`: only the rules\' `webhook "NAME"` actions of these names. '
        "Empty: all.",
    )


class WebhookOut(BaseModel):
    id: int
    url: str
    events: list[str]
    verdict_decisions: list[str] = Field(description="Empty: every verdict, if subscribed.")
    webhook_names: list[str] = Field(description="Empty: every rule webhook, if subscribed.")
    active: bool
    created_at: AwareDatetime


class WebhookCreated(WebhookOut):
    secret: str = Field(
        description="Shown once. Verify `Modstream-Signature: t=<unix s>,v1=<hex>`: HMAC-SHA256 "
        "with this secret over `<t>.<raw body>`; refuse timestamps older than five minutes."
    )


class DeliveryOut(BaseModel):
    id: int
    event_type: str
    record_id: str
    state: str = Field(description="`pending`, `delivered` or `dead` (tries exhausted).")
    attempts: int
    last_status: int | None
    last_error: str
    next_at: AwareDatetime
    created_at: AwareDatetime
    delivered_at: AwareDatetime | None


def _out(row: WebhookEndpoint) -> WebhookOut:
    events, decisions = webhooks.event_types(row.events)
    return WebhookOut(
        id=row.id, url=row.url, events=events, verdict_decisions=decisions,
        webhook_names=webhooks.webhook_names(row.events), active=row.active,
        created_at=row.created_at,
    )  # fmt: skip


@router.post(
    "",
    status_code=201,
    response_model=WebhookCreated,
    responses=responses(401, 403, 422),
    summary="Add a webhook endpoint",
    description="Deliveries are signed, retried with back-off and dead-lettered after "
    "`MODSTREAM_REVIEW_WEBHOOK_ATTEMPTS` tries. The URL must resolve to public addresses (the "
    "same guard as media fetching), unless the operator allowed its network. Verdicts are "
    "opt-in (`verdict`, optionally only some `verdict_decisions`), as are rules' webhooks "
    "(`rule`, optionally only some `webhook_names`); both are delivered at least once.",
)
def create(body: WebhookIn, principal: TenantAdmin, state: StateDep) -> WebhookCreated:
    box = webhooks.cipher(state.settings.accounts.secret_key)
    with state.accounts.session() as session:
        row, secret = webhooks.create(
            session, principal.tenant, body.url, body.events, box,
            [d.value for d in body.verdict_decisions], body.webhook_names,
        )  # fmt: skip
        return WebhookCreated(**_out(row).model_dump(), secret=secret)


@router.get("", response_model=list[WebhookOut], responses=responses(401, 403))
def list_webhooks(principal: TenantAdmin, state: StateDep) -> list[WebhookOut]:
    """The tenant's endpoints."""
    with state.accounts.session() as session:
        rows = session.scalars(
            select(WebhookEndpoint).where(WebhookEndpoint.tenant == principal.tenant)
        ).all()
        return [_out(r) for r in rows]


@router.delete("/{hook}", status_code=204, responses=responses(401, 403, 404))
def delete(hook: HookPath, principal: TenantAdmin, state: StateDep) -> Response:
    """Stop delivering to an endpoint (its log is kept)."""
    with state.accounts.session() as session:
        webhooks.endpoint(session, principal.tenant, hook).active = False
    return Response(status_code=204)


@router.get(
    "/{hook}/deliveries",
    response_model=list[DeliveryOut],
    responses=responses(401, 403, 404),
    summary="An endpoint's delivery log, newest first",
)
def deliveries(
    hook: HookPath,
    principal: TenantAdmin,
    state: StateDep,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
) -> list[DeliveryOut]:
    with state.accounts.session() as session:
        webhooks.endpoint(session, principal.tenant, hook)
        rows = session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == hook)
            .order_by(WebhookDelivery.id.desc())
            .limit(limit)
        ).all()
        return [DeliveryOut.model_validate(r, from_attributes=True) for r in rows]
