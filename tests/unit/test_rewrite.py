"""Rewrite suggestions from the lexicon alone (no model): the rewrites, spans limiting the
edits, and rule gating that changes no edit on real posts."""

from __future__ import annotations

from collections import defaultdict

import pytest

from streams.text.rewrite import (
    apply_edits,
    lexicon,
    lexicon_edits,
)
from streams.training.dataset import iter_rows
from tests.support.paths import DATA

REAL_POSTS = ("en_davidson_train.jsonl", "en_hatexplain_val.jsonl", "ar_mpold_train.jsonl")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("you are an idiot", "you are wrong"),
        ("You're such a moron lol", "You're wrong lol"),
        ("What a fucking moron.", "What a person."),
        ("what an idiot", "what a person"),  # the article agrees with the new word
        ("These idiots ruined the game", "These people ruined the game"),
        ("Shut up, you idiot", "Please stop"),
        ("Well,  you idiot, that's\twrong!", "Well, that's\twrong!"),  # the rest kept verbatim
        ("You idiot. Read the article", "Read the article"),
        ("this is bullshit", "this is not true"),
        ("YOU ARE AN IDIOT", "YOU ARE WRONG"),
        ("I am so damn tired", "I am so tired"),
        ("go to hell", "go away"),
        ("انت غبي", "رأيك خاطئ"),
        ("اسكت يا حمار", "من فضلك توقف"),
        ("Scunthorpe United played a classic match", "Scunthorpe United played a classic match"),
        ("a foolish plan", "a foolish plan"),
    ],
)
def test_lexicon_rewrites(text: str, expected: str) -> None:
    assert apply_edits(text, lexicon_edits(text)) == expected


def test_spans_limit_the_edits() -> None:
    text = "shut up you stupid idiot"
    only_insult = lexicon_edits(text, within=[(text.index("stupid"), len(text))])
    assert apply_edits(text, only_insult) == "shut up"
    assert apply_edits(text, lexicon_edits(text)) == "please stop"
    assert lexicon_edits(text, within=[(0, 0)]) == []


def test_skipping_rules_changes_no_edit(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rules are skipped on texts without their words; on real posts in both languages, the
    edits are exactly those of running every rule."""
    texts = [row.text for name in REAL_POSTS for row in iter_rows(DATA / "text" / name, limit=1500)]
    gated = [lexicon_edits(t) for t in texts]
    assert sum(map(bool, gated)) > 300  # the sample does exercise the lexicon
    monkeypatch.setattr(lexicon, "_present", lambda _text: defaultdict(lambda: True))
    assert gated == [lexicon_edits(t) for t in texts]
