"""The offline rewriter (the default, and the only one on the streaming hot path): span-guided
lexicon edits, each candidate verified by the classifier (see the package docstring)."""

from __future__ import annotations

from collections.abc import Sequence

from streams.text.classifier import Classifier, TextScores
from streams.text.rewrite.base import Rewrite, Rewriter, RewriteRequest, acceptable
from streams.text.rewrite.edits import apply_edits, delete_spans, keeps_enough
from streams.text.rewrite.lexicon import lexicon_edits, overlapping


class OfflineRewriter(Rewriter):
    """Span-guided lexicon edits, verified by the classifier (see the module docstring)."""

    def __init__(self, classifier: Classifier) -> None:
        self.classifier = classifier

    def rewrite(self, requests: Sequence[RewriteRequest]) -> list[Rewrite]:
        candidates: list[list[str]] = []
        lexical: list[bool] = []  # had a lexicon word at all
        for req in requests:
            edits = lexicon_edits(req.text)
            spans = req.scores.spans
            first = apply_edits(req.text, overlapping(edits, spans)) if spans else None
            second = apply_edits(req.text, edits) if edits else None
            found = [c for c in dict.fromkeys([first, second]) if c and c != req.text.strip()]
            candidates.append([c for c in found if c.strip()])
            lexical.append(bool(edits))
        scored = self._score(requests, candidates)
        answers: list[Rewrite | None] = []
        # Last resort, for toxic texts only: also delete what is still flagged. (A borderline
        # text's marked words are often harmless; deleting them would not be a rewrite.)
        retry: list[tuple[int, str]] = []
        for i, (req, options) in enumerate(zip(requests, scored, strict=True)):
            answers.append(self._first_acceptable(req, options))
            if answers[-1] is None and req.scores.toxic > 0.5:
                base, base_scores = options[-1] if options else (req.text, req.scores)
                if base_scores.spans:
                    pruned = delete_spans(base, base_scores.spans)
                    if pruned != base and keeps_enough(req.text, pruned):
                        retry.append((i, pruned))
        if retry:
            again = self.classifier.classify(
                [t for _, t in retry], [requests[i].scores.lang for i, _ in retry]
            )
            for (i, text), s in zip(retry, again, strict=True):
                if acceptable(s, requests[i].policy):
                    answers[i] = Rewrite(text, s.toxic, "offline")
        return [
            a if a is not None else Rewrite(None, None, "offline", _why_not(lexical[i], scored[i]))
            for i, a in enumerate(answers)
        ]

    def _score(
        self, requests: Sequence[RewriteRequest], candidates: list[list[str]]
    ) -> list[list[tuple[str, TextScores]]]:
        flat = [(i, c) for i, cs in enumerate(candidates) for c in cs]
        if not flat:
            return [[] for _ in requests]
        scores = self.classifier.classify(
            [c for _, c in flat], [requests[i].scores.lang for i, _ in flat]
        )
        out: list[list[tuple[str, TextScores]]] = [[] for _ in requests]
        for (i, c), s in zip(flat, scores, strict=True):
            out[i].append((c, s))
        return out

    @staticmethod
    def _first_acceptable(
        req: RewriteRequest, options: list[tuple[str, TextScores]]
    ) -> Rewrite | None:
        for text, s in options:
            if acceptable(s, req.policy):
                return Rewrite(text, s.toxic, "offline")
        return None


def _why_not(lexical: bool, options: list[tuple[str, TextScores]]) -> str:
    if not options:
        if not lexical:
            return "no word of the offline lexicon in the text; it cannot rephrase"
        return "nothing would be left after removing the toxic words"
    best = min(s.toxic for _, s in options)
    return f"every offline candidate was still judged toxic (best {best:.2f})"
