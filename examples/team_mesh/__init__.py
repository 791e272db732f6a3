"""Example: team_mesh (run `python examples/team_mesh/sync.py`)."""
