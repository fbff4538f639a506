"""End-to-end tests of the launcher (``python -m posixbackend`` and its console scripts)."""
