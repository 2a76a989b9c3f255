"""Rewrite suggestions: a non-toxic wording of a toxic text that keeps its intent where possible.

Two rewriters behind one interface; both only ever suggest a text the classifier itself judges
acceptable (approved by the tenant's policy, or toxic < 0.5 without one), else they say why not.

- `OfflineRewriter` (the default, and the only one on the streaming hot path): span-guided edits
  from a small curated English and Arabic lexicon. An insult becomes "person" ("you are an idiot"
  → "you are wrong", "what a moron" → "what a person"), "shut up" → "please stop", profane
  intensifiers and vocative insults ("…, you idiot") are dropped, and the rest of the text is
  kept verbatim. Candidates, most faithful first: the lexicon inside the toxic spans; the lexicon
  anywhere; then, for a text scored toxic (not a borderline one), also deleting what the
  classifier still flags. All are scored in one batch.
  It cannot rephrase: threats, slurs used as arguments, sarcasm, or hate expressed in ordinary
  words ("they should all be deported") have no lexicon entry and get no suggestion.
- `ChatRewriter`: any OpenAI-compatible `POST {url}/chat/completions` endpoint, given the text
  and its spans. Its answer is re-scored the same way; on a timeout, an error or a still-toxic
  answer it falls back to the offline rewriter and says why in `note`. The key is sent as a
  bearer token and never logged.
"""

from __future__ import annotations

from infra.settings import RewriteSettings
from streams.text.classifier import Classifier
from streams.text.rewrite.base import Rewrite, Rewriter, RewriteRequest, acceptable
from streams.text.rewrite.chat import ChatEndpoint, ChatRewriter
from streams.text.rewrite.edits import apply_edits
from streams.text.rewrite.lexicon import lexicon_edits
from streams.text.rewrite.offline import OfflineRewriter

__all__ = [
    "ChatEndpoint",
    "ChatRewriter",
    "OfflineRewriter",
    "Rewrite",
    "RewriteRequest",
    "Rewriter",
    "acceptable",
    "apply_edits",
    "lexicon_edits",
    "rewriter_from_settings",
]


def rewriter_from_settings(
    classifier: Classifier, settings: RewriteSettings, *, chat: bool = True
) -> Rewriter:
    """The chat rewriter when one is configured (and `chat`), else the offline one."""
    offline = OfflineRewriter(classifier)
    endpoint = ChatEndpoint.from_settings(settings) if chat else None
    return offline if endpoint is None else ChatRewriter(classifier, endpoint, offline)
