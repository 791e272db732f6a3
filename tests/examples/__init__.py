"""Tests that run every example against the fake server."""
