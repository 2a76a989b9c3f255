"""The warehouse's migrations as shipped: one file per version, so none is skipped as applied."""

from __future__ import annotations

from infra.warehouse.migrate import available


def test_every_migration_has_a_version_of_its_own() -> None:
    versions = [m.version for m in available()]
    assert versions == sorted(set(versions)), "two migrations share a version"
    assert versions == list(range(1, len(versions) + 1)), "a version is missing"
