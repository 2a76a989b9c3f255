"""Each tenant's rule set in force, re-read from the accounts store on a timer.

Only a tenant whose version changed is compiled again. A stored set that no longer compiles
(saved by an older version of Modstream) is logged and the tenant keeps its last good one; if
the store cannot be read, every tenant keeps its rules.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from infra.errors import InvalidRules, ModstreamError
from infra.rules.compile import EMPTY, RuleSet, compile_rules

log = logging.getLogger(__name__)

Stored = Callable[[], Mapping[str, tuple[int, str]]]


class LiveRules:
    def __init__(self, stored: Stored) -> None:
        self._stored = stored
        self._sets: dict[str, RuleSet] = {}
        self._failing = False

    def for_tenant(self, tenant: str) -> RuleSet:
        return self._sets.get(tenant, EMPTY)

    def refresh(self) -> None:
        try:
            stored = self._stored()
        except ModstreamError as exc:
            if not self._failing:
                log.warning("tenant rules not refreshed (last known kept): %s", exc)
            self._failing = True
            return
        self._failing = False
        sets = {}
        for tenant, (version, source) in stored.items():
            current = self._sets.get(tenant)
            if current is not None and current.version == version:
                sets[tenant] = current
                continue
            try:
                sets[tenant] = compile_rules(source, version)
                log.info("tenant %s: rules version %d in force", tenant, version)
            except InvalidRules as exc:
                log.error("tenant %s: rules version %d ignored: %s", tenant, version, exc)
                if current is not None:
                    sets[tenant] = current
        self._sets = sets


def live_rules(accounts_url: str) -> LiveRules:
    from infra.accounts import AccountsDB
    from infra.accounts.rules import tenant_rules

    accounts = AccountsDB(accounts_url)
    rules = LiveRules(lambda: tenant_rules(accounts))
    rules.refresh()
    return rules
