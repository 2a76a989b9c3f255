"""The one exception hierarchy of Modstream.

    ModstreamError
    ├── ConfigError        settings missing or unsafe (e.g. a default secret in production)
    ├── BrokerError        Kafka unreachable, a publish or topic operation failed
    ├── WarehouseError     ClickHouse unreachable, a query or insert failed
    ├── AccountsError      the accounts store (SQLite / PostgreSQL) is unreachable or failed
    ├── ModelError         a model artifact is missing, corrupt or of another version
    │   ├── JudgeCrashed   the process that judges text died (native crash, OOM kill)
    │   └── JudgeUnavailable  no process to judge text could start
    ├── InvalidEvent       input that cannot be judged; carries a dead-letter reason
    ├── FetchError         a media URL could not be fetched; carries a short reason code
    │   └── FetchRefused   refused by policy before (or instead of) connecting: scheme, address
    ├── MediaError         fetched bytes that cannot be decoded or would cost too much (bombs)
    └── XError             the X API failed or refused (subclasses in `infra/x/errors.py`)

Third-party errors (aiokafka, clickhouse-connect, SQLAlchemy, pydantic, onnxruntime, httpx) are
translated into these where they cross into project code, with `raise … from exc` so the cause
stays visible.
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


class AccountsError(ModstreamError):
    pass


class ModelError(ModstreamError):
    pass


class JudgeCrashed(ModelError):
    """The text pipeline's child process died while judging a batch."""


class JudgeUnavailable(ModelError):
    """The text pipeline's child process could not start (its models did not load)."""


class InvalidEvent(ModstreamError):
    """An event that fails decoding or validation; it belongs on the dead-letter topic."""

    def __init__(self, reason: DeadLetterReason, detail: str) -> None:
        super().__init__(f"{reason.value}: {detail}")
        self.reason = reason
        self.detail = detail


class FetchError(ModstreamError):
    """A media fetch failed. `reason` is a short code that ends up in the verdict."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail


class FetchRefused(FetchError):
    """The fetch policy refused the URL or an address it resolved to (SSRF guard)."""


class MediaError(ModstreamError):
    """Media that cannot be decoded, or that would cost too much to decode (pixel limits)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason = reason
        self.detail = detail
