"""Request and response shapes of other moderation APIs, mapped onto verdicts."""
