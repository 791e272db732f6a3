"""Example: stream_handlers (run `python examples/stream_handlers/sync.py`)."""
