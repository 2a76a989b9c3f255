"""The configuration every section shares: its own prefix, the environment and `.env`."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict


def section(prefix: str) -> SettingsConfigDict:
    """A section reads the variables under `prefix`, from the environment or `.env`, and ignores
    every other variable (the other sections read those)."""
    return SettingsConfigDict(env_prefix=prefix, env_file=".env", extra="ignore")
