"""One error body for every failure: `{"error": {"code", "message", "details"}}`.

The boundary between the services and HTTP: services raise the domain refusals of
`infra.errors` (`NotFound`, `Forbidden`, …) and this module gives each kind its status; handlers
may raise `ApiError` for refusals that only exist in HTTP (a missing credential, a scope).
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from infra.errors import (
    AccountsError,
    BrokerError,
    Conflict,
    Forbidden,
    InvalidInput,
    InvalidToken,
    ModstreamError,
    NotFound,
    RateLimited,
    Refused,
    Rejected,
    Unauthenticated,
    UpstreamFailed,
    WarehouseError,
)

log = logging.getLogger(__name__)


class ErrorDetail(BaseModel):
    code: str
    message: str
    details: Any = None


class ErrorBody(BaseModel):
    error: ErrorDetail


class ApiError(Exception):
    """Raised by handlers for an expected refusal (not found, invalid batch, …)."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        details: Any = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details
        self.headers = headers


def unauthenticated(code: str, message: str) -> ApiError:
    """401: no credentials, or credentials that are not (or no longer) valid."""
    return ApiError(401, code, message, headers={"WWW-Authenticate": "Bearer"})


STATUS: dict[type[Refused], int] = {
    Rejected: 400,
    Unauthenticated: 401,
    Forbidden: 403,
    NotFound: 404,
    Conflict: 409,
    InvalidInput: 422,
    RateLimited: 429,
    UpstreamFailed: 502,
}
"""The status of each kind of refusal (a subclass takes its nearest listed ancestor's)."""


def status_of(exc: Refused) -> int:
    return next((STATUS[k] for k in type(exc).__mro__ if k in STATUS), 400)


def refusal_headers(exc: Refused) -> dict[str, str] | None:
    """`Retry-After` for a limit, a `Bearer` challenge for a credential that is not valid."""
    if isinstance(exc, RateLimited):
        return {"Retry-After": str(exc.retry_after)}
    if isinstance(exc, InvalidToken):
        return {"WWW-Authenticate": "Bearer"}
    return None


def error_response(
    status: int,
    code: str,
    message: str,
    details: Any = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    body = ErrorBody(error=ErrorDetail(code=code, message=message, details=details))
    return JSONResponse(jsonable_encoder(body), status_code=status, headers=headers)


def responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI `responses=` entries for the error statuses a route may return."""
    return {s: {"model": ErrorBody} for s in statuses}


def install(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.message, exc.details, exc.headers)

    @app.exception_handler(Refused)
    async def _refused(_: Request, exc: Refused) -> JSONResponse:
        return error_response(
            status_of(exc), exc.code, exc.message, exc.details, refusal_headers(exc)
        )

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = [
            {"loc": list(e["loc"]), "msg": e["msg"], "type": e["type"]} for e in exc.errors()
        ]
        return error_response(422, "invalid_request", "the request is not valid", details)

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> JSONResponse:
        return error_response(
            exc.status_code, "http_error", str(exc.detail), None, dict(exc.headers or {})
        )

    @app.exception_handler(UnicodeEncodeError)
    async def _unencodable(_: Request, exc: UnicodeEncodeError) -> JSONResponse:
        # JSON may carry lone surrogates (`"\\ud88d"`), which no store or topic can hold.
        return error_response(
            400, "invalid_text", "text must be valid Unicode (no lone surrogates)", None
        )

    @app.exception_handler(AccountsError)
    async def _accounts(_: Request, exc: AccountsError) -> JSONResponse:
        log.error("accounts store unavailable: %s", exc)
        return error_response(503, "accounts_unavailable", "the accounts store is unavailable")

    @app.exception_handler(BrokerError)
    async def _broker(_: Request, exc: BrokerError) -> JSONResponse:
        log.error("broker unavailable: %s", exc)
        return error_response(503, "broker_unavailable", "the event broker is unavailable")

    @app.exception_handler(WarehouseError)
    async def _warehouse(_: Request, exc: WarehouseError) -> JSONResponse:
        log.error("warehouse unavailable: %s", exc)
        return error_response(503, "warehouse_unavailable", "the warehouse is unavailable")

    @app.exception_handler(ModstreamError)
    async def _other(_: Request, exc: ModstreamError) -> JSONResponse:
        log.exception("unexpected error", exc_info=exc)
        return error_response(500, "internal_error", "internal error")
