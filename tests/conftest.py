"""What both tiers share: the rule that every test lives in a tier, and that only the integration
tier's tests carry the `integration` marker (tests/integration/conftest.py sets it)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from infra.accounts import AccountsDB

TESTS = Path(__file__).parent
TIERS = ("unit", "integration")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        tier = item.path.relative_to(TESTS).parts[0]
        if tier not in TIERS:
            raise pytest.UsageError(
                f"{item.nodeid}: tests live in tests/unit/ or tests/integration/"
            )
        if tier == "unit" and item.get_closest_marker("integration"):
            raise pytest.UsageError(f"{item.nodeid}: a unit test is marked `integration`")


@pytest.fixture
def db(tmp_path: Path) -> Iterator[AccountsDB]:
    """An empty accounts store of the test's own."""
    store = AccountsDB(f"sqlite:///{tmp_path / 'accounts.db'}")
    store.create_schema()
    yield store
    store.close()
