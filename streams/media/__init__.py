"""Media moderation as plain Python: decode, hash, sample video, match (index, banks), decide."""
