"""Rules in the wire records: what fired on a verdict, and what a shadow rule would have done.

A tenant's rules (docs/rules.md) run in the stream worker after the models and before the
verdict. A verdict records the rules that fired and their versions (`Verdict.rules`, absent
when the tenant has no rules, so older consumers see the contract unchanged). A shadow rule's
would-be actions are not applied: they are recorded in the verdict and published on
`rules.shadow` (`ShadowRecord`), from where they reach the warehouse.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import SCHEMA_VERSION
from schemas.records import Decision, RuleAction

__all__ = ["ShadowRecord"]


class ShadowRecord(BaseModel):
    """A shadow rule fired: what it would have done, beside what was done."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    tenant: str
    event_id: str
    author: str
    rule: str
    version: str
    ruleset_version: int = Field(ge=0)
    actions: list[RuleAction]
    live_decision: Decision = Field(description="The verdict's decision, as published.")
    shadow_decision: Decision = Field(
        description="The decision had the shadow rules been live (with the live ones)."
    )
    judged_at: AwareDatetime

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"
