"""Tenants' rules in the stream worker: facts of an item, counters, and the engine that applies
the compiled rules (infra/rules) after the models and before the verdict."""
