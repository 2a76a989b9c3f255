"""What a receiver gets of a judged message: the shared delivery rule (`infra.delivery`), which
the API's threads apply to posts and comments too."""

from infra.delivery import Mode, Outcome, mask, outcome_of, shown_text, verdict_summary

__all__ = ["Mode", "Outcome", "mask", "outcome_of", "shown_text", "verdict_summary"]
