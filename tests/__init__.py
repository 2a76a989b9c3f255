"""Modstream's tests in two tiers: `unit/` needs no broker, warehouse, trained model or stack
process and runs in seconds; `integration/` runs the real parts. `support/` holds what both use."""
