"""The live verdict feed: one Kafka consumer on the verdict topic, fanned out to subscribers."""
