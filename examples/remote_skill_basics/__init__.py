"""Example: remote_skill_basics (run `python examples/remote_skill_basics/sync.py`)."""
