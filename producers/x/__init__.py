"""The X/Twitter poller: connected accounts' home timelines onto `events.text` as posts."""
