"""Worked examples of the isolated mode: code-evaluation harnesses built on the pool."""
