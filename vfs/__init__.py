"""vfs package."""
