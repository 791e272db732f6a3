"""Example: typed_rest (run `python examples/typed_rest/sync.py`)."""
