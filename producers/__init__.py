"""Everything that puts events onto topics: HTTP ingest clients, sample feeds, load generation."""
