/* The optional C trampolines of the SQLite VFS over the emulated backend.
 *
 * posixbackend/sqlite/vfs.py defines what every VFS method does; this module only gives
 * SQLite C function pointers that take the GIL (SQLite calls from its own worker threads
 * too) and call the Python object's method of the same meaning, converting arguments and
 * results. It saves what ctypes' callback machinery costs per call (about 0.8 us), which
 * matters because SQLite makes several calls per statement. The Python methods never raise;
 * if one does all the same, the error is reported as unraisable and SQLite gets an I/O error.
 *
 * Some calls need no Python method once a file is open (Vfs.c_open_direct hands over what
 * they use): reads, writes, sizes and syncs call the provider handle's own methods (a memory
 * file's writes go to posixbackend._speedups' MemoryWriter as C buffers, and SQLite's size
 * hint makes room in it at once), SQLite's locks are taken and dropped here, on the lock
 * record posixbackend/sqlite/locking.py keeps per file, by the same rules, under one mutex
 * and without the GIL, and the existence checks of a memory database's journal and WAL are
 * answered by _speedups from the file system's caches (c_access only where it cannot tell).
 * A memory file's reads (SQLite's buffer filled from the file's bytes), size and sync need no
 * Python call either. A memory database's new rollback journal (one per write transaction in
 * DELETE mode) is
 * created, opened, closed and unlinked here through _speedups too (open_journal, x_close,
 * x_delete), in the file system's common case; c_open and c_delete serve every other case.
 *
 * Without the GIL: xLock, xUnlock, xCheckReservedLock and SQLITE_FCNTL_LOCKSTATE (the lock
 * record, under record_mutex), xSectorSize (a constant) and xDeviceCharacteristics (fixed at
 * open). Every other call takes the GIL (about 500 instructions each, most of them a page
 * write's): a memory file's bytes, size and times are Python objects guarded by the file
 * system's Python lock, which C can only look at with the GIL held; a copy of a file's size
 * or of its handle's state (a sync's EBADF) kept here would miss the changes Python code
 * makes (the program's os.write or os.truncate of the same file), and any other provider's
 * handle is Python code.
 *
 * The structures are declared here from sqlite3.h's stable ABI (sqlite3_vfs version 2,
 * sqlite3_io_methods version 1: no shared memory, so SQLite refuses WAL cleanly), and the
 * library's functions come as addresses from Python (found through _sqlite3's own link), so
 * the module links no libsqlite3 of its own. Registration happens once per process; nothing
 * here is ever freed: SQLite keeps pointers to it in every connection.
 */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>
#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "_memory_writer_api.h"

typedef struct sqlite3_file sqlite3_file;
typedef struct sqlite3_vfs sqlite3_vfs;
typedef struct sqlite3_io_methods sqlite3_io_methods;

struct sqlite3_file {
    const sqlite3_io_methods *pMethods;
};

struct sqlite3_io_methods {
    int iVersion;
    int (*xClose)(sqlite3_file *);
    int (*xRead)(sqlite3_file *, void *, int, int64_t);
    int (*xWrite)(sqlite3_file *, const void *, int, int64_t);
    int (*xTruncate)(sqlite3_file *, int64_t);
    int (*xSync)(sqlite3_file *, int);
    int (*xFileSize)(sqlite3_file *, int64_t *);
    int (*xLock)(sqlite3_file *, int);
    int (*xUnlock)(sqlite3_file *, int);
    int (*xCheckReservedLock)(sqlite3_file *, int *);
    int (*xFileControl)(sqlite3_file *, int, void *);
    int (*xSectorSize)(sqlite3_file *);
    int (*xDeviceCharacteristics)(sqlite3_file *);
};

struct sqlite3_vfs {
    int iVersion;
    int szOsFile;
    int mxPathname;
    sqlite3_vfs *pNext;
    const char *zName;
    void *pAppData;
    int (*xOpen)(sqlite3_vfs *, const char *, sqlite3_file *, int, int *);
    int (*xDelete)(sqlite3_vfs *, const char *, int);
    int (*xAccess)(sqlite3_vfs *, const char *, int, int *);
    int (*xFullPathname)(sqlite3_vfs *, const char *, int, char *);
    void *xDlOpen;
    void *xDlError;
    void *xDlSym;
    void *xDlClose;
    void *xRandomness;
    void *xSleep;
    void *xCurrentTime;
    int (*xGetLastError)(sqlite3_vfs *, int, char *);
    void *xCurrentTimeInt64;
};

#define SQLITE_OK 0
#define SQLITE_IOERR 10
#define SQLITE_CANTOPEN 14
#define SQLITE_IOERR_SHORT_READ (SQLITE_IOERR | (2 << 8))
#define SECTOR_SIZE 4096
#define SQLITE_IOERR_READ (SQLITE_IOERR | (1 << 8))
#define SQLITE_IOERR_WRITE (SQLITE_IOERR | (3 << 8))
#define SQLITE_IOERR_FSYNC (SQLITE_IOERR | (4 << 8))
#define SQLITE_IOERR_FSTAT (SQLITE_IOERR | (7 << 8))
#define SQLITE_IOERR_LOCK (SQLITE_IOERR | (15 << 8))
#define SQLITE_IOERR_TRUNCATE (SQLITE_IOERR | (6 << 8))
#define SQLITE_IOERR_CLOSE (SQLITE_IOERR | (16 << 8))
#define SQLITE_IOERR_DELETE_NOENT (SQLITE_IOERR | (23 << 8))
#define SQLITE_OPEN_READWRITE 0x2
#define SQLITE_OPEN_CREATE 0x4
#define SQLITE_OPEN_MAIN_JOURNAL 0x800
/* posixbackend.sqlite.vfs._IN_MEMORY: POWERSAFE_OVERWRITE | SAFE_APPEND | SEQUENTIAL */
#define IN_MEMORY_CHARACTERISTICS (0x1000 | 0x200 | 0x400)
#define SQLITE_BUSY 5
#define LOCK_NONE 0
#define LOCK_SHARED 1
#define LOCK_PENDING 3
#define LOCK_EXCLUSIVE 4

/* One file's locks held by this process's connections: posixbackend.sqlite.locking's
 * record (its LockTable makes these when the trampolines serve, and keeps them by file
 * identity). The trampolines take and drop locks here, in C, under ``record_mutex``, as the
 * unix VFS does under its big lock: no Python call, no GIL. Python reads the fields as
 * attributes and changes only ``opened``. */
typedef struct {
    PyObject_HEAD
    int level;  /* the strongest lock any connection holds */
    int shared; /* how many connections hold SHARED or stronger */
    int opened; /* how many open SQLite files refer to the record (Python's count) */
} LockRecord;

static pthread_mutex_t record_mutex = PTHREAD_MUTEX_INITIALIZER;

static PyMemberDef record_members[] = {
    {"level", T_INT, offsetof(LockRecord, level), 0, "The strongest lock any connection holds."},
    {"shared", T_INT, offsetof(LockRecord, shared), 0, "How many connections hold SHARED or more."},
    {"opened", T_INT, offsetof(LockRecord, opened), 0, "How many open files refer to it."},
    {NULL, 0, 0, 0, NULL},
};

static PyTypeObject LockRecordType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "posixbackend._sqlitevfs.LockRecord",
    .tp_basicsize = sizeof(LockRecord),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = PyDoc_STR("The locks this process's connections hold on one file (all zero "
                        "when made); the trampolines change level and shared."),
    .tp_members = record_members,
    .tp_new = PyType_GenericNew,
};

/* The sqlite3_file SQLite allocates for each open file (szOsFile bytes): after SQLite's
 * part, the provider handle's pread, pwrite, size and sync, so those calls go straight to
 * the handle instead of through the Vfs methods and the open-file table (NULL until open
 * succeeded, and again after close; read and written with the GIL only), the file's device
 * characteristics, fixed at open, its lock record and the lock level it holds (read and
 * written under record_mutex; SQLite never locks one file from two threads at once). */
typedef struct {
    sqlite3_file base;
    PyObject *reader;
    PyObject *writer;
    PyObject *sizer;
    PyObject *syncer;
    LockRecord *locks;
    PyObject *handle; /* a journal opened here in C (see open_journal): its MemoryHandle, which
                       * Vfs's table of open files does not hold; else NULL */
    int level;
    int characteristics;
} VfsFile;

/* The journal's and WAL's names of an open database on a memory file system, by the address
 * SQLite passes to xAccess (the pointers sqlite3_filename_journal/_wal gave at open): their
 * file system and path, so that SQLite's existence checks of them (before each transaction)
 * are answered in C by MemoryWriterApi.exists. Made by direct() for a database, dropped by
 * x_close of that database (``owner``); read and changed with the GIL only. */
typedef struct Companion {
    const char *address;
    const sqlite3_file *owner;
    PyObject *fs;
    PyObject *path;
    struct Companion *next;
} Companion;

static Companion *companions;

static PyObject *target;  /* the Python Vfs object: a strong reference, never dropped */
/* posixbackend._speedups' MemoryWriter write of a C buffer (NULL where it is not built) */
static const MemoryWriterApi *writer_api;
static const char *(*uri_parameter)(const char *, const char *);
static int (*uri_boolean)(const char *, const char *, int);
static const char *(*filename_journal)(const char *);
static const char *(*filename_wal)(const char *);
static const char *token_parameter = "posixbackend-backend";
#define SQLITE_OPEN_MAIN_DB 0x100
#define SQLITE_NOTFOUND 12
#define SQLITE_FCNTL_LOCKSTATE 1
#define SQLITE_FCNTL_SIZE_HINT 5
#define SQLITE_ACCESS_EXISTS 0
#define SQLITE_FCNTL_PRAGMA 14
#define NAME_NEEDED (-(1 << 20)) /* posixbackend.sqlite.vfs.NAME_NEEDED */
static sqlite3_vfs vfs;
static sqlite3_io_methods methods;
static char *vfs_name;
static PyObject *s_open, *s_close, *s_read, *s_write, *s_truncate, *s_device_characteristics,
    *s_delete, *s_access, *s_full_pathname, *s_last_error, *s_pragma, *s_failed;
static PyObject *s_pread, *s_size, *s_sync; /* a journal's handle's methods (method_of) */
static PyObject *s_journal_suffix; /* "-journal": a rollback journal's name ends with it */

/* The handle's method ``name`` kept in ``slot`` of ``file``: a journal opened here (see
 * open_journal) looks it up on its first use only, since its memory file's reads, size and
 * sync are served in C (by MemoryWriterApi) and the bound methods are their fallback (the GIL
 * held). A borrowed reference, or NULL with an exception (the caller's to report). */
static PyObject *
method_of(PyObject *handle, PyObject **slot, PyObject *name)
{
    if (*slot == NULL) {
        if (handle == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "the SQLite file is not open");
            return NULL;
        }
        *slot = PyObject_GetAttr(handle, name);
    }
    return *slot;
}

/* Call target.<name>(*args) with the GIL; the result, or NULL after reporting the error. */
static PyObject *
call(PyObject *name, PyObject *const *args, size_t nargs)
{
    PyObject *stack[7];
    stack[0] = target;
    for (size_t i = 0; i < nargs; i++) {
        stack[i + 1] = args[i];
    }
    PyObject *result = PyObject_VectorcallMethod(name, stack, (nargs + 1), NULL);
    if (result == NULL) {
        PyErr_WriteUnraisable(target);
    }
    return result;
}

/* A method whose result is an int code; ``failed`` when the call itself fails. The caller
 * holds the GIL; the arguments (new references, NULL when making one failed) are released. */
static int
call_int(PyObject *name, PyObject *const *args, size_t nargs, int failed)
{
    int code = failed;
    int good = 1;
    for (size_t i = 0; i < nargs; i++) {
        good = good && args[i] != NULL;
    }
    if (good) {
        PyObject *result = call(name, args, nargs);
        if (result != NULL) {
            long value = PyLong_AsLong(result);
            Py_DECREF(result);
            if (value == -1 && PyErr_Occurred()) {
                PyErr_WriteUnraisable(target);
            } else {
                code = (int)value;
            }
        }
    } else {
        PyErr_WriteUnraisable(target);
    }
    for (size_t i = 0; i < nargs; i++) {
        Py_XDECREF(args[i]);
    }
    return code;
}

static PyObject *
address(const void *pointer)
{
    return PyLong_FromVoidPtr((void *)pointer);
}

/* bytes of a C string, or None for NULL (a new reference; NULL when it fails). */
static PyObject *
optional_bytes(const char *text)
{
    if (text == NULL) {
        Py_RETURN_NONE;
    }
    return PyBytes_FromString(text);
}

/* The backend token among the URI parameters SQLite keeps after a file name, or None. */
static PyObject *
token_of(const char *name)
{
    return optional_bytes(uri_parameter(name, token_parameter));
}

/* (address, name) of the journal's and the WAL's names of the database ``name``. */
static PyObject *
companions_of(const char *name)
{
    const char *journal = filename_journal(name);
    const char *wal = filename_wal(name);
    PyObject *list = PyList_New(0);
    const char *each[2] = {journal, wal};
    for (int i = 0; list != NULL && i < 2; i++) {
        if (each[i] == NULL || each[i][0] == '\0') {
            continue;
        }
        PyObject *pair = Py_BuildValue("(Ny)", address(each[i]), each[i]);
        if (pair == NULL || PyList_Append(list, pair) < 0) {
            Py_XDECREF(pair);
            Py_CLEAR(list);
            break;
        }
        Py_DECREF(pair);
    }
    if (list == NULL) {
        return NULL;
    }
    PyObject *tuple = PyList_AsTuple(list);
    Py_DECREF(list);
    return tuple;
}

/* -- the companions' registry --------------------------------------------------------------- */

/* Forget the companions of the database ``owner`` (the GIL held). */
static void
forget_companions(const sqlite3_file *owner)
{
    Companion **link = &companions;
    while (*link != NULL) {
        Companion *entry = *link;
        if (entry->owner == owner) {
            *link = entry->next;
            Py_DECREF(entry->fs);
            Py_DECREF(entry->path);
            PyMem_RawFree(entry);
        }
        else {
            link = &entry->next;
        }
    }
}

/* Note the (address, file system, path) triples Vfs.memory_companions gave for the database
 * ``owner`` (the GIL held); one that cannot be noted is left to c_access. */
static void
note_companions(const sqlite3_file *owner, PyObject *triples)
{
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(triples); i++) {
        PyObject *triple = PyTuple_GET_ITEM(triples, i);
        if (!PyTuple_CheckExact(triple) || PyTuple_GET_SIZE(triple) != 3 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(triple, 2))) {
            continue;
        }
        void *where = PyLong_AsVoidPtr(PyTuple_GET_ITEM(triple, 0));
        Companion *entry = where == NULL ? NULL : PyMem_RawMalloc(sizeof(Companion));
        if (entry == NULL) {
            PyErr_Clear();
            continue;
        }
        entry->address = where;
        entry->owner = owner;
        entry->fs = Py_NewRef(PyTuple_GET_ITEM(triple, 1));
        entry->path = Py_NewRef(PyTuple_GET_ITEM(triple, 2));
        entry->next = companions;
        companions = entry;
    }
}

/* The noted companion at the address ``name`` (the GIL held), or NULL: not noted, or the
 * capsule of posixbackend._speedups is not there to serve it. */
static Companion *
companion_at(const char *name)
{
    if (writer_api == NULL) {
        return NULL;
    }
    for (Companion *entry = companions; entry != NULL; entry = entry->next) {
        if (entry->address == name) {
            return entry;
        }
    }
    return NULL;
}

/* SQLite's existence check of a noted companion ``name``, in C: 1 or 0, or -2 where c_access
 * must answer (not noted, or the file system must be asked; the GIL held). */
static int
companion_exists(const char *name)
{
    Companion *entry = companion_at(name);
    if (entry == NULL) {
        return -2;
    }
    int found = writer_api->exists(entry->fs, entry->path);
    if (found == -1) {
        PyErr_Clear(); /* c_access asks again, and keeps the cause of a failure */
        return -2;
    }
    return found;
}

/* -- sqlite3_io_methods --------------------------------------------------------------------- */

/* Drop ``file``'s lock to ``wanted`` (SHARED or NONE): the record's rules, as
 * posixbackend.sqlite.locking.LockTable.unlock has them. */
static void
drop_lock(VfsFile *file, int wanted)
{
    LockRecord *record = file->locks;
    if (record == NULL || file->level <= wanted) {
        return;
    }
    pthread_mutex_lock(&record_mutex);
    if (file->level > LOCK_SHARED) {
        record->level = LOCK_SHARED;
    }
    if (wanted == LOCK_NONE) {
        record->shared -= 1;
        if (record->shared == 0) {
            record->level = LOCK_NONE;
        }
    }
    file->level = wanted;
    pthread_mutex_unlock(&record_mutex);
}

static int failed(sqlite3_file *file, int code);

static int
x_close(sqlite3_file *file)
{
    VfsFile *opened = (VfsFile *)file;
    drop_lock(opened, LOCK_NONE); /* before Vfs.c_close lets the record go */
    PyGILState_STATE gil = PyGILState_Ensure();
    Py_CLEAR(opened->reader);
    Py_CLEAR(opened->writer);
    Py_CLEAR(opened->sizer);
    Py_CLEAR(opened->syncer);
    Py_CLEAR(opened->locks);
    int code = SQLITE_OK;
    if (opened->handle != NULL) { /* a journal opened here: its handle closes, nothing else */
        int closed = writer_api->close(opened->handle); /* in C, while it is linked */
        if (closed == 0) {
            PyObject *result = PyObject_CallMethod(opened->handle, "close", NULL);
            closed = result == NULL ? -1 : 1;
            Py_XDECREF(result);
        }
        if (closed < 0) {
            code = failed(file, SQLITE_IOERR_CLOSE);
        }
        Py_CLEAR(opened->handle);
        PyGILState_Release(gil);
        return code;
    }
    forget_companions(file);
    PyObject *args[1] = {address(file)};
    code = call_int(s_close, args, 1, SQLITE_IOERR);
    PyGILState_Release(gil);
    return code;
}

/* The result code of the exception a handle's pread or pwrite just raised: Vfs.c_failed
 * keeps it as the cause, as c_read and c_write do for theirs. */
static int
failed(sqlite3_file *file, int code)
{
#if PY_VERSION_HEX >= 0x030C0000
    PyObject *error = PyErr_GetRaisedException();
#else
    PyObject *kind, *error, *traceback;
    PyErr_Fetch(&kind, &error, &traceback);
    PyErr_NormalizeException(&kind, &error, &traceback);
    if (error != NULL && traceback != NULL) {
        PyException_SetTraceback(error, traceback);
    }
    Py_XDECREF(kind);
    Py_XDECREF(traceback);
#endif
    if (error == NULL) {
        return code;
    }
    PyObject *args[3] = {address(file), error, PyLong_FromLong(code)};
    return call_int(s_failed, args, 3, code);
}

/* Copy a pread's bytes to SQLite's buffer: SQLITE_OK, or a short read's code with the rest
 * zeroed (as SQLite wants); NULL or a non-bytes result is an int code from c_read. */
static int
read_result(PyObject *result, void *buffer, int amount)
{
    if (PyBytes_Check(result)) {
        Py_ssize_t got = PyBytes_GET_SIZE(result);
        if (got > amount) {
            got = amount;
        }
        memcpy(buffer, PyBytes_AS_STRING(result), (size_t)got);
        if (got < amount) {
            memset((char *)buffer + got, 0, (size_t)(amount - got));
            return SQLITE_IOERR_SHORT_READ;
        }
        return SQLITE_OK;
    }
    long value = PyLong_AsLong(result);
    if (value == -1 && PyErr_Occurred()) {
        PyErr_WriteUnraisable(target);
        return SQLITE_IOERR;
    }
    return (int)value;
}

static int
x_read(sqlite3_file *file, void *buffer, int amount, int64_t offset)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int code = SQLITE_IOERR;
    PyObject *writer = ((VfsFile *)file)->writer;
    if (writer_api != NULL && writer != NULL) { /* a memory file's bytes, copied in C */
        Py_ssize_t got = writer_api->read(writer, buffer, amount, offset);
        if (got >= 0) {
            if (got < amount) { /* the rest zeroed, as SQLite wants of a short read */
                memset((char *)buffer + got, 0, (size_t)(amount - got));
                code = SQLITE_IOERR_SHORT_READ;
            } else {
                code = SQLITE_OK;
            }
            PyGILState_Release(gil);
            return code;
        }
        if (got == -1) {
            code = failed(file, SQLITE_IOERR_READ);
            PyGILState_Release(gil);
            return code;
        }
    }
    VfsFile *opened = (VfsFile *)file;
    PyObject *reader = opened->handle == NULL ? opened->reader
        : method_of(opened->handle, &opened->reader, s_pread);
    if (reader == NULL && opened->handle != NULL) {
        code = failed(file, SQLITE_IOERR_READ);
        PyGILState_Release(gil);
        return code;
    }
    if (reader != NULL) {
        PyObject *args[2] = {PyLong_FromLong(amount), PyLong_FromLongLong(offset)};
        if (args[0] != NULL && args[1] != NULL) {
            PyObject *result = PyObject_Vectorcall(reader, args, 2, NULL);
            if (result != NULL) {
                code = read_result(result, buffer, amount);
                Py_DECREF(result);
            } else {
                code = failed(file, SQLITE_IOERR_READ);
            }
        } else {
            PyErr_WriteUnraisable(target);
        }
        Py_XDECREF(args[0]);
        Py_XDECREF(args[1]);
        PyGILState_Release(gil);
        return code;
    }
    PyObject *args[3] = {address(file), PyLong_FromLong(amount), PyLong_FromLongLong(offset)};
    if (args[0] != NULL && args[1] != NULL && args[2] != NULL) {
        PyObject *result = call(s_read, args, 3);
        if (result != NULL) {
            code = read_result(result, buffer, amount);
            Py_DECREF(result);
        }
    } else {
        PyErr_WriteUnraisable(target);
    }
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    Py_XDECREF(args[2]);
    PyGILState_Release(gil);
    return code;
}

/* Through Vfs.c_write: all of SQLite's ``amount`` bytes at ``offset`` (write_all's loop). */
static int
write_through_vfs(sqlite3_file *file, const void *buffer, int amount, int64_t offset)
{
    PyObject *view = PyMemoryView_FromMemory((char *)buffer, amount, PyBUF_READ);
    Py_XINCREF(view); /* kept past the call, to be released below */
    PyObject *args[3] = {address(file), view, PyLong_FromLongLong(offset)};
    int code = call_int(s_write, args, 3, SQLITE_IOERR);
    if (view != NULL) {
        /* SQLite's buffer is gone after this call: a view someone kept (a traceback's
         * frame) must not reach it. */
        PyObject *released = PyObject_CallMethod(view, "release", NULL);
        if (released == NULL) {
            PyErr_WriteUnraisable(target);
        }
        Py_XDECREF(released);
        Py_DECREF(view);
    }
    return code;
}

static int
x_write(sqlite3_file *file, const void *buffer, int amount, int64_t offset)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int code = SQLITE_IOERR;
    PyObject *writer = ((VfsFile *)file)->writer;
    if (writer == NULL) {
        code = write_through_vfs(file, buffer, amount, offset);
        PyGILState_Release(gil);
        return code;
    }
    if (writer_api != NULL) { /* a memory file's writer: SQLite's buffer, copied once, there */
        int done = writer_api->write(writer, buffer, amount, offset);
        if (done != 0) {
            code = done > 0 ? SQLITE_OK : failed(file, SQLITE_IOERR_WRITE);
            PyGILState_Release(gil);
            return code;
        }
    }
    /* bytes, not a view of SQLite's buffer: a handle may keep what it is given */
    PyObject *args[2] = {PyBytes_FromStringAndSize(buffer, amount), PyLong_FromLongLong(offset)};
    if (args[0] != NULL && args[1] != NULL) {
        PyObject *result = PyObject_Vectorcall(writer, args, 2, NULL);
        if (result != NULL) {
            long long written = PyLong_AsLongLong(result);
            Py_DECREF(result);
            if (written == amount) {
                code = SQLITE_OK;
            } else if (written == -1 && PyErr_Occurred()) {
                PyErr_WriteUnraisable(target);
            } else {
                /* a short write (a file system filling up): the rest, or all of it when
                 * the count makes no sense, through c_write, which ends in ENOSPC */
                long long done = (written > 0 && written < amount) ? written : 0;
                code = write_through_vfs(file, (const char *)buffer + done,
                                         (int)(amount - done), offset + done);
            }
        } else {
            code = failed(file, SQLITE_IOERR_WRITE);
        }
    } else {
        PyErr_WriteUnraisable(target);
    }
    Py_XDECREF(args[0]);
    Py_XDECREF(args[1]);
    PyGILState_Release(gil);
    return code;
}

static int
x_truncate(sqlite3_file *file, int64_t size)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *handle = ((VfsFile *)file)->handle;
    if (handle != NULL) { /* a journal opened here: its handle's truncate, as c_truncate */
        PyObject *result = PyObject_CallMethod(handle, "truncate", "L", (long long)size);
        int code = result == NULL ? failed(file, SQLITE_IOERR_TRUNCATE) : SQLITE_OK;
        Py_XDECREF(result);
        PyGILState_Release(gil);
        return code;
    }
    PyObject *args[2] = {address(file), PyLong_FromLongLong(size)};
    int code = call_int(s_truncate, args, 2, SQLITE_IOERR);
    PyGILState_Release(gil);
    return code;
}

/* xSync: the handle's sync (x_open made sure the file has it); a memory file's in C. */
static int
x_sync(sqlite3_file *file, int flags)
{
    (void)flags;
    PyGILState_STATE gil = PyGILState_Ensure();
    int code = SQLITE_OK;
    PyObject *writer = ((VfsFile *)file)->writer;
    if (writer_api != NULL && writer != NULL && writer_api->sync(writer) == 1) {
        PyGILState_Release(gil); /* a memory file's: nothing to write back */
        return code;
    }
    VfsFile *opened = (VfsFile *)file;
    PyObject *syncer = method_of(opened->handle, &opened->syncer, s_sync);
    PyObject *result = syncer == NULL ? NULL : PyObject_CallNoArgs(syncer);
    if (result == NULL) {
        code = failed(file, SQLITE_IOERR_FSYNC);
    }
    Py_XDECREF(result);
    PyGILState_Release(gil);
    return code;
}

/* xFileSize: the handle's size (x_open made sure the file has it); a memory file's in C. */
static int
x_file_size(sqlite3_file *file, int64_t *size)
{
    PyGILState_STATE gil = PyGILState_Ensure();
    int code = SQLITE_OK;
    PyObject *writer = ((VfsFile *)file)->writer;
    long long known = writer_api != NULL && writer != NULL ? writer_api->size(writer) : -2;
    if (known >= 0) { /* a dense memory file's, in C */
        PyGILState_Release(gil);
        *size = known;
        return code;
    }
    VfsFile *opened = (VfsFile *)file;
    PyObject *sizer = method_of(opened->handle, &opened->sizer, s_size);
    PyObject *result = sizer == NULL ? NULL : PyObject_CallNoArgs(sizer);
    long long value = result == NULL ? -1 : PyLong_AsLongLong(result);
    if (value == -1 && PyErr_Occurred()) {
        code = failed(file, SQLITE_IOERR_FSTAT);
    } else {
        *size = value;
    }
    Py_XDECREF(result);
    PyGILState_Release(gil);
    return code;
}

/* xLock: the rules of posixbackend.sqlite.locking.LockTable.lock, on the file's record. */
static int
x_lock(sqlite3_file *file, int wanted)
{
    VfsFile *opened = (VfsFile *)file;
    LockRecord *record = opened->locks;
    if (record == NULL) { /* no open file lacks one (x_open fails without it) */
        return SQLITE_IOERR_LOCK;
    }
    if (opened->level >= wanted) {
        return SQLITE_OK;
    }
    int code = SQLITE_OK;
    pthread_mutex_lock(&record_mutex);
    if (opened->level != record->level
        && (record->level >= LOCK_PENDING || wanted > LOCK_SHARED)) {
        code = SQLITE_BUSY; /* another connection is writing, or wants to */
    } else if (wanted == LOCK_SHARED) {
        record->shared += 1;
        if (record->level == LOCK_NONE) {
            record->level = LOCK_SHARED;
        }
        opened->level = LOCK_SHARED;
    } else if (wanted == LOCK_EXCLUSIVE && record->shared > 1) {
        record->level = LOCK_PENDING; /* readers finish; no new one starts meanwhile */
        opened->level = LOCK_PENDING;
        code = SQLITE_BUSY;
    } else {
        record->level = wanted;
        opened->level = wanted;
    }
    pthread_mutex_unlock(&record_mutex);
    return code;
}

static int
x_unlock(sqlite3_file *file, int level)
{
    drop_lock((VfsFile *)file, level);
    return SQLITE_OK;
}

static int
x_check_reserved(sqlite3_file *file, int *result)
{
    LockRecord *record = ((VfsFile *)file)->locks;
    if (record == NULL) {
        return SQLITE_IOERR_LOCK;
    }
    pthread_mutex_lock(&record_mutex);
    *result = record->level > LOCK_SHARED;
    pthread_mutex_unlock(&record_mutex);
    return SQLITE_OK;
}

static int
x_file_control(sqlite3_file *file, int operation, void *argument)
{
    if (operation == SQLITE_FCNTL_LOCKSTATE) {
        pthread_mutex_lock(&record_mutex);
        *(int *)argument = ((VfsFile *)file)->level;
        pthread_mutex_unlock(&record_mutex);
        return SQLITE_OK;
    }
    if (operation == SQLITE_FCNTL_SIZE_HINT) {
        /* The size the file is about to grow to (before a commit's pages are written): a
         * memory file makes room for it at once instead of copying its content as each page
         * lands. Invisible, as the unix VFS's answer without a chunk size: SQLITE_OK. */
        PyObject *writer = ((VfsFile *)file)->writer;
        if (writer_api != NULL && writer != NULL) {
            PyGILState_STATE gil = PyGILState_Ensure();
            if (writer_api->reserve(writer, *(int64_t *)argument) < 0) {
                PyErr_WriteUnraisable(target); /* a hint: nothing failed that SQLite needs */
            }
            PyGILState_Release(gil);
        }
        return SQLITE_OK;
    }
    if (operation == SQLITE_FCNTL_PRAGMA && ((VfsFile *)file)->handle == NULL) {
        /* char *[3]: error message, name, value (a journal gets none: SQLite's own) */
        char **pragma = (char **)argument;
        PyGILState_STATE gil = PyGILState_Ensure();
        PyObject *args[3] = {address(file), optional_bytes(pragma[1]), optional_bytes(pragma[2])};
        int code = call_int(s_pragma, args, 3, SQLITE_NOTFOUND);
        PyGILState_Release(gil);
        return code;
    }
    return SQLITE_NOTFOUND; /* SQLite's own handling */
}

static int
x_sector_size(sqlite3_file *file)
{
    (void)file;
    return SECTOR_SIZE;
}

static int
x_device_characteristics(sqlite3_file *file)
{
    if (((VfsFile *)file)->characteristics >= 0) {
        return ((VfsFile *)file)->characteristics;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    PyObject *args[1] = {address(file)};
    int value = call_int(s_device_characteristics, args, 1, 0);
    PyGILState_Release(gil);
    return value;
}

/* -- sqlite3_vfs ---------------------------------------------------------------------------- */

/* Keep what Vfs.c_open_direct gave for an opened file: its open flags, the handle's pread,
 * pwrite, device characteristics, size, sync and the file's lock record. 0, or -1 (reported)
 * when ``opened`` is not that (the file is then closed again: its locks could not be kept). */
static int
direct(sqlite3_file *file, PyObject *opened, int *out_flags)
{
    PyObject *reader, *writer, *sizer, *syncer, *locks, *triples;
    int flags, characteristics;
    if (!PyArg_ParseTuple(opened, "iOOiOOO!O!:c_open_direct", &flags, &reader, &writer,
                          &characteristics, &sizer, &syncer, &LockRecordType, &locks,
                          &PyTuple_Type, &triples)) {
        PyErr_WriteUnraisable(target);
        return -1;
    }
    VfsFile *kept = (VfsFile *)file;
    kept->reader = Py_NewRef(reader);
    kept->writer = Py_NewRef(writer);
    kept->sizer = Py_NewRef(sizer);
    kept->syncer = Py_NewRef(syncer);
    kept->locks = (LockRecord *)Py_NewRef(locks);
    kept->characteristics = characteristics;
    note_companions(file, triples);
    if (out_flags != NULL) {
        *out_flags = flags;
    }
    return 0;
}

/* The journal of a database on a memory file system, created and opened here (the GIL held)
 * when SQLite makes a new one, as Vfs.c_open would: its database's permission bits (as the
 * unix VFS gives them), a private lock record (SQLite never locks a journal), the memory
 * file's device characteristics, the handle's own pread, MemoryWriter, size and sync. 1 when
 * ``file`` is open; 0 where c_open must open it (not a noted journal, not a new name, anything
 * unusual: nothing was made, or the file made is there for c_open to open). */
static int
open_journal(const char *name, sqlite3_file *file, int flags)
{
    if (name == NULL || flags != (SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                  SQLITE_OPEN_MAIN_JOURNAL)) {
        return 0;
    }
    Companion *entry = companion_at(name);
    if (entry == NULL) {
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(entry->path);
    int journal = length > 8 &&
        PyUnicode_Tailmatch(entry->path, s_journal_suffix, 0, length, 1) == 1;
    PyObject *database = journal ? PyUnicode_Substring(entry->path, 0, length - 8) : NULL;
    int bits = database == NULL ? -3 : writer_api->mode(entry->fs, database);
    Py_XDECREF(database);
    PyObject *handle = bits < 0 ? NULL : writer_api->create(entry->fs, entry->path, bits & 0777);
    if (handle == NULL) {
        PyErr_Clear(); /* c_open tries, and keeps the cause of a failure */
        return 0;
    }
    VfsFile *opened = (VfsFile *)file;
    /* the handle's pread, size and sync: looked up at their first use (method_of) */
    opened->writer = writer_api->writer(handle);
    opened->locks = (LockRecord *)PyType_GenericNew(&LockRecordType, NULL, NULL);
    if (opened->writer == NULL || opened->locks == NULL) {
        PyErr_Clear();
        Py_CLEAR(opened->reader);
        Py_CLEAR(opened->writer);
        Py_CLEAR(opened->sizer);
        Py_CLEAR(opened->syncer);
        Py_CLEAR(opened->locks);
        PyObject *result = PyObject_CallMethod(handle, "close", NULL);
        Py_XDECREF(result);
        PyErr_Clear(); /* the file is made: c_open opens it */
        Py_DECREF(handle);
        return 0;
    }
    opened->handle = handle;
    opened->characteristics = IN_MEMORY_CHARACTERISTICS;
    return 1;
}

static int
x_open(sqlite3_vfs *unused, const char *name, sqlite3_file *file, int flags, int *out_flags)
{
    (void)unused;
    file->pMethods = NULL; /* SQLite calls no xClose when xOpen fails */
    VfsFile *opening = (VfsFile *)file;
    opening->reader = opening->writer = opening->sizer = opening->syncer = NULL;
    opening->locks = NULL;
    opening->handle = NULL;
    opening->level = LOCK_NONE;
    opening->characteristics = -1;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (open_journal(name, file, flags)) {
        PyGILState_Release(gil);
        file->pMethods = &methods;
        if (out_flags != NULL) {
            *out_flags = flags;
        }
        return SQLITE_OK;
    }
    int code = SQLITE_CANTOPEN;
    PyObject *args[6] = {address(file), NULL, PyLong_FromLong(flags), NULL, NULL, NULL};
    if (name == NULL) {
        args[1] = Py_NewRef(Py_None);
        args[3] = Py_NewRef(Py_None);
        args[4] = Py_NewRef(Py_False);
        args[5] = PyTuple_New(0);
    } else {
        args[1] = PyBytes_FromString(name);
        args[3] = token_of(name);
        args[4] = PyBool_FromLong(uri_boolean(name, "immutable", 0));
        args[5] = (flags & SQLITE_OPEN_MAIN_DB) ? companions_of(name) : PyTuple_New(0);
    }
    int good = 1;
    for (int i = 0; i < 6; i++) {
        good = good && args[i] != NULL;
    }
    if (good) {
        PyObject *result = call(s_open, args, 6);
        if (result != NULL && PyTuple_Check(result)) { /* opened */
            if (direct(file, result, out_flags) == 0) {
                file->pMethods = &methods;
                code = SQLITE_OK;
            } else { /* opened, but not usable: closed again (no xClose will come) */
                x_close(file);
            }
        } else if (result != NULL) { /* minus the result code */
            long value = PyLong_AsLong(result);
            if (value == -1 && PyErr_Occurred()) {
                PyErr_WriteUnraisable(target);
            } else {
                code = (int)-value;
            }
        }
        Py_XDECREF(result);
    } else {
        PyErr_WriteUnraisable(target);
    }
    for (int i = 0; i < 6; i++) {
        Py_XDECREF(args[i]);
    }
    PyGILState_Release(gil);
    return code;
}

static int
x_delete(sqlite3_vfs *unused, const char *name, int sync_directory)
{
    (void)unused;
    (void)sync_directory;
    PyGILState_STATE gil = PyGILState_Ensure();
    Companion *entry = companion_at(name); /* a memory database's journal: unlinked in C */
    int done = entry == NULL ? -2 : writer_api->unlink(entry->fs, entry->path);
    if (done == 1 || done == 0) {
        PyGILState_Release(gil);
        return done == 1 ? SQLITE_OK : SQLITE_IOERR_DELETE_NOENT; /* as c_delete answers */
    }
    PyErr_Clear(); /* (-1) c_delete tries, and keeps the cause of a failure */
    PyObject *args[3] = {address(name), PyBytes_FromString(name), token_of(name)};
    int code = call_int(s_delete, args, 3, SQLITE_IOERR);
    PyGILState_Release(gil);
    return code;
}

static int
x_access(sqlite3_vfs *unused, const char *name, int flags, int *result)
{
    (void)unused;
    PyGILState_STATE gil = PyGILState_Ensure();
    if (flags == SQLITE_ACCESS_EXISTS) { /* a memory file system's journal or WAL: in C */
        int found = companion_exists(name);
        if (found >= 0) {
            PyGILState_Release(gil);
            *result = found;
            return SQLITE_OK;
        }
    }
    /* Then without the name and token: a journal's or WAL's name is known by address. */
    PyObject *first[4] = {address(name), Py_NewRef(Py_None), PyLong_FromLong(flags),
                          Py_NewRef(Py_None)};
    int value = call_int(s_access, first, 4, -SQLITE_IOERR);
    if (value == NAME_NEEDED) {
        PyObject *args[4] = {
            address(name), PyBytes_FromString(name), PyLong_FromLong(flags), token_of(name),
        };
        value = call_int(s_access, args, 4, -SQLITE_IOERR);
    }
    PyGILState_Release(gil);
    if (value < 0) {
        return -value;
    }
    *result = value;
    return SQLITE_OK;
}

static int
x_full_pathname(sqlite3_vfs *unused, const char *name, int size, char *out)
{
    (void)unused;
    PyGILState_STATE gil = PyGILState_Ensure();
    int code = SQLITE_CANTOPEN;
    PyObject *args[1] = {PyBytes_FromString(name)};
    if (args[0] != NULL) {
        PyObject *result = call(s_full_pathname, args, 1);
        if (result != NULL && PyBytes_Check(result)) {
            Py_ssize_t length = PyBytes_GET_SIZE(result);
            if (length < size) {
                memcpy(out, PyBytes_AS_STRING(result), (size_t)length + 1);
                code = SQLITE_OK;
            } else {
                code = SQLITE_CANTOPEN | (3 << 8); /* SQLITE_CANTOPEN_FULLPATH */
            }
        } else if (result != NULL) {
            long value = PyLong_AsLong(result);
            if (value == -1 && PyErr_Occurred()) {
                PyErr_WriteUnraisable(target);
            } else {
                code = (int)value;
            }
        }
        Py_XDECREF(result);
        Py_DECREF(args[0]);
    } else {
        PyErr_WriteUnraisable(target);
    }
    PyGILState_Release(gil);
    return code;
}

static int
x_get_last_error(sqlite3_vfs *unused, int size, char *out)
{
    (void)unused;
    if (size <= 0) {
        return 0;
    }
    PyGILState_STATE gil = PyGILState_Ensure();
    out[0] = '\0';
    PyObject *result = call(s_last_error, NULL, 0);
    if (result != NULL && PyBytes_Check(result)) {
        Py_ssize_t length = PyBytes_GET_SIZE(result);
        if (length > size - 1) {
            length = size - 1;
        }
        memcpy(out, PyBytes_AS_STRING(result), (size_t)length);
        out[length] = '\0';
    }
    Py_XDECREF(result);
    PyGILState_Release(gil);
    return 0;
}

/* -- registration --------------------------------------------------------------------------- */

PyDoc_STRVAR(register_doc,
"register(target, name, default_vfs, vfs_register, uri_parameter, uri_boolean,\n"
"         filename_journal, filename_wal)\n--\n\n"
"Register the VFS ``name`` whose methods call ``target``'s, into the SQLite library whose\n"
"default sqlite3_vfs is at address ``default_vfs``; the other arguments are the addresses\n"
"of that library's functions of those names. Once per process; the VFS and ``target`` are\n"
"never freed.");

static PyObject *
register_vfs(PyObject *module, PyObject *args)
{
    (void)module;
    PyObject *object;
    const char *name;
    unsigned long long default_address, register_address, parameter_address, boolean_address,
        journal_address, wal_address;
    if (!PyArg_ParseTuple(args, "OyKKKKKK:register", &object, &name, &default_address,
                          &register_address, &parameter_address, &boolean_address,
                          &journal_address, &wal_address)) {
        return NULL;
    }
    if (target != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "the SQLite VFS is registered already");
        return NULL;
    }
    if (default_address == 0 || register_address == 0 || parameter_address == 0
        || boolean_address == 0 || journal_address == 0 || wal_address == 0) {
        PyErr_SetString(PyExc_ValueError, "every address is needed");
        return NULL;
    }
    uri_parameter = (const char *(*)(const char *, const char *))(uintptr_t)parameter_address;
    uri_boolean = (int (*)(const char *, const char *, int))(uintptr_t)boolean_address;
    filename_journal = (const char *(*)(const char *))(uintptr_t)journal_address;
    filename_wal = (const char *(*)(const char *))(uintptr_t)wal_address;
    vfs_name = PyMem_RawMalloc(strlen(name) + 1);
    if (vfs_name == NULL) {
        return PyErr_NoMemory();
    }
    strcpy(vfs_name, name);
    const sqlite3_vfs *fallback = (const sqlite3_vfs *)(uintptr_t)default_address;
    methods.iVersion = 1;
    methods.xClose = x_close;
    methods.xRead = x_read;
    methods.xWrite = x_write;
    methods.xTruncate = x_truncate;
    methods.xSync = x_sync;
    methods.xFileSize = x_file_size;
    methods.xLock = x_lock;
    methods.xUnlock = x_unlock;
    methods.xCheckReservedLock = x_check_reserved;
    methods.xFileControl = x_file_control;
    methods.xSectorSize = x_sector_size;
    methods.xDeviceCharacteristics = x_device_characteristics;
    vfs.iVersion = 2;
    vfs.szOsFile = (int)sizeof(VfsFile);
    vfs.mxPathname = fallback->mxPathname;
    vfs.zName = vfs_name;
    vfs.xOpen = x_open;
    vfs.xDelete = x_delete;
    vfs.xAccess = x_access;
    vfs.xFullPathname = x_full_pathname;
    vfs.xDlOpen = fallback->xDlOpen; /* extensions, randomness, sleep, the clock: the */
    vfs.xDlError = fallback->xDlError; /* process's own, from the default (unix) VFS */
    vfs.xDlSym = fallback->xDlSym;
    vfs.xDlClose = fallback->xDlClose;
    vfs.xRandomness = fallback->xRandomness;
    vfs.xSleep = fallback->xSleep;
    vfs.xCurrentTime = fallback->xCurrentTime;
    vfs.xGetLastError = x_get_last_error;
    vfs.xCurrentTimeInt64 = fallback->iVersion >= 2 ? fallback->xCurrentTimeInt64 : NULL;
    writer_api = PyCapsule_Import(MEMORY_WRITER_API_NAME, 0);
    if (writer_api == NULL) { /* not built: every write goes through the writer's call */
        PyErr_Clear();
    }
    Py_INCREF(object);
    target = object;
    int (*vfs_register)(sqlite3_vfs *, int) =
        (int (*)(sqlite3_vfs *, int))(uintptr_t)register_address;
    int result = vfs_register(&vfs, 0);
    if (result != SQLITE_OK) {
        PyErr_Format(PyExc_OSError, "sqlite3_vfs_register failed with result %d", result);
        return NULL; /* target stays: SQLite may hold nothing, but nothing is ever freed */
    }
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"register", register_vfs, METH_VARARGS, register_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posixbackend._sqlitevfs",
    .m_doc = "C trampolines of the SQLite VFS over the emulated backend.",
    .m_size = -1,
    .m_methods = module_methods,
};

static int
intern(PyObject **slot, const char *text)
{
    *slot = PyUnicode_InternFromString(text);
    return *slot == NULL ? -1 : 0;
}

PyMODINIT_FUNC
PyInit__sqlitevfs(void)
{
    if (PyType_Ready(&LockRecordType) < 0) {
        return NULL;
    }
    if (intern(&s_open, "c_open_direct") || intern(&s_close, "c_close")
        || intern(&s_read, "c_read") || intern(&s_write, "c_write")
        || intern(&s_truncate, "c_truncate")
        || intern(&s_device_characteristics, "c_device_characteristics")
        || intern(&s_delete, "c_delete") || intern(&s_access, "c_access")
        || intern(&s_full_pathname, "c_full_pathname")
        || intern(&s_last_error, "c_last_error") || intern(&s_pragma, "c_pragma")
        || intern(&s_failed, "c_failed") || intern(&s_pread, "pread")
        || intern(&s_size, "size") || intern(&s_sync, "sync")
        || intern(&s_journal_suffix, "-journal")) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module != NULL && PyModule_AddObjectRef(module, "LockRecord",
                                                (PyObject *)&LockRecordType) < 0) {
        Py_CLEAR(module);
    }
    return module;
}
