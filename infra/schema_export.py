"""JSON Schema for every wire record, for producers and consumers in other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, TypeAdapter

from schemas.activity import ComposerActivity
from schemas.assist import AssistRequest, AssistResponse
from schemas.dsa import BATCH_SCHEMA, STATEMENT_SCHEMA
from schemas.events import Event
from schemas.media import BankEntry, MediaVerdict
from schemas.moderation import ModerationAction, Notice
from schemas.records import DeadLetter, Verdict
from schemas.rules import ShadowRecord
from schemas.strikes import BlockChange, Strike
from schemas.topics import CATALOGUE

RECORDS: dict[str, Any] = {
    "event": TypeAdapter(Event),
    "verdict": Verdict,
    "dead_letter": DeadLetter,
    "media_verdict": MediaVerdict,
    "bank_entry": BankEntry,
    "strike": Strike,
    "block_change": BlockChange,
    "composer_activity": ComposerActivity,
    "assist_request": AssistRequest,
    "assist_response": AssistResponse,
    "shadow_record": ShadowRecord,
    "moderation_action": ModerationAction,
    "notice": Notice,
}
FIXED: dict[str, dict[str, Any]] = {
    "dsa_statement_of_reasons": STATEMENT_SCHEMA,
    "dsa_statements_batch": BATCH_SCHEMA,
}
"""Schemas written by hand (transcribed from others' documentation), exported as they are."""


def export(directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, record in RECORDS.items():
        schema = (
            record.model_json_schema()
            if isinstance(record, type) and issubclass(record, BaseModel)
            else record.json_schema()
        )
        schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": name, **schema}
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    for name, fixed in FIXED.items():
        path = directory / f"{name}.schema.json"
        path.write_text(json.dumps(fixed, indent=2, ensure_ascii=False) + "\n", "utf-8")
        written.append(path)
    topics = [
        {
            "name": t.name,
            "partitions": t.partitions,
            "key": t.key,
            "retention_ms": t.retention_ms,
            "description": t.description,
        }
        for t in CATALOGUE
    ]
    path = directory / "topics.json"
    path.write_text(json.dumps(topics, indent=2) + "\n", "utf-8")
    written.append(path)
    return written
