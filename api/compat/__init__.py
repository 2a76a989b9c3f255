"""Request and response shapes of other moderation APIs, mapped onto verdicts."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

MISSING_KEY = "missing_key"
"""`Unauthenticated.code` when a compatible route's request carries no API key at all."""


def inline_schema(model: type[BaseModel]) -> dict[str, Any]:
    """The model's JSON Schema with its `$defs` written in place, for an OpenAPI request body
    given by hand (a `#/$defs/…` reference would point into the document's root)."""
    schema = model.model_json_schema()
    defs = schema.pop("$defs", {})

    def resolve(node: Any) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref", "")
            if ref.startswith("#/$defs/"):
                return resolve(defs[ref.removeprefix("#/$defs/")])
            return {k: resolve(v) for k, v in node.items()}
        if isinstance(node, list):
            return [resolve(v) for v in node]
        return node

    return dict(resolve(schema))


def first_error(exc: ValidationError) -> str:
    """`where: what` of the first thing wrong in a body, as the vendors' messages say it."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "body"
    return f"{where}: {first['msg']}"
