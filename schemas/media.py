"""Media wire records: the media verdict (a public contract, like the text one) and bank entries.

A media verdict carries the hashes it computed and the matches it found, so subscribers see why an
image was rejected, and so workers can rebuild their near-duplicate index by replaying the topic.
A bank entry is one known hash in an operator's bank; the latest record per `entry_id` wins, so
replaying the whole `media.banks` topic from the start always gives the current banks.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints

from schemas.events import SCHEMA_VERSION, Identifier, Kind, Name
from schemas.records import Decision, Score


class HashType(StrEnum):
    PDQ = "pdq"
    """Meta's 256-bit perceptual hash; near-duplicates within Hamming distance ~31."""
    PHASH = "phash"
    """64-bit DCT perceptual hash (imagehash); near-duplicates within ~10."""
    SHA256 = "sha256"
    """The exact bytes; matches only identical files."""


HexHash = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{16,64}$")]


class MediaHash(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    hash_type: HashType
    value: HexHash
    at_s: float | None = Field(default=None, description="Video frame time in seconds.")


class MatchKind(StrEnum):
    BANK = "bank"
    """A hash in an operator's bank of known content."""
    SEEN = "seen"
    """Media judged earlier for the same tenant."""


class MediaMatch(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: MatchKind
    hash_type: HashType
    distance: int = Field(ge=0)
    decision: Decision = Field(description="The decision the matched entry carries.")
    label: str | None = None
    bank: str | None = None
    entry_id: str | None = Field(default=None, description="The bank entry, for bank matches.")
    event_id: str | None = Field(default=None, description="The earlier event, for seen matches.")
    at_s: float | None = Field(default=None, description="Video frame time of the match.")
    quarantined: bool = Field(
        default=False, description="The bank entry is quarantined: the match only asks review."
    )


class MediaVerdict(BaseModel):
    """One judged image or video. `verdicts.media` is a public contract: subscribe directly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str
    tenant: str
    source: str
    kind: Literal[Kind.MEDIA] = Kind.MEDIA
    item_id: str
    author: str
    occurred_at: AwareDatetime
    judged_at: AwareDatetime
    media_type: Literal["image", "video"] = Field(description="As sniffed from the bytes.")
    url: str
    decision: Decision
    reason: str = Field(
        description="Why: bank_match, seen_match, classifier, default, or a fetch/decode code "
        "(refused_address, too_large, unsupported_type, …) that sends the item to review."
    )
    detail: str | None = Field(default=None, max_length=1_000)
    content_type: str | None = None
    size_bytes: int | None = Field(default=None, ge=0)
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    hashes: list[MediaHash] = Field(default_factory=list)
    matches: list[MediaMatch] = Field(default_factory=list)
    scores: dict[str, Score] = Field(default_factory=dict, description="Classifier scores.")
    model_version: str | None = None
    policy_version: str
    duplicate_of: str | None = Field(
        default=None, description="The earlier event whose judgement this one reuses."
    )
    latency_ms: float = Field(ge=0.0)

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"


class BankStatus(StrEnum):
    ACTIVE = "active"
    QUARANTINED = "quarantined"
    """Matched far more than usual: matches go to review until an operator re-activates it."""
    REMOVED = "removed"


class BankEntry(BaseModel):
    """One hash of an operator's bank. The latest record per (tenant, entry_id) wins."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    tenant: Name
    bank: Name
    entry_id: Identifier = Field(description="Stable: `bank:hash_type:hash` unless given.")
    hash_type: HashType
    value: HexHash
    label: str = Field(max_length=128)
    source: str = Field(max_length=256, description="Where the list came from.")
    decision: Decision = Field(description="What a match decides: reject (known-bad) or approve.")
    status: BankStatus = BankStatus.ACTIVE
    note: str | None = Field(default=None, max_length=1_000)
    updated_at: AwareDatetime

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.entry_id}"
