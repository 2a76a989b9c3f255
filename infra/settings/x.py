"""X/Twitter ingestion (infra/x, producers/x, api/routes/x.py): see docs/x.md."""

from __future__ import annotations

import base64

from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings

from infra.settings._section import section


class XSettings(BaseSettings):
    """The X app, its token key and the poller's pace: `MODSTREAM_X_*`."""

    model_config = section("MODSTREAM_X_")

    client_id: str | None = Field(
        default=None, description="OAuth 2.0 client id of the X app; unset: X ingestion is off."
    )
    client_secret: SecretStr | None = Field(
        default=None, description="Only for a confidential X app (sent as HTTP Basic)."
    )
    redirect_uri: str | None = Field(
        default=None,
        description="The callback registered with the X app; defaults to this API's "
        "/v1/x/callback.",
    )
    connected_url: str | None = Field(
        default=None,
        description="Where the X callback sends the browser when it is done (a dashboard page): "
        "303 with `x_account` and `x_username`, or `x_error` (the refusal's code). Unset: the "
        "callback answers JSON.",
    )
    token_key: SecretStr | None = Field(
        default=None,
        description="Fernet key(s) that encrypt X tokens at rest, comma-separated (the first "
        "encrypts; the rest still decrypt, for rotation). Outside development: required once "
        "x_client_id is set.",
    )
    api_url: str = Field(default="https://api.x.com", description="X API v2 base URL.")
    authorize_url: str = Field(
        default="https://x.com/i/oauth2/authorize", description="Where operators authorize."
    )
    poll_interval: float = Field(default=60.0, ge=1.0, description="Seconds between polls.")
    page_size: int = Field(default=100, ge=5, le=100, description="Tweets per timeline page.")
    max_pages: int = Field(default=10, ge=1, le=100, description="Pages per account per poll.")
    refresh_margin: float = Field(
        default=300.0, ge=0, description="Refresh an access token this many seconds before expiry."
    )
    max_wait: float = Field(
        default=900.0,
        ge=0,
        description="Longest the poller waits for a rate-limit reset within a poll; beyond it, "
        "the account is skipped until the reset.",
    )

    @model_validator(mode="after")
    def _check(self) -> XSettings:
        if self.token_key is not None:
            for key in self.token_key.get_secret_value().split(","):
                if not _is_fernet_key(key.strip()):
                    raise ValueError(
                        "MODSTREAM_X_TOKEN_KEY: each key is 32 url-safe base64 bytes (e.g. "
                        "`python -c 'from cryptography.fernet import Fernet; "
                        "print(Fernet.generate_key().decode())'`)"
                    )
        return self


def _is_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except ValueError:  # binascii.Error included
        return False
