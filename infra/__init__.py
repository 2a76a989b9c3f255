"""Adapters to the outside world: settings, broker, Kafka, warehouse, logging."""
