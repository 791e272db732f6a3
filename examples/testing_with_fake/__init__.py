"""Example: testing_with_fake (run `python examples/testing_with_fake/sync.py`)."""
