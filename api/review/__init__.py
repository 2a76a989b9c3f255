"""Human review: queues, claims, decisions, appeals, notices, webhooks and DSA exports."""
