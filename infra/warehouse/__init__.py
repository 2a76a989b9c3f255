"""ClickHouse through clickhouse-connect: embedded chdb (`chdb:///path`) or a server (`http://…`)."""

from infra.warehouse.client import Warehouse, connect
from infra.warehouse.migrate import migrate

__all__ = ["Warehouse", "connect", "migrate"]
