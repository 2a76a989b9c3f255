"""Decision policies: scores in, approve / review / reject out, per tenant.

A policy has thresholds for the overall `toxic` score and, optionally, for single labels: each
scored label votes approve (≤ low), review (between) or reject (> high), and the most severe vote
wins. So a tenant can reject identity hate at 0.5 while tolerating profanity up to 0.9. Texts in a
language the models do not support can be sent to a fixed decision (`unknown_language`).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from schemas.records import Decision

_SEVERITY = {Decision.APPROVE: 0, Decision.REVIEW: 1, Decision.REJECT: 2}


@dataclass(frozen=True, slots=True)
class Thresholds:
    low: float = 0.2
    high: float = 0.8

    def __post_init__(self) -> None:
        if not 0.0 <= self.low <= self.high <= 1.0:
            raise ValueError(f"need 0 <= low <= high <= 1, got low={self.low} high={self.high}")

    def decide(self, score: float) -> Decision:
        if score <= self.low:
            return Decision.APPROVE
        if score > self.high:
            return Decision.REJECT
        return Decision.REVIEW


@dataclass(frozen=True, slots=True)
class DecisionPolicy:
    """Approve at or below `low`, reject above `high`, review between; per-label overrides."""

    low: float = 0.2
    high: float = 0.8
    labels: Mapping[str, Thresholds] = field(default_factory=dict)
    unknown_language: Decision | None = None

    def __post_init__(self) -> None:
        Thresholds(self.low, self.high)  # validates

    @property
    def version(self) -> str:
        if not self.labels and self.unknown_language is None:
            return f"threshold-v1:{self.low:g}/{self.high:g}"
        digest = hashlib.sha256(json.dumps(self.to_json(), sort_keys=True).encode()).hexdigest()
        return f"threshold-v1:{digest[:12]}"

    def decide(
        self, toxic: float, labels: Mapping[str, float] | None = None, lang: str | None = None
    ) -> Decision:
        if lang == "und" and self.unknown_language is not None:
            return self.unknown_language
        decision = Thresholds(self.low, self.high).decide(toxic)
        for label, thresholds in self.labels.items():
            score = (labels or {}).get(label)
            if score is not None:
                vote = thresholds.decide(score)
                if _SEVERITY[vote] > _SEVERITY[decision]:
                    decision = vote
        return decision

    def to_json(self) -> dict[str, Any]:
        doc: dict[str, Any] = {"toxic": [self.low, self.high]}
        doc |= {label: [t.low, t.high] for label, t in self.labels.items()}
        if self.unknown_language is not None:
            doc["unknown_language"] = self.unknown_language.value
        return doc

    @classmethod
    def from_json(
        cls, doc: Mapping[str, Any], base: DecisionPolicy | None = None
    ) -> DecisionPolicy:
        """`{"toxic": [low, high], "<label>": [low, high], "unknown_language": "review"}`;
        what is not given is taken from `base`."""
        base = base or cls()
        low, high = doc.get("toxic", (base.low, base.high))
        labels = dict(base.labels)
        unknown = base.unknown_language
        for key, value in doc.items():
            if key == "unknown_language":
                unknown = Decision(value)
            elif key != "toxic":
                labels[key] = Thresholds(*value)
        return cls(float(low), float(high), labels, unknown)


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """The default policy and each tenant's own (which starts from the default)."""

    default: DecisionPolicy = field(default_factory=DecisionPolicy)
    tenants: Mapping[str, DecisionPolicy] = field(default_factory=dict)

    def for_tenant(self, tenant: str) -> DecisionPolicy:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def load(cls, path: Path | None, default: DecisionPolicy) -> PolicyBook:
        """Read `{"default": {...}, "tenants": {"acme": {...}}}` (see DecisionPolicy.from_json)."""
        if path is None:
            return cls(default)
        doc = json.loads(path.read_text("utf-8"))
        base = DecisionPolicy.from_json(doc.get("default", {}), default)
        tenants = {t: DecisionPolicy.from_json(p, base) for t, p in doc.get("tenants", {}).items()}
        return cls(base, tenants)
