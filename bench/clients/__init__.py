"""The benchmarked clients: raw baselines and the SDK, each run in its own process."""
