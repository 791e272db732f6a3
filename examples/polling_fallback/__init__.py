"""Example: polling_fallback (run `python examples/polling_fallback/sync.py`)."""
