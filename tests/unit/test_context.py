"""Which replies lean on their thread's context (echoes, endorsements), without a model."""

from __future__ import annotations

import pytest

from streams.text.context import leans_on_context


@pytest.mark.parametrize(
    ("reply", "leans"),
    [
        ("same to you", True),
        ("So are you!", True),
        ("you too", True),
        ("agreed, they should", True),
        ("Exactly!", True),
        ("This!", True),
        ("they deserve it", True),
        ("yes they should", True),
        ("وانت كمان", True),
        ("معك حق", True),
        ("this is a nice day", False),
        ("same thing happened to me last week", False),
        ("they should fix the roads first", False),
        ("please keep it civil", False),
        ("thistle and youtube", False),
        ("same to you " + "and everyone else at the party tonight " * 3, False),  # not short
        ("", False),
    ],
)
def test_which_replies_lean_on_their_context(reply: str, leans: bool) -> None:
    assert leans_on_context(reply) is leans
