"""What the stream workers emit: verdicts, and dead letters for input they could not judge."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from schemas.events import SCHEMA_VERSION, Kind


class Decision(StrEnum):
    APPROVE = "approve"
    REVIEW = "review"
    REJECT = "reject"


Span = Annotated[
    tuple[int, int], Field(description="Character range [start, end) of the text, as sent.")
]
Score = Annotated[float, Field(ge=0.0, le=1.0)]


class RewriteSuggestion(BaseModel):
    """A gentler wording offered for a toxic text; `text` is null when none could be made."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str | None = Field(
        description="The suggested text, judged non-toxic under the tenant's policy; null when "
        "no such rewrite was found."
    )
    toxic: Score | None = Field(
        default=None, description="The classifier's toxic score of the suggestion."
    )
    source: Literal["offline", "llm"] = Field(
        description="`offline`: the span-guided lexicon rewriter; `llm`: an OpenAI-compatible "
        "chat endpoint."
    )
    note: str | None = Field(
        default=None,
        max_length=500,
        description="Why there is no suggestion, or why the chat endpoint was not used.",
    )


class ContextEffect(BaseModel):
    """How the thread context (parent first) was weighed for this verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    items: int = Field(ge=0, description="Context texts read (parent first, bounded).")
    toxic_alone: Score = Field(description="The text's toxic score without its context.")
    toxic_in_context: Score | None = Field(
        default=None,
        description="The score of the text read together with its context; null when the "
        "text does not lean on its context (it stands alone).",
    )
    raised: bool = Field(
        description="Whether the context raised the verdict's score (an echo or endorsement "
        "of a toxic parent)."
    )


ActionKind = Literal["decision", "label", "queue", "webhook", "block_author", "hold"]


class RuleAction(BaseModel):
    """One action of a rule. Queues, webhooks, author blocks and holds are recorded here for the
    services that carry them out; the decision and labels are applied by the worker itself."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: ActionKind
    value: str = Field(
        default="",
        description="The decision, label, queue or webhook name; a hold's seconds; empty for "
        "`block_author`.",
    )


class FiredRule(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    rule: str
    version: str = Field(description="A digest of the rule's text: it changes when the rule does.")
    actions: list[RuleAction]


class RulesOutcome(BaseModel):
    """What the tenant's rules did to a verdict."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    ruleset_version: int = Field(ge=0, description="The tenant's rule-set version in force.")
    policy_decision: Decision = Field(description="The policy's decision, before the rules.")
    fired: list[FiredRule] = Field(default_factory=list, description="Live rules that fired.")
    shadow: list[FiredRule] = Field(
        default_factory=list, description="Shadow rules that would have fired (not applied)."
    )
    labels: list[str] = Field(default_factory=list, description="Labels the live rules added.")
    counters: dict[str, int] = Field(
        default_factory=dict, description="Each declared counter's count for this item."
    )


class Verdict(BaseModel):
    """One judged item. Verdict topics are a public contract: subscribe to them directly."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    event_id: str
    tenant: str
    source: str
    kind: Kind
    item_id: str = Field(description="The upstream id of the item (external id, message id, …).")
    author: str
    occurred_at: AwareDatetime
    judged_at: AwareDatetime
    decision: Decision
    toxic: Score = Field(description="Overall probability that the item is harmful.")
    scores: dict[str, Score] = Field(default_factory=dict, description="Probability per label.")
    lang: str = Field(description="Detected (or given) language; `und` when unknown.")
    spans: list[Span] = Field(
        default_factory=list,
        description="Character ranges [start, end) of the words responsible; given for every "
        "text scored above 0.2 toxic.",
    )
    model_version: str
    policy_version: str
    duplicate_of: str | None = Field(
        default=None, description="Event whose identical content supplied these scores."
    )
    latency_ms: float = Field(ge=0.0, description="occurred_at → judged_at, in milliseconds.")
    rewrite: RewriteSuggestion | None = Field(
        default=None, description="For toxic text (review or reject): a gentler wording."
    )
    context: ContextEffect | None = Field(
        default=None, description="Set when the post carried thread context that was read."
    )
    rules: RulesOutcome | None = Field(
        default=None,
        description="What the tenant's rules did (docs/rules.md); absent when it has none.",
    )

    @property
    def partition_key(self) -> str:
        return f"{self.tenant}:{self.author}"


class DeadLetterReason(StrEnum):
    INVALID_JSON = "invalid_json"
    SCHEMA_VIOLATION = "schema_violation"
    OVERSIZED = "oversized"
    WRONG_TOPIC = "wrong_topic"
    PROCESSING_ERROR = "processing_error"


class DeadLetter(BaseModel):
    """A record a worker could not judge, with the reason and the raw bytes (for replay)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    schema_version: Literal[1] = SCHEMA_VERSION
    topic: str
    partition: int
    offset: int
    reason: DeadLetterReason
    detail: str = Field(max_length=4_000)
    raw: str = Field(description="The original value, UTF-8 decoded with replacement, truncated.")
    raw_size: int = Field(ge=0, description="Size of the original value in bytes.")
    tenant: str | None = None
    event_id: str | None = None
    failed_at: AwareDatetime
