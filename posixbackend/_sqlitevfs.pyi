"""Types of the SQLite VFS's C trampolines (posixbackend/_sqlitevfs.c); see sqlite/vfs.py."""

def register(
    target: object,
    name: bytes,
    default_vfs: int,
    vfs_register: int,
    uri_parameter: int,
    uri_boolean: int,
    filename_journal: int,
    filename_wal: int,
    /,
) -> None: ...

class LockRecord:
    """One file's locks held by this process's connections (see sqlite/locking.py)."""

    level: int
    shared: int
    opened: int
