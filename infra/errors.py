"""The one exception hierarchy of Modstream.

    ModstreamError
    ├── ConfigError        settings missing or unsafe (e.g. a default secret in production)
    ├── BrokerError        Kafka unreachable, a publish or topic operation failed
    ├── WarehouseError     ClickHouse unreachable, a query or insert failed
    ├── ModelError         a model artifact is missing, corrupt or of another version
    └── InvalidEvent       input that cannot be judged; carries a dead-letter reason

Third-party errors (aiokafka, clickhouse-connect, pydantic, onnxruntime, httpx) are translated into
these where they cross into project code, with `raise … from exc` so the cause stays visible.
"""

from __future__ import annotations

from schemas.records import DeadLetterReason


class ModstreamError(Exception):
    """Base class of every error Modstream raises on purpose."""


class ConfigError(ModstreamError):
    pass


class BrokerError(ModstreamError):
    pass


class WarehouseError(ModstreamError):
    pass


class ModelError(ModstreamError):
    pass


class InvalidEvent(ModstreamError):
    """An event that fails decoding or validation; it belongs on the dead-letter topic."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail
