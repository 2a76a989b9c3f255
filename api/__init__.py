"""The FastAPI API: ingest, verdicts, results, authors, analytics, the live verdict feed, health
(and, in embedded mode, the warehouse sink)."""
