"""Adapters between vfs providers and other file system libraries (PyFilesystem2, fsspec...)."""
