"""Strikes and blocks: what the strikes agent publishes, and what moderators send to lift a block.

A *strike* is one rejected verdict or reviewer's removal of an author's item, counted once (keyed
by the item's event id), and taken back when a reviewer approves or restores the item.
An author who reaches the tenant's limit within the window is *blocked* from chatting and posting
until a moderator lifts the block. Both are keyed `tenant:author`, like the verdicts they count.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import SCHEMA_VERSION


class Strike(BaseModel):
    """One counted strike (`authors.strikes`). `strike_id` is `strike:<verdict event id>`: a
    replay republishes the same id, and the warehouse keeps one."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    strike_id: str
    tenant: str
    author: str
    verdict_event_id: str
    source: str
    occurred_at: AwareDatetime = Field(description="When the offending item was sent.")
    strikes: int = Field(ge=1, description="The author's strikes in the window, this one included.")
    limit: int = Field(ge=1)
    window_s: int = Field(ge=1)
    revoked: bool = Field(
        default=False,
        description="True on the record that takes the strike back: a reviewer approved the "
        "item or overturned its removal on appeal. Same `strike_id`: it replaces the first.",
    )

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"


class BlockAction(StrEnum):
    BLOCK = "block"
    UNBLOCK = "unblock"


class BlockChange(BaseModel):
    """An author blocked (by the strikes agent) or unblocked (by a moderator), on
    `authors.blocks`; the latest record per author is the author's state."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    change_id: str = Field(description="Stable across retries: the warehouse keeps one.")
    tenant: str
    author: str
    action: BlockAction
    at: AwareDatetime
    actor: str = Field(description="`strikes` for the agent, `user:…`/`token:…` for moderators.")
    strikes: int = Field(default=0, ge=0, description="Strikes in the window when blocked.")
    reason: str = Field(default="", max_length=1_000)

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"
