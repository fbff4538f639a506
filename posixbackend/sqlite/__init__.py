"""sqlite3 on the emulated backend: an SQLite VFS whose files are the backend's.

:mod:`~posixbackend.sqlite.vfs` is the VFS (C trampolines in posixbackend._sqlitevfs, else
ctypes adaptors), registered once per process into the libsqlite3 ``_sqlite3`` links
(:mod:`~posixbackend.sqlite.library`);
:mod:`~posixbackend.sqlite.connect` routes ``sqlite3.connect`` of a database file to it while
an emulated backend serves.
"""
