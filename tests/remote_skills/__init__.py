"""Tests of codex_manager.remote_skills."""
