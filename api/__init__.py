"""The FastAPI read API: ingest, verdicts, health (and, in embedded mode, the warehouse sink)."""
