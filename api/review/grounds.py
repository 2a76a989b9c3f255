"""The ground of a statement of reasons, from the taxonomy's reason: illegal content (with its
legal ground) or content incompatible with the terms of service, each with its explanation,
as the Transparency Database requires for the ground chosen. Shared by reviewers' and the
models' statements."""

from __future__ import annotations

from typing import Any

from schemas.moderation import Reason


def ground_fields(reason: Reason, facts: str) -> dict[str, Any]:
    if reason.ground == "illegal":
        return {
            "decision_ground": "DECISION_GROUND_ILLEGAL_CONTENT",
            "illegal_content_legal_ground": f"Law applicable to {reason.title.lower()}",
            "illegal_content_explanation": facts,
        }
    return {
        "decision_ground": "DECISION_GROUND_INCOMPATIBLE_CONTENT",
        "incompatible_content_ground": f"Terms of service: {reason.title}",
        "incompatible_content_explanation": facts,
    }
