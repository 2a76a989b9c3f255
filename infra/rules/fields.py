"""What a rule can read: the item, its verdict so far, the author's history and counters.

Each field has a type (checked when rules are compiled, so a rule never fails on an event) and a
default (what an absent value reads as). `scores.<label>` reads any label's score (0 when the
models did not score it); a counter reads as its name.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Type(StrEnum):
    NUMBER = "number"
    STRING = "string"
    BOOL = "boolean"
    LIST = "list"


DEFAULTS = {Type.NUMBER: 0.0, Type.STRING: "", Type.BOOL: False, Type.LIST: ()}


@dataclass(frozen=True, slots=True)
class FieldSpec:
    type: Type
    doc: str


FIELDS: dict[str, FieldSpec] = {
    "toxic": FieldSpec(Type.NUMBER, "Overall probability that the item is harmful (0-1)."),
    "decision": FieldSpec(Type.STRING, "The policy's decision before the rules."),
    "lang": FieldSpec(Type.STRING, "Detected or given language (`und` when unknown)."),
    "source": FieldSpec(Type.STRING, "Where the item came from (x, chat, comments…)."),
    "kind": FieldSpec(Type.STRING, "`post` or `chat_message`."),
    "author": FieldSpec(Type.STRING, "The author's id upstream."),
    "item_id": FieldSpec(Type.STRING, "The item's id upstream."),
    "text": FieldSpec(Type.STRING, "The text as sent."),
    "url": FieldSpec(Type.STRING, "The first link in the text, lower-cased; empty if none."),
    "content_hash": FieldSpec(Type.STRING, "A digest of the text up to case and spacing."),
    "spans": FieldSpec(Type.NUMBER, "How many toxic spans were found."),
    "duplicate": FieldSpec(Type.BOOL, "Whether identical content was judged before."),
    "context.items": FieldSpec(Type.NUMBER, "Thread context texts read (parent first)."),
    "author.items": FieldSpec(Type.NUMBER, "The author's items in the last 30 days, this one too."),
    "author.harmful": FieldSpec(
        Type.NUMBER, "The author's items in the last 30 days the policy did not approve."
    ),
    "author.harmful_share": FieldSpec(Type.NUMBER, "`author.harmful / author.items` (0-1)."),
    "author.age": FieldSpec(
        Type.NUMBER, "Seconds since the author's first item (within 30 days; 0 for a first item)."
    ),
}

AUTHOR_HISTORY_DAYS = 30
"""How far back `author.*` looks (the counters' store keeps no more)."""

SCORES_PREFIX = "scores."


def field_type(path: str) -> Type | None:
    if path.startswith(SCORES_PREFIX) and len(path) > len(SCORES_PREFIX):
        return Type.NUMBER
    spec = FIELDS.get(path)
    return None if spec is None else spec.type
