"""MountFileSystem: several providers composed into one namespace, as mounts are on Linux."""

from vfs.mount.filesystem import MountFileSystem

__all__ = ["MountFileSystem"]
