"""Test modules the runner tests run in child processes: one that crashes, one that hangs."""
