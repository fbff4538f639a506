"""posixbackend package."""
