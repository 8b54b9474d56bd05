"""Shared code of the Tags service, by layer: `http` → `domain` → `store`, with `flows` (stream, change events,
commands) beside `http`, and small shared modules here (errors, ids, names, clock, settings). docs/architecture.md."""
