"""`modstream bench longtext` and `modstream bench context`: what long-text sampling and thread
context cost and buy, on texts built from the held-out labeled data (never trained on).

- longtext: long texts of held-out benign rows (those the fast tier scores low), half of them
  with one held-out toxic row (one judged toxic alone) inserted at a random position; recall,
  the false positive rate, texts/s and transformer windows per text, for: the whole text at
  once, every window judged in full, the sampled windows (the settings' rates), and the fast
  tier alone on every window.
- context: (parent, reply) pairs, parents from held-out toxic and benign rows, replies from small
  lists of echoes/endorsements (some phrased as the detector knows them, some not) and of
  replies that stand alone; a reply is toxic in context exactly when it echoes a parent labeled
  toxic. Recall and false positives for the reply alone, the reply glued to its parent, and the
  context judge.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from infra.errors import ConfigError
from infra.logging import configure_logging
from infra.progress import task_bar
from infra.report import Column, Figures, emit, figures_console, number
from infra.settings import get_settings
from streams.text.classifier import Classifier

if TYPE_CHECKING:
    from streams.text.load import TierOptions

bench_text_app = typer.Typer(no_args_is_help=True)
console = figures_console(stderr=True)  # progress; the figures go to stdout
AsJson = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]


def _held_out(data: Path, lang: str | None) -> list[tuple[str, str, int]]:
    from streams.training.dataset import load_dir, split

    if not data.is_dir():
        raise ConfigError(f"no labeled data at {data}")
    _, held = split(load_dir(data))
    return [(r.text, r.lang, r.toxic) for r in held if lang is None or r.lang == lang]


# -- long texts ---------------------------------------------------------------------------------


@dataclass
class _Built:
    text: str
    toxic: bool


def _long_texts(
    benign: list[str], toxic: list[str], words: int, n: int, rng: random.Random
) -> list[_Built]:
    """`n` texts of `words` words of benign rows; every other one with one toxic row inserted
    at a random place."""
    out = []
    for i in range(n):
        parts: list[str] = []
        while sum(len(p.split()) for p in parts) < words:
            parts.append(rng.choice(benign))
        insert = i % 2 == 0
        if insert:
            parts.insert(rng.randrange(len(parts) + 1), rng.choice(toxic))
        out.append(_Built(" ".join(parts), insert))
    return out


@dataclass
class _Outcome:
    recall: float
    fpr: float
    rate: float
    windows: float


def _measure(clf: Classifier, texts: Sequence[_Built], lang: str) -> _Outcome:
    escalated = 0
    started = time.perf_counter()
    scores = []
    for t in texts:  # one text per call
        scores.append(clf.classify([t.text], [lang])[0].toxic)
        escalated += int(getattr(clf, "last_escalated", 0))
    seconds = time.perf_counter() - started
    pos = [s for s, t in zip(scores, texts, strict=True) if t.toxic]
    neg = [s for s, t in zip(scores, texts, strict=True) if not t.toxic]
    return _Outcome(
        sum(s > 0.5 for s in pos) / max(1, len(pos)),
        sum(s > 0.5 for s in neg) / max(1, len(neg)),
        len(texts) / seconds,
        escalated / len(texts),
    )


@bench_text_app.command("longtext")
def bench_longtext(
    texts: Annotated[int, typer.Option(help="Texts per length (half with a toxic passage).")] = 40,
    lengths: Annotated[str, typer.Option(help="Words per text, comma-separated.")] = (
        "400,800,2000,4000"
    ),
    lang: Annotated[str, typer.Option(help="Language of the texts (en, ar).")] = "en",
    seed: Annotated[int, typer.Option()] = 7,
    as_json: AsJson = False,
) -> None:
    """Recall and cost of judging long texts: whole, every window, sampled windows, fast only.

    Filler: held-out benign rows the fast tier scores below 0.2 (a quarter of the English
    "benign" rows score above 0.5 alone, and one of them in a long text makes it toxic, so
    unfiltered filler measures that and nothing else). Passages: held-out toxic rows the
    configured classifier judges toxic alone, so recall is relative to judging them alone."""
    from streams.text.linear import LinearTextClassifier
    from streams.text.load import TierOptions, load_classifier
    from streams.text.longtext import LongTextClassifier

    settings = get_settings()
    configure_logging("WARNING")
    rows = _held_out(settings.training_data, lang)
    options = TierOptions.from_settings(settings.text, settings.longtext)
    sampled = options.long_text
    models = settings.models_path
    fast = LinearTextClassifier.load(models)

    def tiers(**change: Any) -> Classifier:
        return load_classifier(models, _with(options, **change) if change else options)

    configs: list[tuple[str, Callable[[], Classifier]]] = [
        ("whole text", lambda: tiers(enabled=False)),
        ("all windows", lambda: tiers(rates=(), rate_beyond=1.0)),
        ("sampled", tiers),
        ("fast, all windows", lambda: LongTextClassifier(fast, sampled)),
    ]
    candidates = [t for t, _, y in rows if y == 0 and len(t.split()) >= 3]
    benign = [
        t for t, s in zip(candidates, fast.classify(candidates, [lang] * len(candidates)),
                          strict=True) if s.toxic < 0.2
    ]  # fmt: skip
    short_toxic = [t for t, _, y in rows if y == 1 and 3 <= len(t.split()) <= 60][:3000]
    judged = tiers().classify(short_toxic, [lang] * len(short_toxic))
    toxic = [t for t, s in zip(short_toxic, judged, strict=True) if s.toxic > 0.5]
    rng = random.Random(seed)
    built = {int(w): _long_texts(benign, toxic, int(w), texts, rng) for w in lengths.split(",")}
    table = longtext_figures(texts, lang)
    with task_bar(console, enabled=console.is_terminal) as bar:
        task = bar.add_task("longtext", total=len(configs) * len(built))
        for name, make in configs:
            clf = make()
            for words, group in built.items():
                bar.update(task, description=f"{name}, {words} words")
                o = _measure(clf, group, lang)
                share = {"sampled": sampled.rate(words), "all windows": 1.0}.get(name)
                table.add(words, name, share, o.recall, o.fpr, o.rate, o.windows)
                bar.advance(task)
    table.notes.append(
        f"Passages: held-out toxic rows judged toxic alone ({len(toxic) / len(short_toxic):.0%} "
        f"of them); filler: held-out benign rows the fast tier scores < 0.2 "
        f"({len(benign) / len(candidates):.0%} of them). Windows of {sampled.window_words} "
        f"words overlapping by {sampled.overlap_words}; fast-tier flag {sampled.flag}."
    )
    emit([table], as_json=as_json)


def longtext_figures(texts: int, lang: str) -> Figures:
    """The longtext table: one row per (length, way of judging)."""
    return Figures(
        f"bench longtext: {texts} texts per length ({lang}), half with one toxic passage",
        [Column("words", number()), Column("how"),
         Column("transformer share", _share), Column("recall", number(3)),
         Column("false pos.", number(3), key="false_positive_rate"),
         Column("texts/s", number(1), key="texts_per_s"),
         Column("windows escalated/text", number(1), key="windows_escalated_per_text")],
    )  # fmt: skip


def _share(value: Any) -> str:
    """The share of windows the transformer judges; blank where it does not apply."""
    return "" if value is None else f"{value:.0%}"


def _with(options: TierOptions, **change: Any) -> TierOptions:
    return replace(options, long_text=replace(options.long_text, **change))


# -- thread context -----------------------------------------------------------------------------

ECHOES = {
    "en": ["same to you", "so are you", "you too", "agreed, they should", "exactly!", "this!",
           "right back at you", "they deserve it"],
    "ar": ["وانت كمان", "معك حق", "بالضبط", "يستاهلون"],
}  # fmt: skip
UNSEEN_ECHOES = {
    "en": ["you're one to talk", "couldn't have said it better myself", "spot on", "well put",
           "look in the mirror", "says you"],
    "ar": ["كلامك في الصميم", "نفس الكلام لك"],
}  # fmt: skip
STANDALONE = {
    "en": ["thanks for sharing", "please keep it civil", "I don't agree with this",
           "what time does it start?", "source?", "let's talk about something else"],
    "ar": ["شكرا للمشاركة", "ممكن توضح؟", "لا أتفق مع هذا", "يوم سعيد للجميع"],
}  # fmt: skip


@bench_text_app.command("context")
def bench_context(
    parents: Annotated[int, typer.Option(help="Parents per label and language.")] = 150,
    fast_only: Annotated[bool, typer.Option(help="The fast tier instead of the cascade.")] = False,
    seed: Annotated[int, typer.Option()] = 7,
    as_json: AsJson = False,
) -> None:
    """Does thread context catch hostile echoes without blaming replies for their parents?"""
    from streams.text.context import ContextJudge
    from streams.text.load import FAST_ONLY, TierOptions, load_classifier

    settings = get_settings()
    configure_logging("WARNING")
    rng = random.Random(seed)
    clf = load_classifier(
        settings.models_path,
        FAST_ONLY if fast_only else TierOptions.from_settings(settings.text, settings.longtext),
    )
    judge = ContextJudge(clf, max_items=settings.text.context_max_items)
    pairs: list[tuple[str, str, str, str]] = []  # parent, reply, kind, lang
    for lang in ("en", "ar"):
        rows = [r for r in _held_out(settings.training_data, lang) if len(r[0]) <= 1000]
        for label in (1, 0):
            pool = [t for t, _, y in rows if y == label]
            for parent in rng.sample(pool, min(parents, len(pool))):
                for kind, lists in (("echo", ECHOES), ("unseen", UNSEEN_ECHOES),
                                    ("alone", STANDALONE)):  # fmt: skip
                    pairs.append((parent, rng.choice(lists[lang]), f"{kind}:{label}", lang))
    replies = [r for _, r, _, _ in pairs]
    langs: list[str | None] = [lang for *_, lang in pairs]
    with console.status(f"judging {len(pairs):,} pairs three ways"):
        alone = clf.classify(replies, langs)
        glued = clf.classify([judge.together(r, [p]) for p, r, _, _ in pairs], langs)
        ours = judge.judge([(r, a, [p]) for (p, r, _, _), a in zip(pairs, alone, strict=True)])
    methods = {
        "reply alone": [s.toxic for s in alone],
        "reply glued to its parent": [s.toxic for s in glued],
        "context judge": [o.scores.toxic for o in ours],
    }
    toxic_parents = sorted({(p, lang) for p, _, k, lang in pairs if k.endswith(":1")})
    judged = clf.classify([p for p, _ in toxic_parents], [lang for _, lang in toxic_parents])
    ceiling = sum(s.toxic > 0.5 for s in judged) / max(1, len(judged))
    emit([context_figures([k for _, _, k, _ in pairs], methods, ceiling)], as_json=as_json)


def context_figures(kinds: list[str], methods: dict[str, list[float]], ceiling: float) -> Figures:
    """The share judged toxic by each method, per group of pairs (`kinds[i]` is pair i's group:
    `echo|unseen|alone:label`); `ceiling` is the model's own recall on the toxic parents."""
    groups = {
        "recall: echo of a toxic parent": "echo:1",
        "recall: unlisted echo of a toxic parent": "unseen:1",
        "false pos.: standalone reply, toxic parent": "alone:1",
        "false pos.: echo of a benign parent": "echo:0",
        "false pos.: standalone reply, benign parent": "alone:0",
    }
    table = Figures(
        f"bench context: {len(kinds)} constructed (parent, reply) pairs, en + ar",
        [
            Column("share judged toxic", key="group"),
            Column("pairs", number()),
            *(Column(name, number(3)) for name in methods),
        ],
    )
    for title, kind in groups.items():
        idx = [i for i, k in enumerate(kinds) if k == kind]
        shares = [sum(m[i] > 0.5 for i in idx) / max(1, len(idx)) for m in methods.values()]
        table.add(title, len(idx), *shares)
    table.facts["model_recall_on_parents"] = ceiling
    table.notes.append(
        f"Parents labeled toxic that the model itself judges toxic: {ceiling:.1%} (the ceiling "
        "of any recall here)."
    )
    return table
