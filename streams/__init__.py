"""The Faust app, its agents, and the moderation logic they run (plain Python, testable alone)."""
