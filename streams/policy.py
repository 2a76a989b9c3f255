"""Decision policies: scores in, approve / review / reject out, per tenant.

A policy has thresholds for the overall `toxic` score and, optionally, for single labels: each
scored label votes approve (≤ low), review (between) or reject (> high), and the most severe vote
wins. So a tenant can reject identity hate at 0.5 while tolerating profanity up to 0.9. Texts in a
language the models do not support can be sent to a fixed decision (`unknown_language`).

Where policies come from, each laid over the one before: the settings' thresholds, the operator's
policy file (`MODSTREAM_POLICY_FILE`: a default and per-tenant entries), and each tenant's own
document set by its admins through `PUT /v1/tenant/policy` (read from the accounts store).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError

from infra.errors import ConfigError, ModstreamError
from infra.settings import PolicySettings
from schemas.policy import PolicyDocument
from schemas.records import Decision

log = logging.getLogger(__name__)

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
    def from_document(
        cls, doc: PolicyDocument, base: DecisionPolicy | None = None
    ) -> DecisionPolicy:
        """What `doc` leaves out is taken from `base`."""
        base = base or cls()
        low, high = (doc.toxic.low, doc.toxic.high) if doc.toxic else (base.low, base.high)
        labels = dict(base.labels) | {k: Thresholds(b.low, b.high) for k, b in doc.labels.items()}
        return cls(low, high, labels, doc.unknown_language or base.unknown_language)


@dataclass(frozen=True, slots=True)
class PolicyBook:
    """The default policy and each tenant's own (which starts from the default)."""

    default: DecisionPolicy = field(default_factory=DecisionPolicy)
    tenants: Mapping[str, DecisionPolicy] = field(default_factory=dict)

    def for_tenant(self, tenant: str) -> DecisionPolicy:
        return self.tenants.get(tenant, self.default)

    @classmethod
    def load(cls, path: Path | None, default: DecisionPolicy) -> PolicyBook:
        """Read `{"default": {...}, "tenants": {"acme": {...}}}`, each policy in the flat shape of
        `PolicyDocument.from_flat`; raises `ConfigError` saying what is wrong."""
        if path is None:
            return cls(default)
        try:
            doc = json.loads(path.read_text("utf-8"))
            base = DecisionPolicy.from_document(
                _document(doc.get("default", {}), "default"), default
            )
            tenants = {
                t: DecisionPolicy.from_document(_document(p, f"tenants.{t}"), base)
                for t, p in doc.get("tenants", {}).items()
            }
        except (OSError, ValueError, AttributeError) as exc:
            raise ConfigError(f"policy file {path}: {exc}") from exc
        return cls(base, tenants)

    def overlaid(self, documents: Mapping[str, PolicyDocument]) -> PolicyBook:
        """This book with tenants' own documents laid over their policies."""
        tenants = dict(self.tenants)
        for tenant, doc in documents.items():
            tenants[tenant] = DecisionPolicy.from_document(doc, self.for_tenant(tenant))
        return PolicyBook(self.default, tenants)


def _document(flat: Any, where: str) -> PolicyDocument:
    try:
        return PolicyDocument.from_flat(flat)
    except ValidationError as exc:
        reasons = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise ValueError(f"{where}: {reasons}") from None
    except TypeError as exc:
        raise ValueError(f"{where}: {exc}") from None


class Policies(Protocol):
    def for_tenant(self, tenant: str) -> DecisionPolicy: ...


class LivePolicies:
    """The operator's book overlaid with what tenant admins set through the API. `refresh` (the
    worker calls it on a timer, off the event loop) re-reads the documents; if the store cannot be
    read, the last known policies stay in force and the failure is logged."""

    def __init__(
        self, base: PolicyBook, documents: Callable[[], Mapping[str, PolicyDocument]]
    ) -> None:
        self.base = base
        self._documents = documents
        self._book = base
        self._failing = False  # log a failure once, and the recovery, not every round

    def for_tenant(self, tenant: str) -> DecisionPolicy:
        return self._book.for_tenant(tenant)

    def refresh(self) -> None:
        try:
            self._book = self.base.overlaid(self._documents())
        except ModstreamError as exc:
            if not self._failing:
                log.warning("tenant policies not refreshed (last known kept): %s", exc)
            self._failing = True
            return
        if self._failing:
            log.info("tenant policies read again")
        self._failing = False


def operator_policies(settings: PolicySettings) -> PolicyBook:
    """The thresholds from settings, overlaid with the operator's policy file."""
    return PolicyBook.load(settings.file, DecisionPolicy(settings.low, settings.high))


def live_policies(settings: PolicySettings, accounts_url: str) -> LivePolicies:
    """The operator's policies overlaid with the tenants' own; call `refresh` to re-read those."""
    from infra.accounts import AccountsDB
    from infra.accounts.policies import tenant_policies

    accounts = AccountsDB(accounts_url)
    policies = LivePolicies(operator_policies(settings), lambda: tenant_policies(accounts))
    policies.refresh()
    return policies
