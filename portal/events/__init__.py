"""Domain events: the outbox, delivery to Redis, the hub and the SSE stream."""
