"""Benchmarks of the codex_manager SDK against raw baselines measured in the same run.

Run ``python -m bench`` (``make bench``); ``python -m bench --quick`` is the smoke-sized run.
"""
