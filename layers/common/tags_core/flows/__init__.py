"""What runs outside a request: the table's stream (derived views, clean-up), change events, queued commands."""
