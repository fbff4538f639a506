"""The SQLite VFS over the emulated backend, registered once per process, never freed.

What each VFS method does is written once, here, in Python. SQLite reaches these methods
through C trampolines (posixbackend/_sqlitevfs.c, optional, built with the package) or,
where those are not built, through ctypes adaptors (:mod:`posixbackend.sqlite.ctypesvfs`);
both take the GIL, which SQLite's own worker threads need. ctypes costs about 0.8 us more per
call, and SQLite makes about seven calls per primary-key SELECT. The trampolines need fewer:
once a file is open (:meth:`Vfs.c_open_direct`) they call its handle's pread, pwrite, size
and sync themselves, and keep SQLite's locks in C on the file's lock record, by the rules of
:mod:`posixbackend.sqlite.locking` (c_lock, c_unlock, c_check_reserved, c_lock_state,
c_sync and c_file_size serve the ctypes adaptors). A memory database's new rollback journal
is made, opened, closed and unlinked by the trampolines through posixbackend._speedups,
without c_open, c_close and c_delete, where the file system's common case allows (see
:meth:`Vfs.memory_companions`); these methods serve every other case.

Each file is opened on the backend that served the connect: ``sqlite3.connect`` (see
:mod:`posixbackend.sqlite.connect`) puts a token naming that backend into the URI, and SQLite
keeps URI parameters readable from the database's, the journal's and the WAL's names. The
VFS, its method tables and callbacks are deliberately leaked: SQLite keeps pointers to them
in every connection, and freeing them with a connection open (even at interpreter exit)
crashes the process.
"""

from __future__ import annotations

import contextlib
import errno
import itertools
import os
import posixpath
import stat
import threading
from typing import Any, Final

import compat
from posixbackend.emulated import EmulatedBackend, accelerator
from posixbackend.sqlite import causes, codes
from posixbackend.sqlite.files import SqliteFile, nameless
from posixbackend.sqlite.locking import LOCKS, LockRecord
from vfs import MemoryFileSystem
from vfs.memory.handle import MemoryHandle
from vfs.memory.nodes import RegularFile
from vfs.provider import Handle

NAME: Final = "posixbackend"
"""The VFS's name (``vfs=posixbackend`` in a URI)."""
TOKEN: Final = "posixbackend-backend"
"""The URI parameter naming the backend a connection's files are opened on."""
NO_WAL = compat.declare(
    id="sqlite.wal",
    function="sqlite3.connect",
    aspect="WAL journal mode",
    level=compat.Level.INFO,
    explanation="the VFS has no shared memory, so SQLite refuses WAL as it does on such "
    "systems: 'PRAGMA journal_mode=wal' answers the current mode ('delete') unless "
    "locking_mode is EXCLUSIVE",
)
LOCKS_IN_PROCESS = compat.declare(
    id="sqlite.locks_in_process",
    function="sqlite3.connect",
    aspect="file locks",
    level=compat.Level.INFO,
    explanation="SQLite's locks on the backend's files are kept in this process (as the "
    "unix VFS keeps them between its own connections): another process using the same host "
    "file at once is not locked out",
)
UNBOUND_NAMES = compat.declare(
    id="sqlite.unbound_names",
    function="sqlite3.connect",
    aspect="ATTACH and other names given in SQL",
    level=compat.Level.FINE,
    explanation="a database file named in SQL (ATTACH 'x.db', VACUUM INTO) is opened on the "
    "backend serving the thread that runs the statement, and its journal on the one serving "
    "each later commit; files of a connect'ed database keep the connect's backend",
)
NO_SYMLINK_RESOLUTION = compat.declare(
    id="sqlite.full_pathname",
    function="sqlite3.connect",
    aspect="full path names",
    level=compat.Level.FINE,
    explanation="a database path is made absolute against the backend's current directory "
    "without resolving symbolic links: the journal of a database opened through a symlink "
    "is made next to the link, not next to its target",
)
IN_MEMORY_JOURNALS = compat.declare(
    id="sqlite.memory_journal_header",
    function="sqlite3.connect",
    aspect="rollback journal header on the memory file system",
    level=compat.Level.FINE,
    explanation="a database on a memory file system reports safe-append, sequential "
    "storage (true there), so SQLite writes its rollback journal's record count as 'the "
    "rest of the file' (0xffffffff) and never rewrites it, and skips the journal's syncs; "
    "the journal's bytes during a transaction differ from those on a Linux file system, "
    "rollback and hot-journal recovery do not",
)
_READWRITE = os.R_OK | os.W_OK
NAME_NEEDED: Final = -(1 << 20)
"""c_access's answer when it needs the name and token it was not given."""
_NOFOLLOW = 0x01000000
"""SQLITE_OPEN_NOFOLLOW."""
_IN_MEMORY: Final = (
    codes.IOCAP_POWERSAFE_OVERWRITE | codes.IOCAP_SAFE_APPEND | codes.IOCAP_SEQUENTIAL
)
"""A memory file system's files: each write lands whole, in order, data before size, under
the file system's one lock, and nothing outlives the process (see c_device_characteristics)."""
_LOCKED_FILES: Final = codes.OPEN_MAIN_DB | codes.OPEN_TEMP_DB | codes.OPEN_TRANSIENT_DB
"""The files SQLite's pager takes locks on (its databases; no journal ever)."""


class BackendTokens:
    """The backends connections were opened on, by the token in their URIs, each held while
    a connect call or an open database file uses it (its journal and WAL, which SQLite
    closes before it, look the token up without holding it)."""

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._counter = itertools.count(1)
        self._held: dict[str, list[Any]] = {}

    def issue(self, backend: EmulatedBackend) -> str:
        """A new token for ``backend``, held once (release it when the connect returns)."""
        token = f"{next(self._counter)}"
        with self._mutex:
            self._held[token] = [backend, 1]
        return token

    def hold(self, token: str) -> EmulatedBackend | None:
        """The backend of ``token``, held once more; None for an unknown token."""
        with self._mutex:
            entry = self._held.get(token)
            if entry is None:
                return None
            entry[1] += 1
            backend: EmulatedBackend = entry[0]
            return backend

    def peek(self, token: bytes) -> EmulatedBackend | None:
        """The backend of ``token`` without holding it (for a call some file holds it for)."""
        entry = self._held.get(token.decode())
        return None if entry is None else entry[0]

    def release(self, token: str) -> None:
        """Drop one hold; the last one forgets the token."""
        with self._mutex:
            entry = self._held[token]
            entry[1] -= 1
            if entry[1] == 0:
                del self._held[token]


class Vfs:
    """The VFS's methods, with plain arguments (addresses as ints) and results (a result
    code, or a value): the C trampolines of posixbackend._sqlitevfs call them, and so do the
    ctypes adaptors of :mod:`posixbackend.sqlite.ctypesvfs`. They never raise: a failure is
    SQLite's result code, its exception recorded as the cause (see causes.py)."""

    def __init__(self) -> None:
        self.trampolines = False
        """Whether SQLite reaches these methods through the C trampolines (else ctypes)."""
        self.tokens = BackendTokens()
        self._names: dict[int, tuple[EmulatedBackend, str]] = {}
        """The journal and WAL names of open databases by address (SQLite passes the same
        pointers to xAccess and xDelete): their backend and path, known without a look-up."""
        self._files: dict[int, SqliteFile] = {}
        """The open files by the address of their sqlite3_file."""

    # -- the backend of a name -------------------------------------------------------------

    def _backend_of(self, name: str, token: bytes | None) -> tuple[EmulatedBackend, str | None]:
        """The backend a file name of SQLite's belongs to, held once when a token names it."""
        if token is not None:
            backend = self.tokens.hold(token.decode())
            if backend is not None:
                return backend, token.decode()
        return self._unbound(name), None

    def _backend_now(self, name: str, token: bytes | None) -> EmulatedBackend:
        """The backend of a name for a call that holds no file (its connection holds it)."""
        backend = self.tokens.peek(token) if token is not None else None
        return self._unbound(name) if backend is None else backend

    def _unbound(self, name: str) -> EmulatedBackend:
        """The backend of a name whose URI names none: the one serving the calling thread."""
        from posixbackend.switch.guard import current_emulated

        UNBOUND_NAMES.hit(path=name)
        serving = current_emulated()
        if serving is None:
            raise OSError(errno.ENOENT, "no emulated backend serves this thread")
        return serving

    def _unheld(self, token: str | None) -> None:
        if token is not None:
            self.tokens.release(token)

    # -- sqlite3_vfs -----------------------------------------------------------------------

    def c_open(  # noqa: PLR0917 - xOpen's arguments, as the trampolines pass them
        self,
        file: int,
        name: bytes | None,
        flags: int,
        token: bytes | None,
        immutable: bool,
        companions: tuple[tuple[int, bytes], ...],
    ) -> int:
        """xOpen of ``name`` (None: a nameless temporary file) into the sqlite3_file at
        ``file``, with the URI's backend ``token`` and ``immutable`` parameter, and the
        (address, name) of the journal's and WAL's names of a main database: the flags the
        file was opened with, or minus the result code."""
        backend_token = None
        try:
            if name is None:
                opened = nameless()
            else:
                path = os.fsdecode(name)
                if flags & codes.OPEN_MAIN_DB:
                    backend, backend_token = self._backend_of(path, token)
                else:  # a journal or WAL: its database's file, closed after it, holds the token
                    backend = self._backend_now(path, token)
                opened, flags = self._open_named(backend, path, flags, backend_token, immutable)
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            self._unheld(backend_token)
            code = codes.CANTOPEN
            if isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT):
                code = codes.FULL
            return -causes.record(error, code)
        self._files[file] = opened  # the address is the file's for as long as it is open
        if flags & codes.OPEN_MAIN_DB and opened.backend is not None:
            for address, companion in companions:
                self._names[address] = (opened.backend, os.fsdecode(companion))
            opened.companions = tuple(address for address, _ in companions)
        return flags

    def _open_named(
        self,
        backend: EmulatedBackend,
        path: str,
        flags: int,
        token: str | None,
        immutable: bool,
    ) -> tuple[SqliteFile, int]:
        """A named file opened as the unix VFS opens it: read-write if asked, else read-only
        (also when read-write is refused: writes then fail as 'readonly database')."""
        os_flags = os.O_RDWR if flags & codes.OPEN_READWRITE else os.O_RDONLY
        if flags & codes.OPEN_CREATE:
            os_flags |= os.O_CREAT
        if flags & codes.OPEN_EXCLUSIVE:
            os_flags |= os.O_EXCL
        if flags & _NOFOLLOW:
            os_flags |= os.O_NOFOLLOW
        mode = self._companion_mode(backend, path, flags)
        try:
            handle = backend.open_handle(path, os_flags, mode or 0o644)
        except OSError as error:
            if error.errno == errno.EISDIR or not flags & codes.OPEN_READWRITE:
                raise
            try:
                handle = backend.open_handle(path, os_flags & ~(os.O_RDWR | os.O_CREAT))
            except OSError:
                raise error from None  # the read-write refusal says why (EACCES, EROFS)
            flags = flags & ~(codes.OPEN_READWRITE | codes.OPEN_CREATE) | codes.OPEN_READONLY
        immutable = bool(flags & codes.OPEN_MAIN_DB) and immutable
        try:
            created = mode is not None and flags & codes.OPEN_CREATE
            locked = flags & _LOCKED_FILES  # its identity keys its lock record
            if created and not locked and type(handle) is MemoryHandle:
                assert mode is not None
                _give_memory_mode(handle, mode)  # a journal's: no status record to build
                status = None
            else:
                status = handle.stat() if created or locked else None
                if created:
                    assert mode is not None and status is not None
                    _give_mode(handle, mode, status)
            opened = SqliteFile(
                handle, backend, status if locked else None, immutable=immutable, token=token
            )
            if locked and not immutable and type(handle) is MemoryHandle:
                IN_MEMORY_JOURNALS.hit(path=path)  # see c_device_characteristics
        except BaseException:
            handle.close()
            raise
        if flags & codes.OPEN_DELETEONCLOSE:  # gone at once, as the unix VFS does it
            with contextlib.suppress(OSError):  # which ignores a failure too
                backend.delete(path)
        return opened, flags

    def _companion_mode(self, backend: EmulatedBackend, path: str, flags: int) -> int | None:
        """The permission bits a new journal or WAL gets: its database's, as the unix VFS
        gives them (None for other files, or when the database cannot be seen)."""
        suffix = "-journal" if flags & codes.OPEN_MAIN_JOURNAL else "-wal"
        if not flags & (codes.OPEN_MAIN_JOURNAL | codes.OPEN_WAL) or not path.endswith(suffix):
            return None
        database = path.removesuffix(suffix)
        memory = _memory_of(backend)
        if memory is not None:  # the inode's bits from C, without a status record
            assert accelerator._speedups is not None
            bits = accelerator._speedups.memory_mode(memory, database)
            if bits != -2:  # -1: missing, as probe's None; -2: the file system must say
                return None if bits == -1 else bits & 0o777
        status = backend.probe(database)
        return None if status is None else stat.S_IMODE(status.st_mode) & 0o777

    def memory_companions(self, file: int) -> tuple[tuple[int, MemoryFileSystem, str], ...]:
        """(address, file system, path) of the journal's and WAL's names of the database
        open at ``file`` when its backend's file system is a MemoryFileSystem the C
        accelerator can read: the trampolines answer SQLite's existence checks of them in C
        (see MemoryWriterApi.exists), asking c_access only where that cannot tell, and make,
        open and unlink a new journal there (MemoryWriterApi.create and unlink; c_open and
        c_delete where they cannot)."""
        opened = self._files[file]
        memory = None if opened.backend is None else _memory_of(opened.backend)
        if memory is None:
            return ()
        return tuple((address, memory, self._names[address][1]) for address in opened.companions)

    def knows(self, address: int) -> bool:
        """Whether the name at ``address`` is a journal's or WAL's name noted at open (its
        name and token are then not needed)."""
        return address in self._names

    def c_delete(self, address: int, name: bytes, token: bytes | None) -> int:
        """xDelete of ``name`` (at ``address``, with the URI's backend ``token``): the result
        code."""
        try:
            known = self._names.get(address)
            if known is None:
                path = os.fsdecode(name)
                self._backend_now(path, token).delete(path)
            else:
                known[0].delete(known[1])
        except FileNotFoundError:  # SQLite takes it as done: no error to keep
            return codes.IOERR_DELETE_NOENT
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.IOERR_DELETE)
        return codes.OK

    def c_access(self, address: int, name: bytes | None, flags: int, token: bytes | None) -> int:
        """xAccess of ``name`` (at ``address``, with the URI's backend ``token``): 1 or 0,
        or minus the result code; NAME_NEEDED when ``name`` is None and the address is not a
        noted journal's or WAL's (the caller asks again with the name and token)."""
        try:
            known = self._names.get(address)
            if known is None:
                if name is None:
                    return NAME_NEEDED
                path = os.fsdecode(name)
                backend = self._backend_now(path, token)
            else:
                backend, path = known
            if flags == codes.ACCESS_EXISTS:  # an empty regular file counts as missing (unix)
                status = backend.probe(path)
                return int(
                    status is not None and (status.st_size > 0 or not stat.S_ISREG(status.st_mode))
                )
            return int(backend.access(path, _READWRITE))
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return -causes.record(error, codes.IOERR_ACCESS)

    def c_full_pathname(self, name: bytes) -> bytes | int:
        """xFullPathname: the absolute name, or the result code."""
        try:
            path = os.fsdecode(name)
            if not path.startswith("/"):
                from posixbackend.switch.guard import current_emulated

                serving = current_emulated()
                if serving is None:
                    raise OSError(errno.ENOENT, "no emulated backend serves this thread")
                path = posixpath.join(serving.getcwd(), path)
            NO_SYMLINK_RESOLUTION.hit(path=path)
            return os.fsencode(posixpath.normpath(path).replace("//", "/", 1))
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.CANTOPEN_FULLPATH)

    def c_last_error(self) -> bytes:
        """xGetLastError: the last provider error's message."""
        return causes.last_message().encode(errors="replace")

    # -- sqlite3_io_methods ----------------------------------------------------------------

    def c_close(self, file: int) -> int:
        """xClose: the result code."""
        opened = self._files.pop(file)
        for address in opened.companions:
            self._names.pop(address, None)
        try:
            opened.close()
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.IOERR_CLOSE)
        finally:
            self._unheld(opened.token)
        return codes.OK

    def c_read(self, file: int, amount: int, offset: int) -> bytes | int:
        """xRead: up to ``amount`` bytes (fewer at the end of the file), or the result code."""
        try:
            return self._files[file].handle.pread(amount, offset)
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.io_error(error, codes.IOERR_READ))

    def c_write(self, file: int, data: bytes | memoryview, offset: int) -> int:
        """xWrite: the result code (``data`` is SQLite's buffer: copied before use)."""
        try:
            self._files[file].write(bytes(data), offset)
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.io_error(error, codes.IOERR_WRITE))
        return codes.OK

    def c_open_direct(  # noqa: PLR0917 - xOpen's arguments, as the trampolines pass them
        self,
        file: int,
        name: bytes | None,
        flags: int,
        token: bytes | None,
        immutable: bool,
        companions: tuple[tuple[int, bytes], ...],
    ) -> tuple[int, Any, Any, int, Any, Any, LockRecord, tuple[Any, ...]] | int:
        """c_open for the C trampolines, in one call with what they use without this
        object's table in between: the flags the file was opened with, its handle's pread
        and pwrite, its device characteristics, the handle's size and sync (the trampolines
        call these directly; what they raise goes to c_failed), and its lock record (they
        take and drop SQLite's locks on it in C, by LockTable's rules, instead of calling
        c_lock, c_unlock and c_check_reserved), and for a database, its
        :meth:`memory_companions`; or minus the result code, as c_open."""
        opened_flags = self.c_open(file, name, flags, token, immutable, companions)
        if opened_flags < 0:
            return opened_flags
        try:
            opened = self._files[file]
            handle = opened.handle
            return (
                opened_flags, handle.pread, accelerator.pwrite_of(handle),
                self.c_device_characteristics(file), handle.size, handle.sync, opened.locks,
                self.memory_companions(file) if opened.companions else (),
            )  # fmt: skip
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            self.c_close(file)
            return -causes.record(error, codes.CANTOPEN)

    def c_failed(self, file: int, error: BaseException, code: int) -> int:
        """The result code of ``error``, raised by the pread, pwrite, size or sync of the
        open file at ``file`` where ``code`` (SQLITE_IOERR_READ, _WRITE, _FSTAT or _FSYNC) is
        the generic one."""
        del file  # the file's identity is not part of the cause
        return causes.record(error, codes.io_error(error, code))

    def c_truncate(self, file: int, size: int) -> int:
        """xTruncate: the result code."""
        try:
            self._files[file].handle.truncate(size)
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.io_error(error, codes.IOERR_TRUNCATE))
        return codes.OK

    def c_sync(self, file: int, _flags: int) -> int:
        """xSync: the result code."""
        try:
            self._files[file].handle.sync()
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return causes.record(error, codes.io_error(error, codes.IOERR_FSYNC))
        return codes.OK

    def c_file_size(self, file: int) -> int:
        """xFileSize: the size, or minus the result code."""
        try:
            return self._files[file].handle.size()
        except BaseException as error:  # noqa: BLE001 - becomes SQLite's result (and cause)
            return -causes.record(error, codes.IOERR_FSTAT)

    def c_lock(self, file: int, level: int) -> int:
        """xLock: SQLITE_OK, or SQLITE_BUSY when another connection's lock is in the way."""
        opened = self._files[file]
        code, opened.level = LOCKS.lock(opened.locks, opened.level, level)
        return code

    def c_unlock(self, file: int, level: int) -> int:
        """xUnlock: SQLITE_OK."""
        opened = self._files[file]
        opened.level = LOCKS.unlock(opened.locks, opened.level, level)
        return codes.OK

    def c_check_reserved(self, file: int) -> int:
        """xCheckReservedLock: 1 when a connection holds RESERVED or more, else 0."""
        return int(self._files[file].locks.level > codes.LOCK_SHARED)

    def c_lock_state(self, file: int) -> int:
        """SQLITE_FCNTL_LOCKSTATE: the lock level the file holds."""
        return self._files[file].level

    def c_pragma(self, file: int, name: bytes | None, value: bytes | None) -> int:
        """SQLITE_FCNTL_PRAGMA: SQLITE_NOTFOUND (SQLite's own handling), after noting a
        request for WAL, which SQLite will refuse."""
        if (name or b"").lower() == b"journal_mode" and (value or b"").lower() == b"wal":
            NO_WAL.hit(path=self._files[file].handle.path)
        return codes.NOTFOUND

    def c_device_characteristics(self, file: int) -> int:
        """xDeviceCharacteristics: powersafe overwrite, as the unix VFS answers; for a file of
        a memory file system also SAFE_APPEND and SEQUENTIAL, which hold there for every
        observer (each write lands whole and in order under the file system's lock, data
        before size, and nothing outlives the process): SQLite then skips the journal syncs
        and the rewrite of the journal header's record count at each commit, leaving the
        count to the journal's size (as its format allows) when it rolls a hot journal back."""
        opened = self._files[file]
        if opened.immutable:
            return codes.IOCAP_POWERSAFE_OVERWRITE | codes.IOCAP_IMMUTABLE
        if type(opened.handle) is MemoryHandle:
            return _IN_MEMORY
        return codes.IOCAP_POWERSAFE_OVERWRITE


def _memory_of(backend: EmulatedBackend) -> MemoryFileSystem | None:
    """The backend's file system when the C accelerator can look paths up in it (a plain
    MemoryFileSystem, the accelerator built and wanted), else None."""
    memory = backend.file_system
    if type(memory) is MemoryFileSystem and accelerator.wanted(None):
        return memory
    return None


def _give_memory_mode(handle: MemoryHandle, mode: int) -> None:
    """:func:`_give_mode` for a memory file, read from its inode (as the status record would
    give it) without building that record: a new journal at each write transaction."""
    node = handle.node
    if isinstance(node, RegularFile) and node.size == 0 and node.mode & 0o7777 != mode:
        handle.chmod(mode)


def _give_mode(handle: Handle, mode: int, status: os.stat_result) -> None:
    """Make a file SQLite just created (its status: ``status``) have exactly ``mode``
    (whatever the umask took away), as the unix VFS does for journals: readers of the
    database must be able to read them."""
    if status.st_size == 0 and stat.S_IMODE(status.st_mode) != mode:
        handle.chmod(mode)
