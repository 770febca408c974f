"""In-app notifications: one per (event, recipient), written by the delivery task."""
