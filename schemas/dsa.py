"""A statement of reasons in the format of the EU DSA Transparency Database API
(`POST /api/v1/statements`, batches of up to 100), as a JSON Schema.

Transcribed by hand from the database's public API documentation (the field list and the allowed
values of each field, as documented for the harmonised categories in force since 1 July 2025),
not generated from a machine-readable source: none is published. Only the fields Modstream fills
or may fill are listed with their documented constraints; the conditional requirements the
documentation states (an explanation for the chosen ground, `…_other` for an `…_OTHER` value)
are expressed with `if`/`then`. Check it against the current documentation before submitting.
"""

from __future__ import annotations

from typing import Any, Final

VISIBILITY: Final = (
    "DECISION_VISIBILITY_CONTENT_REMOVED",
    "DECISION_VISIBILITY_CONTENT_DISABLED",
    "DECISION_VISIBILITY_CONTENT_DEMOTED",
    "DECISION_VISIBILITY_CONTENT_AGE_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_INTERACTION_RESTRICTED",
    "DECISION_VISIBILITY_CONTENT_LABELLED",
    "DECISION_VISIBILITY_OTHER",
)
MONETARY: Final = (
    "DECISION_MONETARY_SUSPENSION",
    "DECISION_MONETARY_TERMINATION",
    "DECISION_MONETARY_OTHER",
)
PROVISION: Final = (
    "DECISION_PROVISION_PARTIAL_SUSPENSION",
    "DECISION_PROVISION_TOTAL_SUSPENSION",
    "DECISION_PROVISION_PARTIAL_TERMINATION",
    "DECISION_PROVISION_TOTAL_TERMINATION",
)
ACCOUNT: Final = ("DECISION_ACCOUNT_SUSPENDED", "DECISION_ACCOUNT_TERMINATED")
ACCOUNT_TYPE: Final = ("ACCOUNT_TYPE_BUSINESS", "ACCOUNT_TYPE_PRIVATE")
GROUND: Final = ("DECISION_GROUND_ILLEGAL_CONTENT", "DECISION_GROUND_INCOMPATIBLE_CONTENT")
CONTENT_TYPE: Final = (
    "CONTENT_TYPE_APP",
    "CONTENT_TYPE_AUDIO",
    "CONTENT_TYPE_IMAGE",
    "CONTENT_TYPE_PRODUCT",
    "CONTENT_TYPE_SYNTHETIC_MEDIA",
    "CONTENT_TYPE_TEXT",
    "CONTENT_TYPE_VIDEO",
    "CONTENT_TYPE_OTHER",
)
CATEGORY: Final = (
    "STATEMENT_CATEGORY_ANIMAL_WELFARE",
    "STATEMENT_CATEGORY_DATA_PROTECTION_AND_PRIVACY_VIOLATIONS",
    "STATEMENT_CATEGORY_ILLEGAL_OR_HARMFUL_SPEECH",
    "STATEMENT_CATEGORY_INTELLECTUAL_PROPERTY_INFRINGEMENTS",
    "STATEMENT_CATEGORY_NEGATIVE_EFFECTS_ON_CIVIC_DISCOURSE_OR_ELECTIONS",
    "STATEMENT_CATEGORY_NON_CONSENSUAL_BEHAVIOUR",
    "STATEMENT_CATEGORY_PORNOGRAPHY_OR_SEXUALIZED_CONTENT",
    "STATEMENT_CATEGORY_PROTECTION_OF_MINORS",
    "STATEMENT_CATEGORY_RISK_FOR_PUBLIC_SECURITY",
    "STATEMENT_CATEGORY_SCAMS_AND_FRAUD",
    "STATEMENT_CATEGORY_SELF_HARM",
    "STATEMENT_CATEGORY_SCOPE_OF_PLATFORM_SERVICE",
    "STATEMENT_CATEGORY_UNSAFE_AND_PROHIBITED_PRODUCTS",
    "STATEMENT_CATEGORY_VIOLENCE",
)
SOURCE_TYPE: Final = (
    "SOURCE_ARTICLE_16",
    "SOURCE_TRUSTED_FLAGGER",
    "SOURCE_TYPE_OTHER_NOTIFICATION",
    "SOURCE_VOLUNTARY",
)
AUTOMATED_DECISION: Final = (
    "AUTOMATED_DECISION_FULLY",
    "AUTOMATED_DECISION_PARTIALLY",
    "AUTOMATED_DECISION_NOT_AUTOMATED",
)
YES_NO: Final = ("Yes", "No")
EEA: Final = (
    "AT", "BE", "BG", "CY", "CZ", "DE", "DK", "EE", "ES", "FI", "FR", "GR", "HR", "HU", "IE",
    "IS", "IT", "LI", "LT", "LU", "LV", "MT", "NL", "NO", "PL", "PT", "RO", "SE", "SI", "SK",
)  # fmt: skip
BATCH_MAX: Final = 100
"""Statements per request, as documented."""

_DATE = {"type": "string", "pattern": r"^\d{4}-\d{2}-\d{2}$"}


def _enum(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "string", "enum": list(values)}


def _many(values: tuple[str, ...]) -> dict[str, Any]:
    return {"type": "array", "items": _enum(values), "minItems": 1, "uniqueItems": True}


def _text(limit: int) -> dict[str, Any]:
    return {"type": "string", "minLength": 1, "maxLength": limit}


def _needs(field: str, value: str, then: list[str], array: bool = False) -> dict[str, Any]:
    test: dict[str, Any] = {"contains": {"const": value}} if array else {"const": value}
    return {
        "if": {"properties": {field: test}, "required": [field]},
        "then": {"required": then},
    }


STATEMENT_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "dsa_statement_of_reasons",
    "title": "Statement of reasons (EU DSA Transparency Database API)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "decision_visibility": _many(VISIBILITY),
        "decision_visibility_other": _text(500),
        "end_date_visibility_restriction": _DATE,
        "decision_monetary": _enum(MONETARY),
        "decision_monetary_other": _text(500),
        "end_date_monetary_restriction": _DATE,
        "decision_provision": _enum(PROVISION),
        "end_date_service_restriction": _DATE,
        "decision_account": _enum(ACCOUNT),
        "end_date_account_restriction": _DATE,
        "account_type": _enum(ACCOUNT_TYPE),
        "decision_ground": _enum(GROUND),
        "decision_ground_reference_url": {"type": "string", "format": "uri", "maxLength": 500},
        "illegal_content_legal_ground": _text(500),
        "illegal_content_explanation": _text(2000),
        "incompatible_content_ground": _text(500),
        "incompatible_content_explanation": _text(2000),
        "incompatible_content_illegal": _enum(YES_NO),
        "content_type": _many(CONTENT_TYPE),
        "content_type_other": _text(500),
        "category": _enum(CATEGORY),
        "category_addition": {"type": "array", "items": _enum(CATEGORY), "uniqueItems": True},
        "category_specification": {
            "type": "array",
            "items": {"type": "string", "pattern": "^KEYWORD_[A-Z_]+$"},
            "uniqueItems": True,
        },
        "category_specification_other": _text(500),
        "territorial_scope": {"type": "array", "items": _enum(EEA), "uniqueItems": True},
        "content_language": {"type": "string", "pattern": "^[A-Z]{2}$"},
        "content_date": _DATE,
        "application_date": _DATE,
        "decision_facts": _text(5000),
        "source_type": _enum(SOURCE_TYPE),
        "source_identity": _text(500),
        "automated_detection": _enum(YES_NO),
        "automated_decision": _enum(AUTOMATED_DECISION),
        "puid": {"type": "string", "minLength": 1, "maxLength": 500},
    },
    "required": [
        "decision_ground",
        "content_type",
        "category",
        "content_date",
        "application_date",
        "decision_facts",
        "source_type",
        "automated_detection",
        "automated_decision",
        "puid",
    ],
    "anyOf": [
        {"required": ["decision_visibility"]},
        {"required": ["decision_monetary"]},
        {"required": ["decision_provision"]},
        {"required": ["decision_account"]},
    ],
    "allOf": [
        _needs(
            "decision_ground",
            "DECISION_GROUND_ILLEGAL_CONTENT",
            ["illegal_content_legal_ground", "illegal_content_explanation"],
        ),
        _needs(
            "decision_ground",
            "DECISION_GROUND_INCOMPATIBLE_CONTENT",
            ["incompatible_content_ground", "incompatible_content_explanation"],
        ),
        _needs(
            "decision_visibility",
            "DECISION_VISIBILITY_OTHER",
            ["decision_visibility_other"],
            array=True,
        ),
        _needs("decision_monetary", "DECISION_MONETARY_OTHER", ["decision_monetary_other"]),
        _needs("content_type", "CONTENT_TYPE_OTHER", ["content_type_other"], array=True),
    ],
}

BATCH_SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "dsa_statements_batch",
    "title": "A batch of statements of reasons (POST /api/v1/statements)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "statements": {
            "type": "array",
            "minItems": 1,
            "maxItems": BATCH_MAX,
            "items": {k: v for k, v in STATEMENT_SCHEMA.items() if k not in ("$schema", "$id")},
        }
    },
    "required": ["statements"],
}
