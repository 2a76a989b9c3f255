"""A decision policy as a document: what a tenant admin sends to `PUT /v1/tenant/policy`, what the
accounts store keeps, and what the operator's policy file (`MODSTREAM_POLICY_FILE`) holds.

Each band says: approve at or below `low`, reject above `high`, review between. What a document
leaves out is inherited (a tenant's document from the operator's policy for it, that from the
operator's default), so a tenant can tighten one label without restating the rest.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, Strict, StringConstraints, model_validator

from schemas.records import Decision

__all__ = ["Band", "PolicyDocument"]

LabelName = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]{0,31}$")]


class Band(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    # Strict: a number, as the schema says (`false` is not 0).
    low: Annotated[float, Strict()] = Field(ge=0.0, le=1.0, description="Approve at or below.")
    high: Annotated[float, Strict()] = Field(
        ge=0.0, le=1.0, description="Reject above; review between."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Band:
        if self.low > self.high:
            raise ValueError(f"low ({self.low}) must not be above high ({self.high})")
        return self


class PolicyDocument(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        frozen=True,
        json_schema_extra={
            "examples": [
                {
                    "toxic": {"low": 0.3, "high": 0.9},
                    "labels": {"identity_hate": {"low": 0.1, "high": 0.5}},
                    "unknown_language": "review",
                }
            ]
        },
    )

    toxic: Band | None = Field(default=None, description="Bands of the overall score.")
    labels: dict[LabelName, Band] = Field(
        default_factory=dict,
        max_length=32,
        description="Bands per label; the most severe decision of all bands wins. A label the "
        "models do not score never votes.",
    )
    unknown_language: Decision | None = Field(
        default=None, description="A fixed decision for text in a language the models lack."
    )

    @classmethod
    def from_flat(cls, doc: Mapping[str, Any]) -> PolicyDocument:
        """The policy file's shape: `{"toxic": [low, high], "<label>": [low, high],
        "unknown_language": "review"}`. Raises `pydantic.ValidationError`."""
        if not isinstance(doc, Mapping):
            raise TypeError(f"a policy is a JSON object, not {type(doc).__name__}")

        def band(value: Any) -> Any:
            if isinstance(value, (list, tuple)) and len(value) == 2:
                return {"low": value[0], "high": value[1]}
            return value  # let validation say what is wrong with it

        return cls.model_validate(
            {
                "toxic": band(doc["toxic"]) if "toxic" in doc else None,
                "labels": {
                    k: band(v) for k, v in doc.items() if k not in ("toxic", "unknown_language")
                },
                "unknown_language": doc.get("unknown_language"),
            }
        )
