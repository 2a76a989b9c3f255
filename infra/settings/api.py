"""The HTTP and WebSocket faces: the read API, its threads of posts, the chat gateway."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings

from infra.settings._section import section

Mode = Literal["withhold", "mask", "flag"]


class ApiSettings(BaseSettings):
    """Where the read API listens: `MODSTREAM_API_HOST`, `MODSTREAM_API_PORT`."""

    model_config = section("MODSTREAM_API_")

    host: str = "127.0.0.1"
    port: int = 8000
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins whose browser pages may call the API (CORS), JSON: "
        '["https://app.example.com"]; empty (the default) allows none.',
    )


class PostsSettings(BaseSettings):
    """Posts and comments (api/routes/threads.py): see docs/posts.md."""

    model_config = section("MODSTREAM_POSTS_")

    mode: Mode = Field(
        default="withhold",
        description="What readers of a thread get of a rejected post or comment (as chat_mode).",
    )
    modes: dict[str, Mode] = Field(
        default_factory=dict, description='Per-tenant thread modes, JSON: {"acme": "flag"}.'
    )
    parent_wait: float = Field(
        default=1.0,
        ge=0,
        le=30,
        description="Seconds a new comment waits for its parent to reach the warehouse (a "
        "parent created a moment ago may still be on its way) before 404.",
    )


class ChatSettings(BaseSettings):
    """The chat gateway (producers/chat): see docs/chat.md."""

    model_config = section("MODSTREAM_CHAT_")

    host: str = "127.0.0.1"
    port: int = 8001
    mode: Mode = Field(
        default="withhold",
        description="What a receiver gets of a rejected message: nothing, the text with the "
        "toxic spans masked, or the text marked flagged.",
    )
    modes: dict[str, Mode] = Field(
        default_factory=dict, description='Per-tenant chat modes, JSON: {"acme": "mask"}.'
    )


class ModerateSettings(BaseSettings):
    """Synchronous moderation (`POST /v1/moderate` and the compatible routes): see
    docs/moderate.md."""

    model_config = section("MODSTREAM_MODERATE_")

    deadline: float = Field(
        default=2.0,
        gt=0,
        le=10,
        description="Seconds a request may take, judging and publishing, before 504 "
        "(`?deadline=` shortens or lengthens it per request, up to 10 s).",
    )
