"""A thin, thread-safe wrapper over a clickhouse-connect client.

Every call is blocking: from async code, run it in a thread (chdb blocks the event loop otherwise).
clickhouse-connect and chdb errors become `WarehouseError` here.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import clickhouse_connect
from clickhouse_connect.driver.exceptions import ClickHouseError

from infra.errors import WarehouseError


class Warehouse:
    def __init__(self, client: Any, url: str) -> None:
        self._client = client
        self.url = url
        # chdb runs in-process; one session must not run two statements at once.
        self._lock = threading.Lock() if url.startswith("chdb:") else None

    def _call(self, fn: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            if self._lock is None:
                return fn(*args, **kwargs)
            with self._lock:
                return fn(*args, **kwargs)
        except (ClickHouseError, RuntimeError) as exc:
            raise WarehouseError(str(exc).splitlines()[0][:500]) from exc

    def command(self, sql: str, parameters: Mapping[str, Any] | None = None) -> Any:
        return self._call(self._client.command, sql, parameters=parameters)

    def rows(self, sql: str, parameters: Mapping[str, Any] | None = None) -> list[dict[str, Any]]:
        """Run a query; rows as dicts keyed by column name."""
        result = self._call(self._client.query, sql, parameters=parameters)
        names = result.column_names
        return [dict(zip(names, row, strict=True)) for row in result.result_rows]

    def insert(self, table: str, rows: Sequence[Sequence[Any]], columns: Sequence[str]) -> None:
        if rows:
            self._call(self._client.insert, table, rows, column_names=list(columns))

    def ping(self) -> bool:
        try:
            return bool(self.command("SELECT 1") == 1)
        except WarehouseError:
            return False

    def close(self) -> None:
        self._call(self._client.close)


def connect(url: str) -> Warehouse:
    """Open the warehouse at `url` (`chdb:///abs/path` or `http(s)://user:pass@host:port/db`)."""
    try:
        if url.startswith("chdb:"):
            path = Path(url.removeprefix("chdb://"))
            path.mkdir(parents=True, exist_ok=True)
            client = clickhouse_connect.get_client(dsn=f"chdb://{path}")
        else:
            parts = urlparse(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                raise WarehouseError(f"unsupported warehouse URL scheme: {parts.scheme!r}")
            client = clickhouse_connect.get_client(
                host=parts.hostname,
                port=parts.port or (8443 if parts.scheme == "https" else 8123),
                username=unquote(parts.username or "default"),
                password=unquote(parts.password or ""),
                database=parts.path.strip("/") or "default",
                secure=parts.scheme == "https",
            )
    except (ClickHouseError, OSError, RuntimeError) as exc:
        raise WarehouseError(f"cannot open warehouse: {exc}") from exc
    return Warehouse(client, url)
