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
    ├── XError             the X API failed or refused (subclasses in `infra/x/errors.py`)
    └── Refused            a request the rules refuse; a stable `code` for clients, a message
        ├── InvalidInput       a value of the wrong form (an email, a role, too many buckets)
        │   └── InvalidRules   rules that do not parse, check or pass their examples
        ├── Rejected           well-formed but unusable (an unknown invitation code or cursor)
        ├── Unauthenticated    the caller is not who they claim (a wrong password)
        │   └── InvalidToken   a bearer credential that is not (or no longer) valid
        ├── Forbidden          known, but not allowed (registration closed, an expired invite)
        ├── NotFound           no such thing, or not the caller's to see
        ├── Conflict           the state forbids it (a name taken, X not configured)
        ├── RateLimited        over a limit; `retry_after` says when to try again
        └── UpstreamFailed     a service it needs (X) failed

Services raise `Refused` and know nothing of HTTP; the API maps each kind to its status at its
boundary (`api/errors.py`), the command line prints the message and the code.

Third-party errors (aiokafka, clickhouse-connect, SQLAlchemy, pydantic, onnxruntime, httpx) are
translated into these where they cross into project code, with `raise … from exc` so the cause
stays visible.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

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


class Refused(ModstreamError):
    """A refusal: `code` is stable for clients, `message` for people, `details` optional."""

    def __init__(self, code: str, message: str, details: Any = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details


class InvalidInput(Refused):
    pass


@dataclass(frozen=True, slots=True)
class RuleProblem:
    """One thing wrong in a rule set, where it is (1-based line and column)."""

    line: int
    column: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}, column {self.column}: {self.reason}"


class InvalidRules(InvalidInput):
    """`problems` says each thing wrong, with its line and column (also in `details`)."""

    def __init__(self, problems: list[RuleProblem]) -> None:
        first = problems[0] if problems else RuleProblem(1, 1, "invalid")
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        super().__init__("invalid_rules", f"{first}{more}", [asdict(p) for p in problems])
        self.problems = problems


class Rejected(Refused):
    pass


class Unauthenticated(Refused):
    pass


class InvalidToken(Unauthenticated):
    pass


class Forbidden(Refused):
    pass


class NotFound(Refused):
    pass


class Conflict(Refused):
    pass


class RateLimited(Refused):
    def __init__(self, code: str, message: str, retry_after: int) -> None:
        super().__init__(code, message)
        self.retry_after = retry_after


class UpstreamFailed(Refused):
    pass
