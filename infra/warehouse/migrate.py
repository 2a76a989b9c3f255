"""Versioned SQL migrations: `migrations/NNNN_name.sql`, applied once each, in order.

ClickHouse has no transactional DDL, so every statement is written to be re-runnable
(`IF NOT EXISTS`); a migration interrupted half-way is simply applied again.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from importlib import resources

from infra.warehouse.client import Warehouse

log = logging.getLogger(__name__)

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    def statements(self) -> list[str]:
        body = "\n".join(
            line for line in self.sql.splitlines() if not line.lstrip().startswith("--")
        )
        return [s.strip() for s in body.split(";") if s.strip()]


def available() -> list[Migration]:
    folder = resources.files("infra.warehouse") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text("utf-8")))
    return sorted(found, key=lambda m: m.version)


def migrate(warehouse: Warehouse) -> list[Migration]:
    """Apply what is not applied yet; returns the migrations applied now."""
    warehouse.command(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version UInt32, name String, "
        "applied_at DateTime64(3, 'UTC') DEFAULT now64(3)) "
        "ENGINE = ReplacingMergeTree ORDER BY version"
    )
    done = {row["version"] for row in warehouse.rows("SELECT version FROM schema_migrations")}
    applied = []
    for migration in available():
        if migration.version in done:
            continue
        for statement in migration.statements():
            warehouse.command(statement)
        warehouse.insert(
            "schema_migrations", [[migration.version, migration.name]], ["version", "name"]
        )
        log.info("applied migration %04d_%s", migration.version, migration.name)
        applied.append(migration)
    return applied
