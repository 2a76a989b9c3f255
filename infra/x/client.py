"""The X API v2 client on httpx: the OAuth 2.0 token endpoint (code exchange, refresh, revoke),
the authenticated user (`GET /2/users/me`) and the reverse-chronological home timeline
(`GET /2/users/:id/timelines/reverse_chronological`).

The base URL comes from settings (tests point it at a local fake X). Every request goes through
`RateLimits` first; httpx errors and unexpected answers become `XError`, refused tokens
`XAuthError`, and limits the caller may not wait out `XRateLimited`.
"""

from __future__ import annotations

import logging
from types import TracebackType
from typing import Annotated, Any, TypeVar

import httpx
from pydantic import AwareDatetime, BaseModel, Field, StringConstraints, ValidationError

from infra.settings import XSettings
from infra.x.errors import XAuthError, XError, XRateLimited
from infra.x.ratelimits import RateLimits

log = logging.getLogger(__name__)

TweetId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")]
TWEET_FIELDS = "author_id,created_at,lang,conversation_id,referenced_tweets,note_tweet"
M = TypeVar("M", bound=BaseModel)
ATTEMPTS = 3
"""Requests per call at most: a 429 waits for its reset (if allowed) and tries again."""


class TokenSet(BaseModel):
    access_token: str = Field(min_length=1)
    refresh_token: str | None = None
    expires_in: int = Field(default=7200, ge=0, description="Seconds.")
    scope: str = ""


class XUser(BaseModel):
    id: TweetId
    username: str = Field(min_length=1, max_length=64)
    name: str = ""


class ReferencedTweet(BaseModel):
    type: str  # replied_to, quoted, retweeted
    id: TweetId


class NoteTweet(BaseModel):
    text: str


class Tweet(BaseModel):
    id: TweetId
    text: str
    author_id: TweetId | None = None
    created_at: AwareDatetime | None = None
    lang: str | None = None
    conversation_id: TweetId | None = None
    referenced_tweets: list[ReferencedTweet] = Field(default_factory=list)
    note_tweet: NoteTweet | None = Field(default=None, description="The full text, if long.")


class Includes(BaseModel):
    tweets: list[Tweet] = Field(default_factory=list)


class Meta(BaseModel):
    result_count: int = 0
    newest_id: TweetId | None = None
    oldest_id: TweetId | None = None
    next_token: str | None = None


class TimelinePage(BaseModel):
    data: list[Tweet] = Field(default_factory=list)
    includes: Includes = Field(default_factory=Includes)
    meta: Meta = Field(default_factory=Meta)


class XClient:
    def __init__(
        self,
        settings: XSettings,
        *,
        limits: RateLimits | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        timeout: float = 15.0,
    ) -> None:
        if not settings.client_id:
            raise XError("X is not configured (MODSTREAM_X_CLIENT_ID)")
        self.limits = limits or RateLimits()
        self._client_id = settings.client_id
        secret = settings.client_secret
        self._auth = (self._client_id, secret.get_secret_value()) if secret else None
        self._http = httpx.AsyncClient(
            base_url=settings.api_url,
            timeout=timeout,
            transport=transport,
            headers={"User-Agent": "modstream-x/1"},
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> XClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    # --- OAuth 2.0 ------------------------------------------------------------------------

    async def exchange_code(
        self, code: str, verifier: str, redirect_uri: str, *, max_wait: float = 0
    ) -> TokenSet:
        """Tokens for an authorization code; `redirect_uri` is the one the code was asked with."""
        return await self._token(
            {
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri,
                "code_verifier": verifier,
            },
            max_wait,
        )

    async def refresh(self, refresh_token: str, *, max_wait: float = 0) -> TokenSet:
        """New tokens. X rotates refresh tokens: the one passed in is spent from now on."""
        return await self._token(
            {"grant_type": "refresh_token", "refresh_token": refresh_token}, max_wait
        )

    async def revoke(self, token: str, hint: str = "access_token") -> None:
        response = await self._call(
            "POST", "/2/oauth2/revoke", key="app", endpoint="revoke", max_wait=0,
            data={"token": token, "token_type_hint": hint, "client_id": self._client_id},
            auth=self._auth,
        )  # fmt: skip
        _json(response, "revoke")

    async def _token(self, form: dict[str, str], max_wait: float) -> TokenSet:
        response = await self._call(
            "POST", "/2/oauth2/token", key="app", endpoint="token", max_wait=max_wait,
            data=form | {"client_id": self._client_id}, auth=self._auth,
        )  # fmt: skip
        if response.status_code in (400, 401):
            raise XAuthError(f"X refused the {form['grant_type']}: {_detail(response)}")
        return _parse(TokenSet, _json(response, "token"), "token")

    # --- API v2 ---------------------------------------------------------------------------

    async def me(self, access_token: str, *, max_wait: float = 0) -> XUser:
        response = await self._call(
            "GET", "/2/users/me", key="me", endpoint="users/me",
            max_wait=max_wait, bearer=access_token,
        )  # fmt: skip
        body = _json(response, "users/me")
        return _parse(XUser, body.get("data"), "users/me")

    async def home_timeline(
        self,
        access_token: str,
        user_id: str,
        *,
        since_id: int | None = None,
        pagination_token: str | None = None,
        max_results: int = 100,
        max_wait: float = 0,
    ) -> TimelinePage:
        """One page, newest first. Tweets newer than `since_id` only, if given."""
        params: dict[str, str | int] = {
            "max_results": max_results,
            "tweet.fields": TWEET_FIELDS,
            "expansions": "referenced_tweets.id",
        }
        if since_id is not None:
            params["since_id"] = str(since_id)
        if pagination_token:
            params["pagination_token"] = pagination_token
        response = await self._call(
            "GET", f"/2/users/{user_id}/timelines/reverse_chronological", key=user_id,
            endpoint="timeline", max_wait=max_wait, bearer=access_token, params=params,
        )  # fmt: skip
        return _parse(TimelinePage, _json(response, "timeline"), "timeline")

    # --- transport ------------------------------------------------------------------------

    async def _call(
        self,
        method: str,
        path: str,
        *,
        key: str,
        endpoint: str,
        max_wait: float,
        bearer: str | None = None,
        **kwargs: Any,
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {bearer}"} if bearer else {}
        for _ in range(ATTEMPTS):
            await self.limits.wait(key, endpoint, max_wait)
            try:
                response = await self._http.request(method, path, headers=headers, **kwargs)
            except httpx.HTTPError as exc:
                raise XError(f"X {endpoint}: {type(exc).__name__}: {exc}") from exc
            self.limits.note(key, endpoint, response.status_code, response.headers)
            if response.status_code != 429:
                if response.status_code == 401 and bearer:
                    raise XAuthError(f"X refused the access token on {endpoint}")
                return response
            log.warning("X %s answered 429 for %s", endpoint, key)
        raise XRateLimited(endpoint, self.limits.closed_until(key, endpoint) or 0.0)


def _json(response: httpx.Response, endpoint: str) -> dict[str, Any]:
    if response.status_code >= 300:
        raise XError(f"X {endpoint} answered {response.status_code}: {_detail(response)}")
    try:
        body = response.json()
    except ValueError as exc:
        raise XError(f"X {endpoint} answered something that is not JSON") from exc
    if not isinstance(body, dict):
        raise XError(f"X {endpoint} answered {type(body).__name__}, not an object")
    return body


def _parse(model: type[M], body: Any, endpoint: str) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise XError(f"X {endpoint}: unexpected answer ({exc.error_count()} problems)") from exc


def _detail(response: httpx.Response) -> str:
    """X's own words (OAuth `error_description`, API `detail` or `title`), short."""
    try:
        body = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(body, dict):
        for field in ("error_description", "error", "detail", "title"):
            if isinstance(body.get(field), str):
                return str(body[field])[:200]
    return str(body)[:200]
