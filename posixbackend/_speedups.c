/* The optional C accelerator of the emulated backend's hottest calls: read, lseek, open, close,
 * stat, lstat (and truncated_stat, a stat result's copy at a time resolution), (MemoryWriter, for the
 * SQLite VFS) a memory handle's pwrite, (the memory writer capsule, for the same) a journal's
 * creation and unlinking, and (RawFileBase) the methods of an accelerated backend's FileIO, the
 * raw file under open().
 *
 * Each method does the common case of its Python namesake in posixbackend/emulated/files.py
 * without running Python code, and hands every other case -- unusual arguments, a provider
 * other than the memory file system, a contended offset or lock, anything that would raise --
 * to that Python method unchanged, so behaviour and errors are the Python code's (one error is
 * raised here, as the Python code raises it: a stat's ENOENT for a plain name missing). It works on
 * the Python objects themselves (the fd table, open file descriptions, memory handles and
 * inodes), reaching their __slots__ through the offsets configure() reads from the classes.
 *
 * Atomicity: the GIL is held from start to end of a fast path and no Python code runs in
 * between (objects that the garbage collector tracks are allocated before any state is read),
 * so a fast path is one step for every other thread. Locks the Python code takes for a change
 * (the fd table's, the file system's) are tried without blocking -- the open/read/write/close
 * paths only look whether a threading.Lock is free (enter_free): under the GIL that is as good
 * as taking it -- and when one is held the call goes to the Python method, which waits for it. Free-threaded builds have no GIL to rely on:
 * the accelerator refuses to build there, and the Python code serves alone.
 */

#include "_accel_common.h"
#include "_memory_writer_api.h"
#include <fcntl.h>
#ifdef __GLIBC__
#include <malloc.h>
#endif
#include <limits.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define DAY_NS 86400000000000LL

/* -- the layout of the Python classes (set once by configure) ------------------------------- */

typedef struct {
    PyTypeObject *description;      /* Description: the base of everything in the fd table */
    PyTypeObject *file_description; /* FileDescription */
    PyTypeObject *fd_table;         /* FdTable */
    PyTypeObject *memory_handle;    /* MemoryHandle */
    PyTypeObject *inode;            /* Inode */
    PyTypeObject *regular_file;     /* RegularFile */
    PyTypeObject *directory;        /* Directory */
    PyTypeObject *resolver;         /* Resolver */
    PyTypeObject *identity;         /* Identity: whose permissions the resolver checks */
    PyTypeObject *space;            /* Space: a memory file system's pages in use */
    Py_ssize_t d_flags, d_refs, d_handle, d_position, d_busy, d_waiting, d_gate;
    Py_ssize_t t_files, t_hint, t_limit, t_inheritable, t_lock;
    Py_ssize_t h_fs, h_node, h_flags, h_opened_as, h_state, h_reader;
    Py_ssize_t i_atime, i_mtime, i_ctime, i_handles, i_nlink, i_mode, i_uid, i_gid, i_stat;
    Py_ssize_t i_derived;
    Py_ssize_t s_used_pages, s_max_pages;
    Py_ssize_t f_data, dir_entries, r_paths, r_heads, r_check, r_who, r_root, who_uid, who_gid,
        who_groups;
    PyObject *fast_state[4];  /* a new MemoryHandle's state, by access mode */
    PyObject *no_handles;     /* Inode.handles of an inode no handle holds open (NO_HANDLES) */
    long open_state;          /* the state bit of an open handle */
    long reader_state;        /* the state bits with which a handle reads the common way */
    long slow_flags;          /* open flags only the Python path handles */
    long writer_state;        /* the state bit of a handle that may write */
    long long max_file_size;  /* the memory file system's largest file (EFBIG past it) */
} Layout;

static Layout layout;
static int configured = 0;

/* The slots the fast paths read, by class (the classes' __accelerated_slots__ say the same). */
#define READ(role, slot, field) SLOT_READ(Layout, role, slot, field)
static const SlotRead layout_reads[] = {
    READ(description, "flags", d_flags),
    READ(description, "refs", d_refs),
    READ(file_description, "_handle", d_handle),
    READ(file_description, "position", d_position),
    READ(file_description, "busy", d_busy),
    READ(file_description, "_waiting", d_waiting),
    READ(file_description, "_gate", d_gate),
    READ(fd_table, "files", t_files),
    READ(fd_table, "_hint", t_hint),
    READ(fd_table, "limit", t_limit),
    READ(fd_table, "_inheritable", t_inheritable),
    READ(fd_table, "lock", t_lock),
    READ(memory_handle, "_fs", h_fs),
    READ(memory_handle, "_node", h_node),
    READ(memory_handle, "flags", h_flags),
    READ(memory_handle, "_opened_as", h_opened_as),
    READ(memory_handle, "_state", h_state),
    READ(memory_handle, "_reader", h_reader),
    READ(inode, "atime", i_atime),
    READ(inode, "mtime", i_mtime),
    READ(inode, "ctime", i_ctime),
    READ(inode, "handles", i_handles),
    READ(inode, "nlink", i_nlink),
    READ(inode, "mode", i_mode),
    READ(inode, "uid", i_uid),
    READ(inode, "gid", i_gid),
    READ(inode, "_stat", i_stat),
    READ(inode, "_derived", i_derived),
    READ(space, "used_pages", s_used_pages),
    READ(space, "max_pages", s_max_pages),
    READ(regular_file, "data", f_data),
    READ(directory, "entries", dir_entries),
    READ(resolver, "paths", r_paths),
    READ(resolver, "heads", r_heads),
    READ(resolver, "check", r_check),
    READ(resolver, "who", r_who),
    READ(resolver, "root", r_root),
    READ(identity, "uid", who_uid),
    READ(identity, "gid", who_gid),
    READ(identity, "groups", who_groups),
};
#undef READ
#define LAYOUT_READS (sizeof(layout_reads) / sizeof(layout_reads[0]))
static PyObject *str_release;
static PyObject *str_close;
static PyObject *str_acquire, *str_names, *str_lock; /* for memory_lookup */
static PyObject *str_stat;
/* a memory journal's creation and unlinking (MemoryWriterApi.create/unlink): interned, so
 * the type's attribute cache answers without a str made and hashed per look-up */
static PyObject *str_space, *str_dev, *str_inodes;

/* An exact int that fits a long long, read into *value; 0 for anything else (no error set). */
static inline int
exact_long(PyObject *object, long long *value)
{
    if (object == NULL || !PyLong_CheckExact(object)) {
        return 0;
    }
    int overflow;
    long long result = PyLong_AsLongLongAndOverflow(object, &overflow);
    if (overflow || (result == -1 && PyErr_Occurred())) {
        PyErr_Clear();
        return 0;
    }
    *value = result;
    return 1;
}

/* Replace an object slot's value with a new reference. */
static inline void
set_slot(PyObject *object, Py_ssize_t offset, PyObject *value)
{
    PyObject *old = SLOT(object, offset);
    SLOT(object, offset) = value;
    Py_XDECREF(old);
}

static inline long long
now_ns(void)
{
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now); /* what time.time_ns() reads on Linux */
    return (long long)now.tv_sec * 1000000000LL + now.tv_nsec;
}

/* Let go of the classes and constants of the current layout. */
static void
release_layout(void)
{
    Py_CLEAR(layout.description);
    Py_CLEAR(layout.file_description);
    Py_CLEAR(layout.fd_table);
    Py_CLEAR(layout.memory_handle);
    Py_CLEAR(layout.inode);
    Py_CLEAR(layout.regular_file);
    Py_CLEAR(layout.directory);
    Py_CLEAR(layout.resolver);
    Py_CLEAR(layout.identity);
    Py_CLEAR(layout.space);
    for (int mode = 0; mode < 4; mode++) {
        Py_CLEAR(layout.fast_state[mode]);
    }
    Py_CLEAR(layout.no_handles);
}

static PyObject *
configure(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {
        "description", "file_description", "fd_table", "memory_handle", "inode",
        "regular_file", "directory", "resolver", "identity", "space", "fast_state",
        "no_handles", "open_state", "reader_state", "slow_flags", "writer_state",
        "max_file_size", NULL,
    };
    Layout new;
    PyObject *fast_state;
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "$O!O!O!O!O!O!O!O!O!O!O!OllllL:configure", keywords,
            &PyType_Type, &new.description, &PyType_Type, &new.file_description,
            &PyType_Type, &new.fd_table, &PyType_Type, &new.memory_handle,
            &PyType_Type, &new.inode, &PyType_Type, &new.regular_file,
            &PyType_Type, &new.directory, &PyType_Type, &new.resolver,
            &PyType_Type, &new.identity, &PyType_Type, &new.space,
            &PyTuple_Type, &fast_state, &new.no_handles, &new.open_state, &new.reader_state,
            &new.slow_flags, &new.writer_state, &new.max_file_size)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(fast_state) != 4) {
        PyErr_SetString(PyExc_ValueError, "fast_state holds one state per access mode (4)");
        return NULL;
    }
    if (!PyType_IsSubtype(new.file_description, new.description) ||
        !PyType_IsSubtype(new.regular_file, new.inode) ||
        !PyType_IsSubtype(new.directory, new.inode)) {
        PyErr_SetString(PyExc_TypeError, "the classes do not derive from each other as expected");
        return NULL;
    }
    if (read_slot_offsets(layout_reads, LAYOUT_READS, &new) < 0) {
        return NULL;
    }
    for (int mode = 0; mode < 4; mode++) {
        if (!PyLong_CheckExact(PyTuple_GET_ITEM(fast_state, mode))) {
            PyErr_SetString(PyExc_TypeError, "fast_state holds ints");
            return NULL;
        }
    }
    for (int mode = 0; mode < 4; mode++) {
        new.fast_state[mode] = Py_NewRef(PyTuple_GET_ITEM(fast_state, mode));
    }
    Py_INCREF(new.no_handles);
    PyTypeObject **types[] = {
        &new.description, &new.file_description, &new.fd_table, &new.memory_handle,
        &new.inode, &new.regular_file, &new.directory, &new.resolver, &new.identity,
        &new.space,
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        Py_INCREF(*types[i]);
    }
    if (configured) {
        /* The classes were imported again (their modules dropped from sys.modules): the new
         * layout replaces the old. Every fast path checks the exact class of what it touches,
         * so objects of the old classes simply go to the Python methods. */
        release_layout();
    }
    layout = new;
    configured = 1;
    Py_RETURN_NONE;
}

/* -- locks: tried, never waited for --------------------------------------------------------- */

/* 1 when ``acquire(False)`` took the lock, 0 when another thread holds it, -1 on error. */
static inline int
try_lock(PyObject *acquire)
{
    PyObject *blocking = Py_False;
    PyObject *taken = PyObject_Vectorcall(acquire, &blocking, 1, NULL);
    if (taken == NULL) {
        return -1;
    }
    int result = taken == Py_True;
    Py_DECREF(taken);
    return result;
}

static inline int
unlock(PyObject *release)
{
    PyObject *result = PyObject_Vectorcall(release, NULL, 0, NULL);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

/* -- locks: seen free, not taken (the fast paths of one open/read/write/close cycle) --------- */

/* The bound ``locked`` of a threading.Lock or a vfs OwnedLock (a new reference: both set their
 * state with the GIL held), or NULL (no error) for any other kind of lock, which try_lock/unlock
 * take and let go. */
static PyObject *
locked_method(PyObject *lock)
{
    if (lock == NULL || (strcmp(Py_TYPE(lock)->tp_name, "_thread.lock") != 0
                         && strcmp(Py_TYPE(lock)->tp_name, "vfs._ownedlock.OwnedLock") != 0)) {
        return NULL;
    }
    PyObject *locked = PyObject_GetAttrString(lock, "locked");
    if (locked == NULL) {
        PyErr_Clear();
    }
    return locked;
}

/* Enter the section a lock guards: with ``locked`` (locked_method's), 1 when the lock is free,
 * 0 when a thread holds it, -1 on error; without, try_lock(acquire).
 *
 * Seen free with the GIL held, a threading.Lock stays free and no thread is inside what it
 * guards until this thread runs Python code or lets the GIL go: every acquire and release is a
 * call made holding the GIL, and a waiter that a release wakes enters only once it holds the
 * GIL again (3.11/3.12 set ``locked`` then; 3.13 hands a PyMutex over still locked, or lets the
 * waiter take it with the GIL). So a fast path that runs no Python code (no call, no
 * collection: nothing the collector tracks is made, no object freed that could run a
 * finalizer) from here to its last change is one step under the lock, as between acquire(False)
 * and release(), for a fifth of the cost and with no waiter woken to find the lock taken again
 * (a lock convoy). Relies on the GIL: the accelerator is not built without one. */
static inline int
enter_free(PyObject *locked, PyObject *acquire)
{
    if (locked == NULL) {
        return try_lock(acquire);
    }
    PyObject *held = PyObject_Vectorcall(locked, NULL, 0, NULL);
    if (held == NULL) {
        return -1;
    }
    int result = held == Py_False;
    Py_DECREF(held);
    return result;
}

/* Leave what enter_free entered: a lock taken (no ``locked``) is let go; 0, or -1 on error. */
static inline int
leave_free(PyObject *locked, PyObject *release)
{
    return locked == NULL ? unlock(release) : 0;
}

/* -- FastPaths: one backend's accelerated methods -------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *table;         /* the backend's FdTable */
    PyObject *files;         /* its fd -> description dict */
    PyObject *table_acquire; /* its lock's acquire and release */
    PyObject *table_release;
    PyObject *table_locked;  /* its lock's locked, NULL unless a threading.Lock (enter_free) */
    PyObject *fs;            /* the MemoryFileSystem, or NULL for any other provider */
    PyObject *names;         /* its Resolver */
    PyObject *fs_acquire;
    PyObject *fs_release;
    PyObject *fs_locked;     /* its lock's locked, or NULL (as table_locked) */
    PyObject *space;         /* its Space (the pages in use), for the raw file's writes */
    PyObject *python_read;   /* the Python methods, for everything off the fast paths */
    PyObject *python_lseek;
    PyObject *python_open;
    PyObject *python_close;
    PyObject *python_stat;
    PyObject *python_lstat;
    PyObject *view;          /* the backend's _view: a stat result at its time resolution */
    PyObject *resolution;    /* that resolution (an int, ns) */
    int unit_resolution;     /* it is 1: _view changes nothing, no copy is kept */
    PyObject *spare;         /* an empty set made ahead, for the handles of an inode's first
                              * open (made before any state is read, as everything tracked) */
    int reported;            /* a Python open succeeded, so the virtual-fds gap is reported */
} FastPaths;

static int
fast_paths_traverse(FastPaths *self, visitproc visit, void *arg)
{
    Py_VISIT(self->table);
    Py_VISIT(self->files);
    Py_VISIT(self->table_acquire);
    Py_VISIT(self->table_release);
    Py_VISIT(self->table_locked);
    Py_VISIT(self->fs);
    Py_VISIT(self->names);
    Py_VISIT(self->fs_acquire);
    Py_VISIT(self->fs_release);
    Py_VISIT(self->fs_locked);
    Py_VISIT(self->space);
    Py_VISIT(self->python_read);
    Py_VISIT(self->python_lseek);
    Py_VISIT(self->python_open);
    Py_VISIT(self->python_close);
    Py_VISIT(self->python_stat);
    Py_VISIT(self->python_lstat);
    Py_VISIT(self->view);
    Py_VISIT(self->resolution);
    Py_VISIT(self->spare);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
fast_paths_clear(FastPaths *self)
{
    Py_CLEAR(self->table);
    Py_CLEAR(self->files);
    Py_CLEAR(self->table_acquire);
    Py_CLEAR(self->table_release);
    Py_CLEAR(self->table_locked);
    Py_CLEAR(self->fs);
    Py_CLEAR(self->names);
    Py_CLEAR(self->fs_acquire);
    Py_CLEAR(self->fs_release);
    Py_CLEAR(self->fs_locked);
    Py_CLEAR(self->space);
    Py_CLEAR(self->python_read);
    Py_CLEAR(self->python_lseek);
    Py_CLEAR(self->python_open);
    Py_CLEAR(self->python_close);
    Py_CLEAR(self->python_stat);
    Py_CLEAR(self->python_lstat);
    Py_CLEAR(self->view);
    Py_CLEAR(self->resolution);
    Py_CLEAR(self->spare);
    return 0;
}

static void
fast_paths_dealloc(FastPaths *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fast_paths_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* The bound ``acquire`` and ``release`` of the lock in ``owner``'s slot at ``offset``. */
static int
lock_methods(PyObject *owner, Py_ssize_t offset, PyObject **acquire, PyObject **release)
{
    PyObject *lock = SLOT(owner, offset);
    if (lock == NULL) {
        PyErr_SetString(PyExc_ValueError, "the lock is not set");
        return -1;
    }
    *acquire = PyObject_GetAttrString(lock, "acquire");
    if (*acquire == NULL) {
        return -1;
    }
    *release = PyObject_GetAttrString(lock, "release");
    return *release == NULL ? -1 : 0;
}

static PyObject *
fast_paths_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {
        "table", "file_system", "read", "lseek", "open", "close", "stat", "lstat", "view",
        "resolution", NULL,
    };
    PyObject *table, *fs, *read, *lseek, *open, *close, *stat, *lstat, *view, *resolution;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the accelerator first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(
            args, kwargs, "O!O$OOOOOOOO!:FastPaths", keywords, layout.fd_table, &table, &fs,
            &read, &lseek, &open, &close, &stat, &lstat, &view, &PyLong_Type, &resolution)) {
        return NULL;
    }
    PyObject *files = SLOT(table, layout.t_files);
    if (files == NULL || !PyDict_CheckExact(files)) {
        PyErr_SetString(PyExc_TypeError, "the table's files must be a dict");
        return NULL;
    }
    FastPaths *self = (FastPaths *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->table = Py_NewRef(table);
    self->files = Py_NewRef(files);
    self->python_read = Py_NewRef(read);
    self->python_lseek = Py_NewRef(lseek);
    self->python_open = Py_NewRef(open);
    self->python_close = Py_NewRef(close);
    self->python_stat = Py_NewRef(stat);
    self->python_lstat = Py_NewRef(lstat);
    self->view = Py_NewRef(view);
    self->resolution = Py_NewRef(resolution);
    long long resolution_ns = PyLong_AsLongLong(resolution);
    if (resolution_ns == -1 && PyErr_Occurred()) {
        Py_DECREF(self);
        return NULL;
    }
    self->unit_resolution = resolution_ns == 1;
    if (lock_methods(table, layout.t_lock, &self->table_acquire, &self->table_release)) {
        Py_DECREF(self);
        return NULL;
    }
    self->table_locked = locked_method(SLOT(table, layout.t_lock));
    if (fs != Py_None) {
        PyObject *names = PyObject_GetAttrString(fs, "_names");
        if (names == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        self->names = names;
        if (!Py_IS_TYPE(names, layout.resolver)) {
            PyErr_SetString(PyExc_TypeError, "file_system is not a MemoryFileSystem");
            Py_DECREF(self);
            return NULL;
        }
        self->fs = Py_NewRef(fs);
        PyObject *lock = PyObject_GetAttrString(fs, "_lock");
        if (lock == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        self->fs_acquire = PyObject_GetAttrString(lock, "acquire");
        self->fs_release = PyObject_GetAttrString(lock, "release");
        self->fs_locked = self->fs_release ? locked_method(lock) : NULL;
        Py_DECREF(lock);
        if (self->fs_acquire == NULL || self->fs_release == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        self->space = PyObject_GetAttrString(fs, "_space");
        if (self->space == NULL) {
            Py_DECREF(self);
            return NULL;
        }
        if (!Py_IS_TYPE(self->space, layout.space)) {
            PyErr_SetString(PyExc_TypeError, "file_system is not a MemoryFileSystem");
            Py_DECREF(self);
            return NULL;
        }
    }
    return (PyObject *)self;
}

/* The open file description ``fd`` refers to when it is a FileDescription (borrowed), or NULL
 * (without an error) for a free descriptor or any other kind of description. */
static inline PyObject *
file_description(FastPaths *self, PyObject *fd)
{
    PyObject *description = PyDict_GetItemWithError(self->files, fd);
    if (description == NULL) {
        PyErr_Clear(); /* an int key cannot fail to hash or compare */
        return NULL;
    }
    return Py_IS_TYPE(description, layout.file_description) ? description : NULL;
}

/* A description's file offset when no call holds it now (``busy`` is False), else NULL. */
static inline PyObject *
free_offset(PyObject *description)
{
    if (SLOT(description, layout.d_busy) != Py_False) {
        return NULL;
    }
    return SLOT(description, layout.d_position);
}

/* Store a new offset (a new reference) where free_offset() found the offset free. */
static inline void
set_offset(PyObject *description, PyObject *offset)
{
    set_slot(description, layout.d_position, offset);
}

PyDoc_STRVAR(fast_read_doc,
"read($self, fd, length, /)\n--\n\n"
"os.read: up to ``length`` bytes from the file offset.");

/* Inode.accessed(now) of ``node`` under the file system's lock, which it takes: relatime moves
 * atime when it is not newer than mtime or ctime, or is a day old. 1 when done (moved or
 * not), 0 when another thread holds the lock (the Python path waits for it), -1 on error. */
static int
touch_atime(FastPaths *self, PyObject *node, long long now)
{
    int taken = enter_free(self->fs_locked, self->fs_acquire);
    if (taken <= 0) {
        return taken;
    }
    long long atime, mtime, ctime;
    int done = 1;
    if (exact_long(SLOT(node, layout.i_atime), &atime) &&
        exact_long(SLOT(node, layout.i_mtime), &mtime) &&
        exact_long(SLOT(node, layout.i_ctime), &ctime)) {
        if (atime <= mtime || atime <= ctime || now - atime >= DAY_NS) {
            PyObject *moved = PyLong_FromLongLong(now);
            if (moved == NULL) {
                done = -1;
            }
            else {
                set_slot(node, layout.i_atime, moved);
                set_slot(node, layout.i_stat, Py_NewRef(Py_None)); /* the record is stale */
            }
        }
    }
    else {
        done = 0; /* times that are not plain ints: the Python path's */
    }
    if (leave_free(self->fs_locked, self->fs_release) < 0) {
        return -1;
    }
    return done;
}

/* Where a read of ``fd`` at its file offset can be served here: its description (borrowed),
 * the file's dense content (borrowed) and the offset; 1 then, 0 when the case is the Python
 * method's (a free descriptor, another provider, a busy offset, the lock busy for an atime to
 * move...), -1 on error. An atime that relatime moves is moved here first (the Python path
 * moves it after its copy: no one can tell the two apart), so the first read after a write
 * is served here too, with no copy of the bytes on the way. */
static int
memory_read_source(FastPaths *self, PyObject *fd, PyObject **description_out,
                   PyObject **content_out, long long *offset)
{
    long long atime, mtime, ctime;
    PyObject *description = file_description(self, fd);
    if (description == NULL) {
        return 0;
    }
    PyObject *handle = SLOT(description, layout.d_handle);
    if (handle == NULL || !Py_IS_TYPE(handle, layout.memory_handle)) {
        return 0;
    }
    PyObject *node = SLOT(handle, layout.h_reader); /* set while it reads the common way */
    if (node == NULL || !Py_IS_TYPE(node, layout.regular_file)) {
        return 0;
    }
    PyObject *position = free_offset(description);
    if (position == NULL || !exact_long(position, offset) || *offset < 0) {
        return 0;
    }
    if (!exact_long(SLOT(node, layout.i_atime), &atime) ||
        !exact_long(SLOT(node, layout.i_mtime), &mtime) ||
        !exact_long(SLOT(node, layout.i_ctime), &ctime)) {
        return 0;
    }
    PyObject *content = SLOT(node, layout.f_data);
    if (content == NULL || !PyByteArray_CheckExact(content)) {
        return 0;
    }
    long long now = now_ns();
    if (atime <= mtime || atime <= ctime || now - atime >= DAY_NS) {
        /* relatime moves atime, under the lock of the handle's file system: this backend's
         * (a memfd's file, say, lives in a file system of its own: the Python path's).
         * Taking and letting go of the lock runs no Python code, so the offset found free
         * and the content found dense stay so. */
        if (self->fs == NULL || SLOT(handle, layout.h_fs) != self->fs) {
            return 0;
        }
        int touched = touch_atime(self, node, now);
        if (touched <= 0) {
            return touched;
        }
    }
    *description_out = description;
    *content_out = content;
    return 1;
}

/* How many bytes a read of ``length`` at ``offset`` gets from ``content``. */
static inline Py_ssize_t
readable_count(PyObject *content, long long offset, long long length)
{
    Py_ssize_t size = PyByteArray_GET_SIZE(content);
    if (offset >= size) {
        return 0;
    }
    return length < size - offset ? (Py_ssize_t)length : size - (Py_ssize_t)offset;
}

/* Move a free offset (found by memory_read_source) on by ``count``; -1 on error. */
static inline int
advance_offset(PyObject *description, long long offset, Py_ssize_t count)
{
    if (count == 0) {
        return 0;
    }
    PyObject *moved = PyLong_FromLongLong(offset + count);
    if (moved == NULL) {
        return -1;
    }
    set_offset(description, moved); /* nothing ran since the offset was found free */
    return 0;
}

static PyObject *
fast_read(FastPaths *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs != 2 || kwnames != NULL || !PyLong_CheckExact(args[0])) {
        goto python;
    }
    long long length, offset;
    if (!exact_long(args[1], &length) || length <= 0) {
        goto python;
    }
    PyObject *description, *content;
    int source = memory_read_source(self, args[0], &description, &content, &offset);
    if (source < 0) {
        return NULL;
    }
    if (!source) {
        goto python;
    }
    Py_ssize_t count = readable_count(content, offset, length);
    PyObject *data = PyBytes_FromStringAndSize(
        count ? PyByteArray_AS_STRING(content) + offset : NULL, count);
    if (data == NULL) {
        return NULL;
    }
    if (advance_offset(description, offset, count) < 0) {
        Py_DECREF(data);
        return NULL;
    }
    return data;
python:
    return PyObject_Vectorcall(self->python_read, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_lseek_doc,
"lseek($self, fd, position, whence, /)\n--\n\n"
"os.lseek.");

static PyObject *
fast_lseek(FastPaths *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs != 3 || kwnames != NULL || !PyLong_CheckExact(args[0])) {
        goto python;
    }
    long long position, whence;
    if (!exact_long(args[1], &position) || position < 0 ||
        !exact_long(args[2], &whence) || whence != SEEK_SET) {
        goto python;
    }
    PyObject *description = file_description(self, args[0]);
    if (description == NULL) {
        goto python;
    }
    /* an O_PATH descriptor has no offset: EBADF, from the Python method */
    PyObject *flags = SLOT(description, layout.d_flags);
    long long flag_bits;
    if (flags == NULL || !exact_long(flags, &flag_bits) || flag_bits & O_PATH) {
        goto python;
    }
    if (free_offset(description) == NULL) {
        goto python;
    }
    set_offset(description, Py_NewRef(args[1]));
    return Py_NewRef(args[1]);
python:
    return PyObject_Vectorcall(self->python_lseek, args, nargs, kwnames);
}

/* An inode's set of open handles, emptied by a close: given back (the inode's handles become
 * NO_HANDLES again, as MemoryHandle.close does) when the handle was of this backend's file
 * system and no thread holds that file system's lock. Every opener adds to the set and every
 * replacement of it happens under that lock, so with the lock free and the GIL held throughout
 * no opener is between finding the set and adding to it. Contended: the empty set stays. */
/* Give back the slack a growing bytearray keeps (CPython over-allocates an eighth, for the
 * next appends) once the last handle of a file closed: a 1 GiB file written in chunks would
 * otherwise hold 128 MiB it may never use. A shrinking realloc moves no bytes (glibc splits
 * the block or mremaps it). Only a buffer no one exports (no memoryview, no buffer held by C
 * code) is shrunk, under the GIL, so nothing holds a pointer into it; a small slack stays. */
static void
trim_content(PyObject *node)
{
    if (!Py_IS_TYPE(node, layout.regular_file)) {
        return;
    }
    PyObject *content = SLOT(node, layout.f_data);
    if (content == NULL || !PyByteArray_CheckExact(content)) {
        return; /* sparse or mapped */
    }
    PyByteArrayObject *array = (PyByteArrayObject *)content;
    Py_ssize_t size = Py_SIZE(array);
    /* the bytes may start into the block (a big content whose pages resize_content moved) */
    Py_ssize_t offset = array->ob_start - array->ob_bytes;
    if (array->ob_exports > 0 || array->ob_alloc - offset - size <= (1 << 16) + (size >> 6)) {
        return; /* exported, or a slack under 64 KiB + 1/64th */
    }
    /* realloc keeps the block's first offset + size + 1 bytes wherever it puts them */
    char *smaller = PyObject_Realloc(array->ob_bytes, (size_t)(offset + size + 1));
    if (smaller == NULL) {
        return; /* (a shrink that fails leaves the block as it was) */
    }
    array->ob_bytes = smaller;
    array->ob_start = smaller + offset;
    array->ob_alloc = offset + size + 1;
}

static int
drop_empty_handles(FastPaths *self, PyObject *handle, PyObject *node, PyObject *handles)
{
    if (PySet_GET_SIZE(handles) != 0 || self->fs == NULL ||
        SLOT(handle, layout.h_fs) != self->fs) {
        return 0;
    }
    int taken = enter_free(self->fs_locked, self->fs_acquire);
    if (taken <= 0) {
        return taken;
    }
    if (SLOT(node, layout.i_handles) == handles && PySet_GET_SIZE(handles) == 0) {
        set_slot(node, layout.i_handles, Py_NewRef(layout.no_handles)); /* frees the set */
        trim_content(node); /* no handle writes on: the appends' slack goes */
    }
    return leave_free(self->fs_locked, self->fs_release);
}

/* What the last close of a description releases: a memory handle closed here when that only
 * marks it closed, anything else by the description's own release(). */
static int
release(FastPaths *self, PyObject *description)
{
    if (Py_IS_TYPE(description, layout.file_description)) {
        PyObject *handle = SLOT(description, layout.d_handle);
        long long state, nlink;
        if (handle != NULL && Py_IS_TYPE(handle, layout.memory_handle)) {
            PyObject *node = SLOT(handle, layout.h_node);
            if (exact_long(SLOT(handle, layout.h_state), &state) && !(state & layout.open_state)) {
                return 0; /* closed already */
            }
            if (node != NULL && PyObject_TypeCheck(node, layout.inode) &&
                exact_long(SLOT(node, layout.i_nlink), &nlink) && nlink > 0) {
                PyObject *handles = SLOT(node, layout.i_handles);
                if (handles != NULL && PySet_CheckExact(handles)) {
                    PyObject *zero = PyLong_FromLong(0);
                    if (zero == NULL) {
                        return -1;
                    }
                    set_slot(handle, layout.h_state, zero);
                    set_slot(handle, layout.h_reader, Py_NewRef(Py_None));
                    if (PySet_Discard(handles, handle) < 0) {
                        return -1;
                    }
                    return drop_empty_handles(self, handle, node, handles);
                }
            }
            PyObject *result = PyObject_CallMethodNoArgs(handle, str_close);
            Py_XDECREF(result);
            return result == NULL ? -1 : 0;
        }
    }
    PyObject *result = PyObject_CallMethodNoArgs(description, str_release);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

PyDoc_STRVAR(fast_close_doc,
"close($self, fd)\n--\n\n"
"os.close.");

static PyObject *
fast_close(FastPaths *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (nargs != 1 || kwnames != NULL || !PyLong_CheckExact(args[0])) {
        goto python;
    }
    PyObject *fd = args[0];
    long long number, hint, refs;
    if (!exact_long(fd, &number)) {
        goto python;
    }
    if (!Py_IS_TYPE(self->table, layout.fd_table)) {
        goto python; /* a table of classes configured before the last configure() */
    }
    int taken = enter_free(self->table_locked, self->table_acquire);
    if (taken < 0) {
        return NULL;
    }
    if (!taken) {
        goto python;
    }
    PyObject *table = self->table;
    PyObject *inheritable = SLOT(table, layout.t_inheritable);
    PyObject *description = PyDict_GetItemWithError(self->files, fd);
    if (description == NULL || !PyObject_TypeCheck(description, layout.description) ||
        !exact_long(SLOT(description, layout.d_refs), &refs) || refs < 1 ||
        !exact_long(SLOT(table, layout.t_hint), &hint) ||
        inheritable == NULL || !PySet_CheckExact(inheritable)) {
        PyErr_Clear();
        if (leave_free(self->table_locked, self->table_release)) {
            return NULL;
        }
        goto python; /* EBADF and everything unusual: the Python code says it */
    }
    PyObject *count = PyLong_FromLongLong(refs - 1);
    if (count == NULL) {
        leave_free(self->table_locked, self->table_release);
        return NULL;
    }
    Py_INCREF(description);
    if (PyDict_DelItem(self->files, fd) < 0 ||
        (PySet_GET_SIZE(inheritable) && PySet_Discard(inheritable, fd) < 0)) {
        Py_DECREF(count);
        Py_DECREF(description);
        leave_free(self->table_locked, self->table_release);
        return NULL;
    }
    if (number < hint) {
        set_slot(table, layout.t_hint, Py_NewRef(fd));
    }
    set_slot(description, layout.d_refs, count);
    if (leave_free(self->table_locked, self->table_release)) {
        Py_DECREF(description);
        return NULL;
    }
    int failed = refs == 1 && release(self, description) < 0;
    Py_DECREF(description);
    if (failed) {
        return NULL;
    }
    Py_RETURN_NONE;
python:
    return PyObject_Vectorcall(self->python_close, args, nargs, kwnames);
}

/* The lowest free descriptor number from the table's hint, or -1 when none is below the limit
 * (the caller holds the table's lock). */
static long long
lowest_free(FastPaths *self, PyObject **number)
{
    long long fd, limit;
    if (!exact_long(SLOT(self->table, layout.t_hint), &fd) ||
        !exact_long(SLOT(self->table, layout.t_limit), &limit)) {
        return -1;
    }
    for (; fd < limit; fd++) {
        PyObject *candidate = PyLong_FromLongLong(fd);
        if (candidate == NULL) {
            PyErr_Clear();
            return -1;
        }
        int used = PyDict_Contains(self->files, candidate);
        if (used == 0) {
            *number = candidate;
            return fd;
        }
        Py_DECREF(candidate);
        if (used < 0) {
            PyErr_Clear();
            return -1;
        }
    }
    return -1;
}

/* A new instance of a class with __slots__, every slot still empty (no __init__ runs). */
static inline PyObject *
blank(PyTypeObject *type)
{
    return type->tp_alloc(type, 0);
}

/* Whether ``who`` (not root) may read (4), write (2) and/or search (1) ``node``: the owner,
 * group or other bits, the first class that matches, as vfs.memory.permissions.permitted.
 * -1 when something is not as expected (the Python path decides then). */
static int
permitted(PyObject *node, PyObject *who, long long want)
{
    long long mode, owner, group, uid, gid;
    if (!exact_long(SLOT(node, layout.i_mode), &mode) ||
        !exact_long(SLOT(node, layout.i_uid), &owner) ||
        !exact_long(SLOT(node, layout.i_gid), &group) ||
        !exact_long(SLOT(who, layout.who_uid), &uid) ||
        !exact_long(SLOT(who, layout.who_gid), &gid) || uid == 0) {
        return -1;
    }
    long long bits = mode;
    if (uid == owner) {
        bits = mode >> 6;
    }
    else if (gid == group) {
        bits = mode >> 3;
    }
    else {
        PyObject *groups = SLOT(who, layout.who_groups);
        if (groups == NULL || !PyFrozenSet_CheckExact(groups)) {
            return -1;
        }
        int member = PySet_Contains(groups, SLOT(node, layout.i_gid));
        if (member < 0) {
            PyErr_Clear();
            return -1;
        }
        if (member) {
            bits = mode >> 3;
        }
    }
    return (bits & want) == want;
}

/* Whether the resolver's identity may open ``node`` in ``directory`` with ``flags`` (search
 * on the directory, read and/or write on the file), as MemoryFileSystem._may_open_cached. */
static int
may_open(PyObject *names, PyObject *directory, PyObject *node, long long flags)
{
    PyObject *check = SLOT(names, layout.r_check);
    if (check == Py_False) {
        return 1; /* root: nothing is checked */
    }
    PyObject *who = SLOT(names, layout.r_who);
    if (check != Py_True || who == NULL || !Py_IS_TYPE(who, layout.identity)) {
        return -1;
    }
    long long access = flags & 3;
    long long want = (access != 1 ? 4 : 0) | (access ? 2 : 0);
    int search = permitted(directory, who, 1);
    return search == 1 ? permitted(node, who, want) : search;
}

/* O_TRUNC of an existing file that fast_open opens: whether it is the common case done here,
 * a dense content no buffer exports, of a file with no set-ID bits (which an unprivileged
 * writer clears: MemoryFileSystem._after_write's work, left to the Python path), opened for
 * writing; its size in ``size``. 0 for everything else (the Python path's). */
static int
truncation_here(PyObject *node, long long flags, Py_ssize_t *size)
{
    long long mode;
    PyObject *content = SLOT(node, layout.f_data);
    if ((flags & 3) == O_RDONLY || content == NULL || !PyByteArray_CheckExact(content) ||
        ((PyByteArrayObject *)content)->ob_exports > 0 ||
        !exact_long(SLOT(node, layout.i_mode), &mode) || mode & 06000) {
        return 0;
    }
    *size = PyByteArray_GET_SIZE(content);
    return 1;
}

/* Cut the content truncation_here accepted to nothing, as MemoryFileSystem._resize(node, 0)
 * and _after_write: its pages given back (``used``, made ahead: the space's new count, NULL
 * when nothing is cut), mtime and ctime moved to ``now`` (a reference this takes). 0, or -1
 * with MemoryError and nothing changed (a bytearray's shrink reallocates, as ``del``'s). */
static int
truncate_dense(FastPaths *self, PyObject *node, PyObject *used, PyObject *now)
{
    if (used != NULL) {
        if (PyByteArray_Resize(SLOT(node, layout.f_data), 0) < 0) {
            Py_DECREF(now);
            return -1;
        }
        set_slot(self->space, layout.s_used_pages, Py_NewRef(used));
    }
    set_slot(node, layout.i_mtime, Py_NewRef(now));
    set_slot(node, layout.i_ctime, now);
    set_slot(node, layout.i_stat, Py_NewRef(Py_None));
    return 0;
}

/* -- open(path, O_CREAT...) of a name not there yet ----------------------------------------- */

static int plain_parent(PyObject *names, PyObject *path, PyObject **directory, PyObject **name);
static int plain_absolute(PyObject *path);
static PyObject *str_umask; /* "_umask" (FastMkdir's too) */

/* The umask of the backend whose Python open ``python_open`` is (a bound method): 1 with it in
 * *umask, 0 where the Python path must apply it (not a plain int, not a bound method), -1 on
 * error. Read before any state is looked at: the attribute's lookup may run Python code. */
static int
backend_umask(PyObject *python_open, long long *umask)
{
    if (!PyMethod_Check(python_open)) {
        return 0;
    }
    PyObject *mask = PyObject_GetAttr(PyMethod_GET_SELF(python_open), str_umask);
    if (mask == NULL) {
        return -1;
    }
    int plain = exact_long(mask, umask) && *umask >= 0 && *umask <= 0777;
    Py_DECREF(mask);
    return plain;
}

/* Whether ``name`` may be made in ``directory`` here, as _open_quick's creating branch with
 * _may_create and _new decide it (the file system's lock held): a live directory without
 * set-group-ID (inode_init_owner's group rules: the Python path's), that the identity may
 * write and search, where ``name`` is not. 1 when yes, 0 where the Python path must say (it
 * exists, a refusal, anything unusual), -1 with an error. */
static int
creatable(PyObject *names, PyObject *directory, PyObject *name)
{
    long long directory_mode, directory_links;
    PyObject *who = SLOT(names, layout.r_who);
    PyObject *entries = SLOT(directory, layout.dir_entries);
    if (!exact_long(SLOT(directory, layout.i_mode), &directory_mode) ||
        directory_mode & S_ISGID ||
        !exact_long(SLOT(directory, layout.i_nlink), &directory_links) || directory_links <= 0 ||
        who == NULL || !Py_IS_TYPE(who, layout.identity) ||
        (SLOT(names, layout.r_check) != Py_False && permitted(directory, who, 3) != 1) ||
        entries == NULL || !PyDict_CheckExact(entries)) {
        return PyErr_Occurred() ? -1 : 0;
    }
    int there = PyDict_Contains(entries, name);
    return there < 0 ? -1 : !there;
}

/* fast_open's O_CREAT of a plain absolute ``path`` whose name is not there yet, as
 * FileFunctions.open and MemoryFileSystem._open_quick make it: the mode less the backend's
 * umask (the bits asked for within 0o777: others are the Python path's), the creator's ids, the
 * directory's times, the inodes counted (no inode cap), the handle opened without O_TRUNC (an
 * empty file), the lowest free descriptor (EMFILE, said by the Python path, before anything
 * changed). The inode, handle, description and set of handles are made first (the inode's
 * class runs Python code; an exception there changes nothing but an inode number used, as
 * in _new); then the directory is looked up again and everything is entered with no call in
 * between. The new descriptor; NULL with no error where the Python path must open it, NULL
 * with an error on one (nothing changed). */
static PyObject *
create_new(FastPaths *self, PyObject *path, PyObject *flags_object, long long flags, long long mode)
{
    long long umask, used;
    if ((flags & 3) == 3) {
        return NULL; /* no access mode: the Python path's */
    }
    int plain = backend_umask(self->python_open, &umask);
    if (plain <= 0) {
        return NULL;
    }
    mode &= ~umask;
    if (mode & ~0777LL || !plain_absolute(path) || self->space == NULL) {
        return NULL;
    }
    /* a look first, so that a name that exists uses up no inode number */
    PyObject *directory, *name = NULL;
    if (!plain_parent(self->names, path, &directory, &name)) {
        return NULL;
    }
    int fresh = creatable(self->names, directory, name);
    Py_CLEAR(name);
    PyObject *cap = fresh == 1 ? PyObject_GetAttrString(self->space, "max_inodes") : NULL;
    if (cap != Py_None) {
        Py_XDECREF(cap);
        return NULL; /* exists, refused, an inode cap (the Python path checks it), an error */
    }
    Py_DECREF(cap);
    PyObject *node = NULL, *handle = NULL, *description = NULL, *handles = NULL, *now = NULL;
    PyObject *handle_flags = NULL, *counted = NULL, *number = NULL, *result = NULL;
    PyObject *dev = PyObject_GetAttrString(self->fs, "_dev");
    PyObject *inodes = dev == NULL ? NULL : PyObject_GetAttrString(self->fs, "_inodes");
    PyObject *ino = inodes == NULL ? NULL : PyIter_Next(inodes);
    now = ino == NULL ? NULL : PyLong_FromLongLong(now_ns());
    PyObject *bits = now == NULL ? NULL : PyLong_FromLongLong(mode);
    if (bits != NULL) {
        PyObject *call[4] = {dev, ino, now, bits};
        node = PyObject_Vectorcall((PyObject *)layout.regular_file, call, 4, NULL);
        Py_DECREF(bits);
    }
    handle_flags = node == NULL ? NULL : PyLong_FromLongLong(flags & ~(long long)O_TRUNC);
    handle = handle_flags == NULL ? NULL : blank(layout.memory_handle);
    description = handle == NULL ? NULL : blank(layout.file_description);
    handles = description == NULL ? NULL : PySet_New(NULL);
    PyObject *used_now = handles == NULL ? NULL : PyObject_GetAttrString(self->space, "used_inodes");
    int usable = used_now != NULL && exact_long(used_now, &used);
    Py_XDECREF(used_now);
    counted = usable ? PyLong_FromLongLong(used + 1) : NULL;
    if (counted == NULL || !Py_IS_TYPE(node, layout.regular_file) ||
        SLOT(node, layout.i_handles) != layout.no_handles) {
        goto done;
    }
    /* from here to the last change no Python code runs: one step for every other thread */
    int taken = enter_free(self->fs_locked, self->fs_acquire);
    if (taken <= 0) {
        goto done;
    }
    if (!plain_parent(self->names, path, &directory, &name) ||
        creatable(self->names, directory, name) != 1) {
        leave_free(self->fs_locked, self->fs_release);
        goto done;
    }
    taken = enter_free(self->table_locked, self->table_acquire);
    long long fd = taken > 0 ? lowest_free(self, &number) : -1;
    if (fd < 0) {
        if (taken > 0) {
            leave_free(self->table_locked, self->table_release);
        }
        leave_free(self->fs_locked, self->fs_release);
        goto done; /* EMFILE, a busy table: the Python path says or waits */
    }
    PyObject *state = layout.fast_state[flags & 3];
    long long state_bits = PyLong_AsLongLong(state);
    SLOT(handle, layout.h_fs) = Py_NewRef(self->fs);
    SLOT(handle, layout.h_node) = Py_NewRef(node);
    SLOT(handle, layout.h_flags) = Py_NewRef(handle_flags);
    SLOT(handle, layout.h_opened_as) = Py_NewRef(path);
    SLOT(handle, layout.h_state) = Py_NewRef(state);
    SLOT(handle, layout.h_reader) = Py_NewRef(
        (state_bits & layout.reader_state) == layout.reader_state ? node : Py_None);
    SLOT(description, layout.d_flags) = Py_NewRef(flags_object);
    SLOT(description, layout.d_refs) = PyLong_FromLong(1);
    SLOT(description, layout.d_handle) = Py_NewRef(handle);
    SLOT(description, layout.d_position) = PyLong_FromLong(0);
    SLOT(description, layout.d_busy) = Py_NewRef(Py_False);
    SLOT(description, layout.d_waiting) = PyLong_FromLong(0);
    SLOT(description, layout.d_gate) = Py_NewRef(Py_None);
    /* the steps that can fail, each undone when a later one fails: the handle in the inode's
     * set (not yet reachable), the descriptor, the listing cache's reset, the name */
    if (PySet_Add(handles, handle) < 0) {
        goto unlock;
    }
    set_slot(node, layout.i_handles, Py_NewRef(handles));
    if (PyDict_SetItem(self->files, number, description) < 0) {
        goto unlock;
    }
    if (PyObject_SetAttrString(directory, "listed", Py_None) < 0 ||
        PyDict_SetItem(SLOT(directory, layout.dir_entries), name, node) < 0) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyDict_DelItem(self->files, number);
        PyErr_Restore(type, value, traceback);
        goto unlock;
    }
    /* no call from here on, as _new and _enter: the ids, the directory's times, the count */
    set_slot(node, layout.i_uid, Py_NewRef(SLOT(SLOT(self->names, layout.r_who), layout.who_uid)));
    set_slot(node, layout.i_gid, Py_NewRef(SLOT(SLOT(self->names, layout.r_who), layout.who_gid)));
    set_slot(directory, layout.i_mtime, Py_NewRef(now));
    set_slot(directory, layout.i_ctime, Py_NewRef(now));
    set_slot(directory, layout.i_stat, Py_NewRef(Py_None));
    PyObject_SetAttrString(self->space, "used_inodes", counted); /* a slot: cannot fail */
    PyObject *next = PyLong_FromLongLong(fd + 1);
    set_slot(self->table, layout.t_hint, next != NULL ? next : Py_NewRef(number));
    PyErr_Clear(); /* (a failed next: the hint only has to be a free-or-lower number) */
    result = Py_NewRef(number);
unlock:
    if ((leave_free(self->table_locked, self->table_release) |
         leave_free(self->fs_locked, self->fs_release)) < 0) {
        Py_CLEAR(result); /* (only a lock that is not a threading.Lock can fail here) */
    }
done:
    Py_XDECREF(dev);
    Py_XDECREF(inodes);
    Py_XDECREF(ino);
    Py_XDECREF(now);
    Py_XDECREF(node);
    Py_XDECREF(handle_flags);
    Py_XDECREF(handle);
    Py_XDECREF(description);
    Py_XDECREF(handles);
    Py_XDECREF(counted);
    Py_XDECREF(number);
    Py_XDECREF(name);
    return result;
}

/* The directory (borrowed) and the last name (a new reference) of the absolute ``path`` that
 * fast_open opens, when the path cache does not hold it: the directory part from the cache of
 * heads (Resolver.heads, as Resolver.quick reads it), else by plain lookups (plain_parent).
 * Without it every open in a tree of more paths than the cache keeps went the Python way
 * (open+read of 1e4 distinct paths: 1.45x native). 1 when found; 0 where the Python path must
 * judge (an error set only for one). The caller checks the directory's type and search. */
static int
open_parent(PyObject *names, PyObject *path, PyObject **directory, PyObject **name)
{
    if (!plain_absolute(path)) {
        return 0;
    }
    PyObject *heads = SLOT(names, layout.r_heads);
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    Py_ssize_t cut = length - 1;
    while (text[cut] != '/') {
        cut--; /* (text[0] is '/') */
    }
    if (heads != NULL && PyDict_CheckExact(heads)) {
        PyObject *head = PyUnicode_FromStringAndSize(text, cut ? cut : 1); /* not tracked */
        if (head == NULL) {
            return 0;
        }
        PyObject *known = PyDict_GetItemWithError(heads, head);
        Py_DECREF(head);
        if (known != NULL && PyTuple_CheckExact(known) && PyTuple_GET_SIZE(known) >= 1) {
            /* a name that is no entry ('.', '..', too long) is missed below: Python's then */
            *directory = PyTuple_GET_ITEM(known, 0);
            *name = PyUnicode_FromStringAndSize(text + cut + 1, length - cut - 1);
            return *name != NULL;
        }
        if (PyErr_Occurred()) {
            return 0;
        }
    }
    return plain_parent(names, path, directory, name);
}

PyDoc_STRVAR(fast_open_doc,
"open($self, /, path, flags, mode=511, *, dir_fd=None)\n--\n\n"
"os.open: the lowest free descriptor, non-inheritable, for ``path``.");

static PyObject *
fast_open(FastPaths *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (self->fs == NULL || !self->reported || kwnames != NULL || nargs < 2 || nargs > 3 ||
        !Py_IS_TYPE(self->table, layout.fd_table) || !Py_IS_TYPE(self->names, layout.resolver)) {
        goto python;
    }
    PyObject *path = args[0];
    long long flags, mode = 0777;
    if (!PyUnicode_CheckExact(path) || !exact_long(args[1], &flags) ||
        flags < 0 || flags > INT_MAX || flags & layout.slow_flags ||
        (nargs == 3 && (!exact_long(args[2], &mode) || mode < INT_MIN || mode > INT_MAX))) {
        goto python;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    if (length == 0 || PyUnicode_READ_CHAR(path, 0) != '/') {
        goto python; /* empty or relative */
    }
    Py_ssize_t nul = PyUnicode_FindChar(path, 0, 0, length, 1);
    if (nul != -1) {
        PyErr_Clear(); /* -2: an error looking (never for a str); else a NUL, a ValueError */
        goto python;
    }
    /* Everything the collector tracks is made before any state is read: nothing runs after. */
    if (self->spare == NULL) {
        PyObject *spare = PySet_New(NULL);
        if (spare == NULL) {
            return NULL;
        }
        if (self->spare == NULL) { /* (a collection above may have run an open already) */
            self->spare = spare;
        }
        else {
            Py_DECREF(spare);
        }
    }
    PyObject *handle = blank(layout.memory_handle);
    PyObject *description = handle ? blank(layout.file_description) : NULL;
    if (description == NULL) {
        Py_XDECREF(handle);
        return NULL;
    }
    PyObject *number = NULL;
    int fs_entered = 0, creating = 0; /* creating: an O_CREAT of a name not there (create_new) */
    PyObject *truncated_now = NULL, *truncated_used = NULL; /* an O_TRUNC's, made ahead */
    int taken = enter_free(self->fs_locked, self->fs_acquire);
    if (taken <= 0) {
        goto undo;
    }
    fs_entered = 1;
    PyObject *hit = PyDict_GetItemWithError(SLOT(self->names, layout.r_paths), path);
    PyObject *directory = NULL, *name = NULL; /* name: a new reference */
    if (hit != NULL) {
        if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) < 2) {
            goto undo;
        }
        directory = PyTuple_GET_ITEM(hit, 0);
        name = Py_NewRef(PyTuple_GET_ITEM(hit, 1));
    }
    else if (PyErr_Occurred() || !open_parent(self->names, path, &directory, &name)) {
        creating = !PyErr_Occurred() && flags & O_CREAT;
        goto undo; /* not found by the caches or plain lookups: create_new or the Python path */
    }
    if (!Py_IS_TYPE(directory, layout.directory)) {
        Py_DECREF(name);
        goto undo;
    }
    PyObject *entries = SLOT(directory, layout.dir_entries);
    PyObject *node = entries && PyDict_CheckExact(entries)
        ? PyDict_GetItemWithError(entries, name) : NULL;
    Py_DECREF(name); /* a str: its release runs no Python code */
    if (node == NULL || !Py_IS_TYPE(node, layout.regular_file)) {
        creating = node == NULL && flags & O_CREAT;
        goto undo;
    }
    PyObject *handles = SLOT(node, layout.i_handles);
    int first = handles == layout.no_handles; /* no handle open: the spare set becomes its */
    if ((!first && (handles == NULL || !PySet_CheckExact(handles))) ||
        may_open(self->names, directory, node, flags) != 1) {
        goto undo; /* refused (EACCES) or unusual: the Python path says which */
    }
    /* O_CREAT of a name that exists opens it as without; O_TRUNC cuts it (open(..., 'w')) */
    Py_ssize_t cut = 0;
    if (flags & O_TRUNC) {
        if (!truncation_here(node, flags, &cut) || self->space == NULL) {
            goto undo;
        }
        long long used = 0;
        if (cut && !exact_long(SLOT(self->space, layout.s_used_pages), &used)) {
            goto undo;
        }
        /* made ahead (no Python code runs here: ints are not tracked by the collector) */
        truncated_now = PyLong_FromLongLong(now_ns());
        truncated_used = truncated_now && cut
            ? PyLong_FromLongLong(used - (((long long)cut + 4095) >> 12)) : NULL;
        if (truncated_now == NULL || (cut && truncated_used == NULL)) {
            goto undo;
        }
    }
    taken = enter_free(self->table_locked, self->table_acquire);
    if (taken <= 0) {
        goto undo;
    }
    long long fd = lowest_free(self, &number);
    if (fd < 0) {
        leave_free(self->table_locked, self->table_release);
        goto undo; /* EMFILE: the Python path says it */
    }
    PyObject *state = layout.fast_state[flags & 3];
    long long state_bits = PyLong_AsLongLong(state);
    SLOT(handle, layout.h_fs) = Py_NewRef(self->fs);
    SLOT(handle, layout.h_node) = Py_NewRef(node);
    SLOT(handle, layout.h_flags) = Py_NewRef(args[1]);
    SLOT(handle, layout.h_opened_as) = Py_NewRef(path);
    SLOT(handle, layout.h_state) = Py_NewRef(state);
    SLOT(handle, layout.h_reader) = Py_NewRef(
        (state_bits & layout.reader_state) == layout.reader_state ? node : Py_None);
    SLOT(description, layout.d_flags) = Py_NewRef(args[1]);
    SLOT(description, layout.d_refs) = PyLong_FromLong(1);
    SLOT(description, layout.d_handle) = Py_NewRef(handle);
    SLOT(description, layout.d_position) = PyLong_FromLong(0); /* a cached small int */
    SLOT(description, layout.d_busy) = Py_NewRef(Py_False);
    SLOT(description, layout.d_waiting) = PyLong_FromLong(0);
    SLOT(description, layout.d_gate) = Py_NewRef(Py_None);
    if (first) {
        handles = self->spare;
        self->spare = NULL;
        set_slot(node, layout.i_handles, handles); /* the spare's reference moves to the node */
    }
    if (PySet_Add(handles, handle) < 0) {
        leave_free(self->table_locked, self->table_release);
        goto undo;
    }
    if (PyDict_SetItem(self->files, number, description) < 0) {
        PySet_Discard(handles, handle);
        leave_free(self->table_locked, self->table_release);
        goto undo;
    }
    /* the last step that can fail: its failure takes the descriptor back (an empty handle
     * set left on the inode is a state drop_empty_handles knows) */
    if (truncated_now != NULL &&
        truncate_dense(self, node, truncated_used, Py_NewRef(truncated_now)) < 0) {
        PyDict_DelItem(self->files, number);
        PySet_Discard(handles, handle);
        leave_free(self->table_locked, self->table_release);
        goto undo;
    }
    Py_XDECREF(truncated_now);
    Py_XDECREF(truncated_used);
    PyObject *next = PyLong_FromLongLong(fd + 1);
    if (next == NULL) {
        PyErr_Clear();
        next = Py_NewRef(number); /* the hint only has to be a free-or-lower number */
    }
    set_slot(self->table, layout.t_hint, next);
    int failed = leave_free(self->table_locked, self->table_release) |
                 leave_free(self->fs_locked, self->fs_release);
    Py_DECREF(description);
    Py_DECREF(handle);
    if (failed) {
        Py_DECREF(number);
        return NULL;
    }
    return number;
undo:
    Py_XDECREF(truncated_now);
    Py_XDECREF(truncated_used);
    Py_XDECREF(number);
    Py_DECREF(description);
    Py_DECREF(handle);
    if (PyErr_Occurred()) {
        if (fs_entered) {
            leave_free(self->fs_locked, self->fs_release);
        }
        return NULL;
    }
    if (fs_entered && leave_free(self->fs_locked, self->fs_release)) {
        return NULL;
    }
    if (creating) {
        PyObject *made = create_new(self, path, args[1], flags, mode);
        if (made != NULL || PyErr_Occurred()) {
            return made;
        }
    }
python:;
    PyObject *result = PyObject_Vectorcall(self->python_open, args, nargs, kwnames);
    if (result != NULL) {
        self->reported = 1;
    }
    return result;
}

/* The copy of a status record at a backend's time resolution, made in C (defined with
 * truncated_stat below). */
static PyObject *stat_view(PyObject *view, PyObject *result, PyObject *resolution);

/* -- stat: an absolute path's cached status, resolved by plain lookups ----------------------- */

/* The entry ``length`` characters of the ASCII ``text`` from ``start`` name in ``directory``
 * (borrowed: the caller holds the file system's lock), or NULL, with an error set only for one. */
static PyObject *
entry_of(PyObject *directory, const char *text, Py_ssize_t start, Py_ssize_t length)
{
    PyObject *entries = SLOT(directory, layout.dir_entries);
    if (entries == NULL || !PyDict_CheckExact(entries)) {
        return NULL;
    }
    PyObject *name = PyUnicode_FromStringAndSize(text + start, length); /* not tracked */
    if (name == NULL) {
        return NULL;
    }
    PyObject *node = PyDict_GetItemWithError(entries, name);
    Py_DECREF(name);
    return node;
}

/* Whether ``who`` may search ``directory`` (1), or the Python path must judge (0). */
static inline int
searchable(PyObject *directory, PyObject *who)
{
    return who == NULL || permitted(directory, who, 1) == 1;
}

/* Whether the ``length`` characters of ``text`` from ``start``, found in no directory, are a
 * plain name that is simply missing: not "." or ".." (never entries, but they mean something)
 * and not too long (the walk's ENAMETOOLONG). Empty components never get here. */
static inline int
plain_missing(const char *text, Py_ssize_t start, Py_ssize_t length)
{
    if (length > 255 /* vfs.limits.NAME_MAX */ || (text[start] == '.' &&
        (length == 1 || (length == 2 && text[start + 1] == '.')))) {
        return 0;
    }
    return 1;
}

/* The inode the absolute ASCII ``path`` (no NUL, no trailing slash) names, as
 * MemoryFileSystem.stat's fast path finds it: from the resolver's cache of paths, else by
 * plain lookups from the root (Resolver._plain: each component a searchable directory's entry,
 * a directory up to the last; '.', '..' and empty components are never entries). Borrowed,
 * under the file system's lock; NULL (no error set unless one happened) where the Python path
 * resolves it -- links, refusals, anything unusual -- or where a plain name is missing from a
 * directory the identity may search, with only plain directories before it: then *missing is
 * set (ENOENT, as Resolver.quick's False and the walk say). */
static PyObject *
plain_node(FastPaths *self, PyObject *path, int *missing)
{
    PyObject *names = self->names;
    PyObject *check = SLOT(names, layout.r_check);
    PyObject *who = NULL; /* NULL: root, nothing is checked */
    *missing = 0;
    if (check != Py_False) {
        who = SLOT(names, layout.r_who);
        if (check != Py_True || who == NULL || !Py_IS_TYPE(who, layout.identity)) {
            return NULL;
        }
    }
    PyObject *paths = SLOT(names, layout.r_paths);
    PyObject *hit = paths != NULL && PyDict_CheckExact(paths)
        ? PyDict_GetItemWithError(paths, path) : NULL;
    if (hit != NULL) {
        if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) < 2) {
            return NULL;
        }
        PyObject *directory = PyTuple_GET_ITEM(hit, 0);
        PyObject *entries = SLOT(directory, layout.dir_entries);
        if (!Py_IS_TYPE(directory, layout.directory) || !searchable(directory, who) ||
            entries == NULL || !PyDict_CheckExact(entries)) {
            return NULL;
        }
        PyObject *name = PyTuple_GET_ITEM(hit, 1);
        PyObject *node = PyDict_GetItemWithError(entries, name);
        /* (Resolver.parent also caches a name too long to be an entry: the walk's error) */
        *missing = node == NULL && !PyErr_Occurred() && PyUnicode_CheckExact(name) &&
            PyUnicode_IS_ASCII(name) && PyUnicode_GET_LENGTH(name) > 0 &&
            plain_missing((const char *)PyUnicode_1BYTE_DATA(name), 0,
                          PyUnicode_GET_LENGTH(name));
        return node;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    /* The directory part as resolved before (Resolver.heads, as Resolver.quick reads it: its
     * entries stay right until the caches are dropped), then the last name: two lookups
     * where a tree holds more paths than the cache of whole paths keeps. */
    PyObject *heads = SLOT(names, layout.r_heads);
    Py_ssize_t cut = length - 1;
    while (text[cut] != '/') {
        cut--; /* (text[0] is '/') */
    }
    if (heads != NULL && PyDict_CheckExact(heads)) {
        PyObject *head = PyUnicode_FromStringAndSize(text, cut ? cut : 1);
        if (head == NULL) {
            return NULL;
        }
        PyObject *known = PyDict_GetItemWithError(heads, head);
        Py_DECREF(head);
        if (known != NULL && PyTuple_CheckExact(known) && PyTuple_GET_SIZE(known) >= 1) {
            PyObject *directory = PyTuple_GET_ITEM(known, 0);
            if (!Py_IS_TYPE(directory, layout.directory) || !searchable(directory, who)) {
                return NULL;
            }
            PyObject *node = entry_of(directory, text, cut + 1, length - cut - 1);
            *missing = node == NULL && !PyErr_Occurred() &&
                plain_missing(text, cut + 1, length - cut - 1);
            return node;
        }
        if (PyErr_Occurred()) {
            return NULL;
        }
    }
    PyObject *node = SLOT(names, layout.r_root);
    Py_ssize_t start = 1;
    for (Py_ssize_t at = 1; at <= length; at++) {
        if (at < length && text[at] != '/') {
            continue;
        }
        if (node == NULL || !Py_IS_TYPE(node, layout.directory) || !searchable(node, who) ||
            at == start) {
            return NULL; /* not a directory, not searchable, or an empty component */
        }
        node = entry_of(node, text, start, at - start);
        if (node == NULL) {
            *missing = !PyErr_Occurred() && plain_missing(text, start, at - start);
            return NULL;
        }
        start = at + 1;
    }
    return node;
}

PyDoc_STRVAR(fast_stat_doc,
"stat($self, /, path, *, dir_fd=None, follow_symlinks=True)\n--\n\n"
"os.stat.");

/* Whether the keywords ``kwnames`` (values after the one positional argument in ``args``)
 * change nothing: dir_fd=None, and for os.stat (``follow``) follow_symlinks=True -- what
 * shutil.copystat passes. Anything else (another value, an unknown name) is the Python
 * method's to judge. */
static int
default_keywords(PyObject *const *args, PyObject *kwnames, int follow)
{
    if (kwnames == NULL) {
        return 1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i), *value = args[1 + i];
        if (PyUnicode_CompareWithASCIIString(name, "dir_fd") == 0) {
            if (value != Py_None) {
                return 0;
            }
        }
        else if (!follow || value != Py_True ||
                 PyUnicode_CompareWithASCIIString(name, "follow_symlinks") != 0) {
            return 0;
        }
    }
    return 1;
}

static PyObject *plain_path_stat(FastPaths *self, PyObject *path, int *fallback);
static PyObject *status_view(FastPaths *self, PyObject *held, PyObject *result);

/* os.stat and os.lstat of one absolute plain path, answered alike: a regular file or a
 * directory is the same either way (a link at the end, which only the two see differently,
 * is the Python method's, ``fallback``). */
static PyObject *
plain_stat(FastPaths *self, PyObject *fallback, PyObject *const *args, Py_ssize_t nargs,
           PyObject *kwnames)
{
    if (self->fs == NULL || nargs != 1 ||
        !default_keywords(args, kwnames, fallback == self->python_stat) ||
        !Py_IS_TYPE(self->names, layout.resolver)) {
        goto python;
    }
    PyObject *path = args[0];
    if (!PyUnicode_CheckExact(path) || !PyUnicode_IS_ASCII(path)) {
        goto python; /* (the converters and the encoding checks are the Python code's) */
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    if (length < 2 || length >= 4096 /* vfs.limits.PATH_MAX */ || text[0] != '/' ||
        text[length - 1] == '/' || memchr(text, '\0', length) != NULL) {
        goto python; /* relative, the root, a trailing slash, too long, a NUL */
    }
    int python_judges;
    PyObject *view = plain_path_stat(self, path, &python_judges);
    if (view != NULL || !python_judges) {
        return view;
    }
python:
    return PyObject_Vectorcall(fallback, args, nargs, kwnames);
}

/* The status of the regular file or directory the plain absolute ``path`` (plain_absolute's
 * checks passed; a resolver's file system) names, at the backend's time resolution, as
 * os.stat and os.lstat give it (a new reference); FileNotFoundError naming ``path`` where a
 * plain name is simply missing; NULL with no error and *fallback set where the Python path
 * must judge (a link, a refusal, a busy lock, anything unusual). */
static PyObject *
plain_path_stat(FastPaths *self, PyObject *path, int *fallback)
{
    *fallback = 0;
    int taken = try_lock(self->fs_acquire);
    if (taken < 0) {
        return NULL;
    }
    if (!taken) {
        *fallback = 1;
        return NULL;
    }
    int missing;
    PyObject *node = plain_node(self, path, &missing);
    PyObject *result = NULL, *held = NULL;
    if (node != NULL &&
        (Py_IS_TYPE(node, layout.regular_file) || Py_IS_TYPE(node, layout.directory))) {
        result = SLOT(node, layout.i_stat); /* the cached record; None after a change */
        result = result != NULL && result != Py_None
            ? Py_NewRef(result)
            : PyObject_CallMethodNoArgs(node, str_stat); /* rebuilt, as the Python path does */
        held = Py_NewRef(node); /* (its slot _derived is written after the lock is let go) */
    }
    int failed = PyErr_Occurred() != NULL;
    if (unlock(self->fs_release) || failed) {
        Py_XDECREF(result);
        Py_XDECREF(held);
        return NULL;
    }
    if (missing) {
        /* FileNotFoundError(ENOENT, its message, path), as os.stat raises it */
        errno = ENOENT;
        return PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, path);
    }
    if (result == NULL) {
        Py_XDECREF(held);
        *fallback = 1;
        return NULL;
    }
    return status_view(self, held, result);
}

/* The status record ``result`` of the inode ``held`` at the backend's time resolution (both
 * references taken over; the lock let go): the view, or the copy kept on the inode. */
static PyObject *
status_view(FastPaths *self, PyObject *held, PyObject *result)
{
    PyObject *derived, *view = NULL;
    if (self->unit_resolution) {
        view = PyObject_CallOneArg(self->view, result);
        goto done;
    }
    /* The copy at the backend's resolution, kept on the inode beside the record it was made
     * of: (record, resolution, copy), valid while that record is the inode's (a change makes
     * a new one). A cache per file, not a bounded one per backend: stats of more distinct
     * files than such a cache holds would make every copy again. */
    derived = SLOT(held, layout.i_derived);
    if (derived != NULL && PyTuple_CheckExact(derived) && PyTuple_GET_SIZE(derived) == 3 &&
        PyTuple_GET_ITEM(derived, 0) == result) {
        int same = PyObject_RichCompareBool(PyTuple_GET_ITEM(derived, 1), self->resolution,
                                            Py_EQ);
        if (same < 0) {
            goto done;
        }
        if (same) {
            view = Py_NewRef(PyTuple_GET_ITEM(derived, 2));
            goto done;
        }
    }
    view = stat_view(self->view, result, self->resolution); /* (the gap noted there) */
    if (view != NULL) {
        PyObject *kept = PyTuple_Pack(3, result, self->resolution, view);
        if (kept == NULL) {
            Py_CLEAR(view);
        } else {
            set_slot(held, layout.i_derived, kept);
        }
    }
done:
    Py_DECREF(held);
    Py_DECREF(result);
    return view;
}

static PyObject *
fast_stat(FastPaths *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return plain_stat(self, self->python_stat, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_lstat_doc,
"lstat($self, /, path, *, dir_fd=None)\n--\n\n"
"os.lstat.");

static PyObject *
fast_lstat(FastPaths *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return plain_stat(self, self->python_lstat, args, nargs, kwnames);
}

static PyMethodDef fast_paths_methods[] = {
    {"read", (PyCFunction)(void (*)(void))fast_read, METH_FASTCALL | METH_KEYWORDS,
     fast_read_doc},
    {"lseek", (PyCFunction)(void (*)(void))fast_lseek, METH_FASTCALL | METH_KEYWORDS,
     fast_lseek_doc},
    {"open", (PyCFunction)(void (*)(void))fast_open, METH_FASTCALL | METH_KEYWORDS,
     fast_open_doc},
    {"close", (PyCFunction)(void (*)(void))fast_close, METH_FASTCALL | METH_KEYWORDS,
     fast_close_doc},
    {"stat", (PyCFunction)(void (*)(void))fast_stat, METH_FASTCALL | METH_KEYWORDS,
     fast_stat_doc},
    {"lstat", (PyCFunction)(void (*)(void))fast_lstat, METH_FASTCALL | METH_KEYWORDS,
     fast_lstat_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(fast_paths_doc,
"FastPaths(table, file_system, *, read, lseek, open, close, stat, lstat, view, resolution)\n"
"--\n\n"
"One backend's read, lseek, open, close and stat in C, over its fd table and (when it is a\n"
"MemoryFileSystem, else None) its file system; the Python methods serve the rest (``view``:\n"
"the backend's stat result at its time ``resolution``, in ns; the copy is kept on the inode).");

static PyType_Slot fast_paths_slots[] = {
    {Py_tp_doc, (void *)fast_paths_doc},
    {Py_tp_new, fast_paths_new},
    {Py_tp_dealloc, fast_paths_dealloc},
    {Py_tp_traverse, fast_paths_traverse},
    {Py_tp_clear, fast_paths_clear},
    {Py_tp_methods, fast_paths_methods},
    {0, NULL},
};

static PyType_Spec fast_paths_spec = {
    .name = "posixbackend._speedups.FastPaths",
    .basicsize = sizeof(FastPaths),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = fast_paths_slots,
};

/* -- MemoryWriter: one memory handle's pwrite --------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *handle;       /* the MemoryHandle */
    PyObject *space;        /* its file system's Space */
    PyObject *fs_acquire;   /* its file system's lock's acquire and release */
    PyObject *fs_release;
    PyObject *fs_locked;    /* its lock's ``locked``, NULL unless a threading.Lock: the
                             * capsule's write, reserve and read enter it free (enter_free) */
    PyObject *python_pwrite; /* handle.pwrite, for everything off the fast path */
    vectorcallfunc vectorcall;
} MemoryWriter;

static PyObject *memory_writer_vectorcall(PyObject *, PyObject *const *, size_t, PyObject *);

static int
memory_writer_traverse(MemoryWriter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->handle);
    Py_VISIT(self->space);
    Py_VISIT(self->fs_acquire);
    Py_VISIT(self->fs_release);
    Py_VISIT(self->fs_locked);
    Py_VISIT(self->python_pwrite);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
memory_writer_clear(MemoryWriter *self)
{
    Py_CLEAR(self->handle);
    Py_CLEAR(self->space);
    Py_CLEAR(self->fs_acquire);
    Py_CLEAR(self->fs_release);
    Py_CLEAR(self->fs_locked);
    Py_CLEAR(self->python_pwrite);
    return 0;
}

static void
memory_writer_dealloc(MemoryWriter *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    memory_writer_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
memory_writer_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"handle", NULL};
    PyObject *handle;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the accelerator first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!:MemoryWriter", keywords,
                                     layout.memory_handle, &handle)) {
        return NULL;
    }
    PyObject *fs = SLOT(handle, layout.h_fs);
    if (fs == NULL) {
        PyErr_SetString(PyExc_ValueError, "the handle has no file system");
        return NULL;
    }
    MemoryWriter *self = (MemoryWriter *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = memory_writer_vectorcall;
    self->handle = Py_NewRef(handle);
    self->python_pwrite = PyObject_GetAttrString(handle, "pwrite");
    self->space = PyObject_GetAttrString(fs, "_space");
    /* interned names: the type's attribute cache answers (a journal's writer per commit) */
    PyObject *lock = PyObject_GetAttr(fs, str_lock);
    if (lock != NULL) {
        self->fs_acquire = PyObject_GetAttr(lock, str_acquire);
        self->fs_release = PyObject_GetAttr(lock, str_release);
        self->fs_locked = locked_method(lock); /* NULL (no error) for another kind of lock */
        Py_DECREF(lock);
    }
    if (self->python_pwrite == NULL || self->space == NULL || self->fs_acquire == NULL ||
        self->fs_release == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    if (!Py_IS_TYPE(self->space, layout.space)) {
        PyErr_SetString(PyExc_TypeError, "the handle's file system is not a MemoryFileSystem");
        Py_DECREF(self);
        return NULL;
    }
    return (PyObject *)self;
}

/* How many bytes ``content`` can hold without a new allocation (its trailing NUL aside). */
static inline Py_ssize_t
content_capacity(PyObject *content)
{
    PyByteArrayObject *array = (PyByteArrayObject *)content;
    return array->ob_alloc == 0 ? 0 : array->ob_alloc - (array->ob_start - array->ob_bytes) - 1;
}

/* Set when a content buffer of TRIMMED_FROM bytes or more was moved by a reallocation; cleared
 * by give_back_freed, which returns its pages. Only touched with the GIL held. */
#define TRIMMED_FROM (1 << 20)
static int moved_big_content = 0;

/* glibc's highest mmap threshold on 64-bit systems (DEFAULT_MMAP_THRESHOLD_MAX, mallopt(3)):
 * a block asked for above it is a mapping of its own, which realloc grows by mremap (no copy). */
#define MAPPED_ABOVE ((Py_ssize_t)32 << 20)

static void populate(char *start, Py_ssize_t length);

/* Where the process's brk heap starts: field 47 (start_brk) of /proc/self/stat, read once;
 * NULL where it cannot be read (then no block is taken for a brk heap one). */
static const char *
brk_heap_start(void)
{
    static int known = 0;
    static const char *start = NULL;
    if (known) {
        return start;
    }
    known = 1;
    char text[1024];
    int fd = open("/proc/self/stat", O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return NULL;
    }
    ssize_t got = read(fd, text, sizeof(text) - 1);
    close(fd);
    if (got <= 0) {
        return NULL;
    }
    text[got] = '\0';
    char *field = strrchr(text, ')'); /* the end of field 2, the command (any bytes in it) */
    for (int number = 2; field != NULL && number < 47; number++) {
        field = strchr(field + 1, ' ');
    }
    if (field != NULL) {
        start = (const char *)(uintptr_t)strtoull(field + 1, NULL, 10);
    }
    return start;
}

/* Whether ``block`` lies in the brk heap (glibc's main arena, from start_brk up to the current
 * break): pages are moved out of such a block (one mapping) but never into one (the heap's
 * mapping would be cut up). A guess from addresses only: a wrong one costs time, never a
 * byte. */
static int
in_brk_heap(const char *block)
{
#ifdef __GLIBC__
    const char *start = brk_heap_start();
    return start != NULL && block >= start && block < (const char *)sbrk(0);
#else
    (void)block;
    return 0;
#endif
}

/* The system's page size (sysconf, asked once). */
static uintptr_t
page_size(void)
{
    static uintptr_t page = 0;
    if (page == 0) {
        long size = sysconf(_SC_PAGESIZE);
        page = size > 0 ? (uintptr_t)size : 4096;
    }
    return page;
}

#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP 4 /* Linux 5.7 */
#endif
static int dontunmap_works = 1; /* cleared when the kernel refuses MREMAP_DONTUNMAP */
/* Cleared when the kernel refuses to move a range over more than one mapping (EFAULT: Linux
 * before 6.17), as the pages of a content moved before span its new block's mapping and the
 * one they were moved in as: such contents then grow through realloc (which copies the block
 * once into a mapping of one piece, then grows it by mremap). */
static int moves_span_mappings = 1;

/* Put the ``length`` bytes at ``from`` at ``to`` (the same offset within a page, the ranges
 * apart): the pages wholly inside moved there by one mremap, the bytes of the two pages at
 * the ends copied. MREMAP_DONTUNMAP leaves the source range mapped (it reads as zeros and
 * holds no page), so whatever shares its pages or mapping (glibc's heap) is untouched; the
 * page tables move, no byte is copied and no page is allocated or freed. Where mremap refuses
 * (a kernel before 5.7, a limit), the pages are populated and copied instead. */
static void
move_pages(char *to, const char *from, Py_ssize_t length)
{
    uintptr_t page = page_size();
    uintptr_t first = ((uintptr_t)from + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)from + (uintptr_t)length) & ~(page - 1);
    if (dontunmap_works && end > first) {
        char *target = to + (first - (uintptr_t)from);
        int saved = errno;
        void *moved = mremap((void *)first, end - first, end - first,
                             MREMAP_MAYMOVE | MREMAP_FIXED | MREMAP_DONTUNMAP, target);
        if (moved == (void *)target) {
            errno = saved;
            memcpy(to, from, first - (uintptr_t)from);
            memcpy(target + (end - first), (const char *)end,
                   (uintptr_t)from + (uintptr_t)length - end);
            return;
        }
        if (errno == EINVAL) {
            dontunmap_works = 0;
        }
        else if (errno == EFAULT) {
            moves_span_mappings = 0;
        }
        errno = saved;
    }
    populate(to, length);
    memcpy(to, from, (size_t)length);
}

/* Contents whose allocation reaches this many bytes get a mapping of their own (mapped_block):
 * smaller ones stay wherever the allocator puts them (a small file costs no mapping). */
#define OWN_MAPPING_FROM ((size_t)1 << 20)

/* Whether tracemalloc traces allocations now (PyTraceMalloc_Untrack answers -2 when it does
 * not; address 0 was never traced, so nothing is untracked). */
static int
tracing_allocations(void)
{
    return PyTraceMalloc_Untrack(0, 0) != -2;
}

/* A block of ``alloc`` bytes (OWN_MAPPING_FROM .. MAPPED_ABOVE) from Python's object allocator
 * that is a mapping of glibc's own, whatever its dynamic mmap threshold: asked for above
 * MAPPED_ABOVE (the highest threshold: glibc maps it), then shrunk by realloc (glibc's mremap
 * of the mapping: no page touched). glibc's realloc grows such a block by mremap(MREMAP_MAYMOVE)
 * -- no copy, no page faulted again -- where a block in the brk heap is copied, into fresh
 * pages, whenever something sits after it (a 16 MiB file written in 1 MiB appends after group
 * scale's earlier rows, which raise the threshold and leave the heap in pieces: 2.0-2.2x native
 * CPU, 0.9x in such a mapping). NULL (no exception) where this does not apply or fails: off
 * glibc, while tracemalloc traces (its peak would count the 32 MiB asked for; the traced rows
 * measure memory, not time), when the block still lands in the heap (see below), no
 * memory, in a free-threaded build (its object allocator is mimalloc, not glibc).
 * mallopt(M_MMAP_THRESHOLD) would do it for the whole process instead: every other
 * allocation's placement changed and glibc's dynamic threshold switched off for good. */
static char *
mapped_block(size_t alloc)
{
#if defined(__GLIBC__) && !defined(Py_GIL_DISABLED) /* (free-threaded: mimalloc's blocks) */
    if (tracing_allocations()) {
        return NULL;
    }
    char *block = PyObject_Malloc((size_t)MAPPED_ABOVE + page_size());
    if (block != NULL && in_brk_heap(block)) {
        /* The heap had that much free (glibc serves a request from its top or a free chunk
         * before it maps: a process that freed big heap blocks keeps up to twice the
         * threshold on top), or glibc maps nothing (M_MMAP_MAX 0): the usual path, this time
         * only -- the heap's state changes, and asking costs no page (nothing was touched). */
        PyObject_Free(block);
        return NULL;
    }
    if (block == NULL) {
        return NULL;
    }
    char *fitted = PyObject_Realloc(block, alloc);
    if (fitted == NULL) {
        PyObject_Free(block); /* (a shrink that fails leaves the block as it was) */
    }
    return fitted;
#else
    (void)alloc;
    return NULL;
#endif
}

/* Give the bytearray ``content`` room for ``size`` bytes (more than its capacity) as
 * PyByteArray_Resize would (the same allocation: an eighth more for a moderate growth), its
 * size set to ``size``. A buffer of a MiB or more whose new allocation passes MAPPED_ABOVE (a
 * mapping of glibc's own) is moved here instead of by realloc, its pages moved (move_pages)
 * into the new block at the same offset within a page (the bytearray's start moved up to a
 * page into its allocation: ob_start past ob_bytes, as after a ``del b[:n]``). realloc would
 * copy a brk heap block into fresh pages a fault at a time (glibc's mmap threshold raised by
 * a freed mapping, the common state of a process that freed a big object: a 64 MiB file's
 * 30 MiB move cost 19.7 ms CPU), and cannot mremap a block whose pages this moved before (two
 * mappings then: it would copy; see moves_span_mappings for kernels that cannot either). No
 * Python code runs; on MemoryError nothing changed. 0, or -1 with an exception. */
static int
resize_content(PyObject *content, Py_ssize_t size)
{
    PyByteArrayObject *array = (PyByteArrayObject *)content;
    Py_ssize_t had = content_capacity(content);
    char *before = array->ob_bytes;
    /* PyByteArray_Resize's allocation for a growth (its ob_alloc counts the NUL) */
    size_t alloc = (size_t)size <= (size_t)array->ob_alloc * 9 / 8
        ? (size_t)size + ((size_t)size >> 3) + 6 : (size_t)size + 1;
    if (array->ob_exports == 0 && had >= TRIMMED_FROM && alloc > (size_t)MAPPED_ABOVE &&
        size < PY_SSIZE_T_MAX / 2 && dontunmap_works &&
        (moves_span_mappings || in_brk_heap(before))) {
        size_t page = page_size();
        /* the move is a realloc, traced as one block as tracemalloc traces PyObject_Realloc:
         * the old block's pages go into the new one (its emptied addresses stay until freed) */
        int untracked = PyTraceMalloc_Untrack(0, (uintptr_t)before) == 0;
        char *fresh = PyObject_Malloc(alloc + page);
        if (fresh == NULL) {
            if (untracked) {
                (void)PyTraceMalloc_Track(0, (uintptr_t)before, (size_t)array->ob_alloc);
            }
            PyErr_NoMemory();
            return -1;
        }
        char *start = array->ob_start;
        Py_ssize_t have = Py_SIZE(array);
        /* the same offset within a page as the bytes have now */
        char *placed = fresh + (((uintptr_t)start - (uintptr_t)fresh) & (page - 1));
        if (in_brk_heap(fresh)) {
            populate(placed, have); /* a heap block (a free one that big): no pages moved in */
            memcpy(placed, start, (size_t)have);
        }
        else {
            move_pages(placed, start, have);
        }
        PyObject_Free(before);
        array->ob_bytes = fresh;
        array->ob_start = placed;
        array->ob_alloc = (Py_ssize_t)(alloc + page);
        Py_SET_SIZE(array, size);
        placed[size] = '\0';
        return 0;
    }
    /* A content that reaches OWN_MAPPING_FROM from below, or grows in the brk heap, moves into a
     * mapping of its own (mapped_block) at the start of its block, which later growths up to
     * MAPPED_ABOVE mremap (PyByteArray_Resize's realloc). Copied, not moved by pages: at most
     * a MiB, or once in a content's life (a big heap block is made only by the Python path, or
     * while tracemalloc traces). */
    if (array->ob_exports == 0 && alloc >= OWN_MAPPING_FROM && alloc <= (size_t)MAPPED_ABOVE &&
        ((size_t)had < OWN_MAPPING_FROM || in_brk_heap(before))) {
        char *fresh = mapped_block(alloc);
        if (fresh != NULL) {
            Py_ssize_t have = Py_SIZE(array);
            if (have > 0) {
                populate(fresh, have);
                memcpy(fresh, array->ob_start, (size_t)have);
            }
            PyObject_Free(before);
            array->ob_bytes = fresh;
            array->ob_start = fresh;
            array->ob_alloc = (Py_ssize_t)alloc;
            Py_SET_SIZE(array, size);
            fresh[size] = '\0';
            return 0;
        }
    }
    if (PyByteArray_Resize(content, size) < 0) {
        return -1;
    }
    if (array->ob_bytes != before && had >= TRIMMED_FROM) {
        moved_big_content = 1;
    }
    return 0;
}

/* Make the bytearray ``content`` ``size`` bytes long (``size`` larger than it is): within the
 * room a reservation left (MemoryWriterApi.reserve) by moving its end, as PyByteArray_Resize's
 * "minor" case does, since PyByteArray_Resize itself would give back any room beyond twice the
 * new size and so copy the content once per write of a growing file; else (also when a buffer
 * is exported: its BufferError) resize_content, noting a big buffer it moved (see
 * give_back_freed). 0, or -1 with an exception. */
static int
grow_content(PyObject *content, Py_ssize_t size)
{
    PyByteArrayObject *array = (PyByteArrayObject *)content;
    if (size <= content_capacity(content) && array->ob_exports == 0) {
        Py_SET_SIZE(content, size);
        array->ob_start[size] = '\0'; /* the trailing NUL bytearray keeps */
        return 0;
    }
    return resize_content(content, size);
}

/* Give the pages of a big content buffer that a reallocation moved back to the system. glibc's
 * realloc moves a block it cannot grow in place by malloc, copy and free; once anything freed
 * a mapped block of up to 32 MiB, its dynamic mmap threshold is that high and the old copy is
 * a free heap block that stays resident until the heap's top passes the trim threshold (twice
 * as high): a 64 MiB file written in 1 MiB appends after such a free kept ~28 MiB of its old
 * copy resident (peak resident set 1.43x its size; 1.00x with this). malloc_trim madvises the
 * whole free pages of glibc's heap away, under glibc's arena lock (it walks the free blocks:
 * once per move of a buffer of a MiB or more). Called out of the section the file system's
 * lock guards, with the GIL held and no Python code run (the raw file's write moves its offset
 * after this as one step with the write: see enter_free). Other C libraries: nothing to do. */
static void
give_back_freed(void)
{
    if (!moved_big_content) {
        return;
    }
    moved_big_content = 0;
#ifdef __GLIBC__
    malloc_trim(0);
#endif
}

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23 /* Linux 5.14 */
#endif
#define POPULATED_FROM (256 * 1024) /* writes this long or longer have their pages populated */
static int populate_works = 1;  /* cleared when the kernel refuses MADV_POPULATE_WRITE */

/* Fault in the pages of ``start`` .. ``start + length`` (of a buffer about to be written there)
 * with one madvise(MADV_POPULATE_WRITE), as the kernel gives a tmpfs file its pages in one
 * step: a big write into fresh memory otherwise takes a page fault per 4 KiB, and in a guest
 * under a hypervisor those traps cost more than the copy (1 MiB appends: ~500 us/MiB of faults
 * against tmpfs's ~370 us/MiB for the whole write). Only whole pages inside the range, only for
 * long writes; a kernel without it (EINVAL) is not asked again; any other failure (ENOMEM...)
 * leaves the faults to the copy, which then raises nothing. */
static void
populate(char *start, Py_ssize_t length)
{
    if (!populate_works || length < POPULATED_FROM) {
        return;
    }
    uintptr_t page = page_size();
    uintptr_t first = ((uintptr_t)start + page - 1) & ~(page - 1);
    uintptr_t end = ((uintptr_t)start + (uintptr_t)length) & ~(page - 1);
    if (end > first) {
        int saved = errno;
        if (madvise((void *)first, end - first, MADV_POPULATE_WRITE) < 0 && errno == EINVAL) {
            populate_works = 0;
        }
        errno = saved;
    }
}

/* Write ``length`` bytes at ``bytes`` into the dense content of ``node`` at ``offset`` (the file
 * system lock held): 1 when done, 0 when the case is the Python method's (nothing changed), -1
 * on error. As MemoryFileSystem._write: in place, or growing with no page left out and no
 * size cap. */
static int
write_dense(PyObject *space, PyObject *node, const char *bytes, Py_ssize_t length,
            long long offset)
{
    PyObject *content = SLOT(node, layout.f_data);
    if (content == NULL || !PyByteArray_CheckExact(content)) {
        return 0; /* sparse or mapped */
    }
    long long end = offset + length;
    Py_ssize_t size = PyByteArray_GET_SIZE(content);
    if (end > size) {
        long long used;
        if (SLOT(space, layout.s_max_pages) != Py_None ||
            !exact_long(SLOT(space, layout.s_used_pages), &used)) {
            return 0; /* a size cap: what fits is the Python method's to work out */
        }
        long long have = ((long long)size + 4095) >> 12;
        if (offset > have << 12 || end > PY_SSIZE_T_MAX) {
            return 0; /* it would leave a hole page: the file turns sparse */
        }
        PyObject *counted = PyLong_FromLongLong(used + ((end + 4095) >> 12) - have);
        if (counted == NULL) {
            return -1;
        }
        if (grow_content(content, (Py_ssize_t)end) < 0) {
            Py_DECREF(counted);
            PyErr_Clear(); /* out of memory: the Python method says ENOSPC */
            return 0;
        }
        populate(PyByteArray_AS_STRING(content) + size, (Py_ssize_t)(end - size));
        if (offset > size) {
            memset(PyByteArray_AS_STRING(content) + size, 0, (size_t)(offset - size));
        }
        set_slot(space, layout.s_used_pages, counted);
    }
    memcpy(PyByteArray_AS_STRING(content) + offset, bytes, (size_t)length);
    return 1;
}

/* ``handle.pwrite`` of a MemoryHandle whose file system has ``space`` and the lock with
 * ``acquire`` and ``release``, done here in its common case (a handle that may write, no
 * O_APPEND, a dense regular file without set-ID bits, no size cap): 1 when done (all
 * ``length`` bytes written, the times moved), 0 when the case is the Python method's (nothing
 * changed), -1 on error. */
static int
memory_pwrite(PyObject *space, PyObject *acquire, PyObject *release, PyObject *handle,
              const char *bytes, Py_ssize_t length, long long offset)
{
    long long flags, state, mode;
    PyObject *node = SLOT(handle, layout.h_node);
    if (length <= 0 || offset < 0 || offset > layout.max_file_size - length ||
        !exact_long(SLOT(handle, layout.h_state), &state) || !(state & layout.writer_state) ||
        !exact_long(SLOT(handle, layout.h_flags), &flags) || flags & O_APPEND ||
        node == NULL || !Py_IS_TYPE(node, layout.regular_file) ||
        !exact_long(SLOT(node, layout.i_mode), &mode) || mode & 06000) {
        return 0; /* errors, appends, set-ID bits to clear: the Python method's */
    }
    PyObject *now = PyLong_FromLongLong(now_ns());
    if (now == NULL) {
        return -1;
    }
    /* release NULL: ``acquire`` is the lock's ``locked`` (the raw file's writes, enter_free) */
    int taken = release == NULL ? enter_free(acquire, NULL) : try_lock(acquire);
    if (taken <= 0) {
        Py_DECREF(now);
        return taken;
    }
    int done = write_dense(space, node, bytes, length, offset);
    if (done == 1) {
        set_slot(node, layout.i_mtime, Py_NewRef(now));
        set_slot(node, layout.i_ctime, now);
        set_slot(node, layout.i_stat, Py_NewRef(Py_None));
    }
    else {
        Py_DECREF(now);
    }
    if (release != NULL && unlock(release) < 0) {
        return -1;
    }
    give_back_freed(); /* out of the locked section: no thread waits on it meanwhile */
    return done;
}

static PyObject *
memory_writer_call(MemoryWriter *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    long long offset;
    if (nargs != 2 || kwnames != NULL || !PyBytes_CheckExact(args[0]) ||
        !exact_long(args[1], &offset)) {
        goto python;
    }
    int done = memory_pwrite(self->space, self->fs_acquire, self->fs_release, self->handle,
                             PyBytes_AS_STRING(args[0]), PyBytes_GET_SIZE(args[0]), offset);
    if (done < 0) {
        return NULL;
    }
    if (done == 1) {
        return PyLong_FromSsize_t(PyBytes_GET_SIZE(args[0]));
    }
python:
    return PyObject_Vectorcall(self->python_pwrite, args, nargsf, kwnames);
}

static PyTypeObject *memory_writer_type; /* the module keeps it (m_size -1: never freed) */

/* MemoryWriterApi.write (posixbackend/_memory_writer_api.h), for the SQLite VFS's trampolines. */
static int
memory_writer_write(PyObject *writer, const char *data, Py_ssize_t length, long long offset)
{
    if (Py_TYPE(writer) != memory_writer_type) {
        return 0;
    }
    MemoryWriter *self = (MemoryWriter *)writer;
    if (self->fs_locked != NULL) { /* the lock seen free, not taken: SQLite's page writes */
        return memory_pwrite(self->space, self->fs_locked, NULL, self->handle, data, length,
                             offset);
    }
    return memory_pwrite(self->space, self->fs_acquire, self->fs_release, self->handle, data,
                         length, offset);
}

/* MemoryWriterApi.reserve: room for the writer's dense file to grow to ``size`` bytes with no
 * copy of its content per write (SQLite's size hint before it appends a commit's pages). Only
 * the allocation grows: size, pages counted and times stay as they are. 1 when done, 0 when
 * there is nothing to do or the case is none of this (a sparse or mapped file, a size cap, a
 * buffer exported, the lock busy, no memory: nothing changed), -1 with an exception. */
static int
memory_writer_reserve(PyObject *writer, long long size)
{
    if (Py_TYPE(writer) != memory_writer_type || size <= 0 || size >= PY_SSIZE_T_MAX ||
        size > layout.max_file_size) {
        return 0;
    }
    MemoryWriter *self = (MemoryWriter *)writer;
    PyObject *node = SLOT(self->handle, layout.h_node);
    if (node == NULL || !Py_IS_TYPE(node, layout.regular_file)) {
        return 0;
    }
    /* only C in between (a resize): the lock seen free need not be taken (enter_free) */
    int taken = enter_free(self->fs_locked, self->fs_acquire);
    if (taken <= 0) {
        return taken;
    }
    int done = 0;
    PyObject *content = SLOT(node, layout.f_data);
    /* not under a size cap: writes there are the Python method's (what fits is its to work
     * out), and room past the cap would only be memory no write may use */
    if (content != NULL && PyByteArray_CheckExact(content) &&
        SLOT(self->space, layout.s_max_pages) == Py_None && size > content_capacity(content)) {
        Py_ssize_t have = PyByteArray_GET_SIZE(content);
        if (resize_content(content, (Py_ssize_t)size) == 0) {
            /* back to its own size, the room kept: PyByteArray_Resize's "minor" shrink */
            Py_SET_SIZE(content, have);
            ((PyByteArrayObject *)content)->ob_start[have] = '\0';
            done = 1;
        }
        else {
            PyErr_Clear(); /* exported (BufferError) or no memory: writes grow it as before */
        }
    }
    if (leave_free(self->fs_locked, self->fs_release) < 0) {
        return -1;
    }
    give_back_freed();
    return done;
}

/* -- what a plain absolute path names, for the SQLite VFS's existence checks -------------- */

/* The inode the absolute ``path`` (ASCII, no NUL, no trailing slash) names in the memory file
 * system whose resolver is ``names``, as plain_node finds it (borrowed; the caller holds the
 * file system's lock). NULL with *missing set when a plain name is missing from a directory
 * reached by plain lookups and searchable (where a stat is ENOENT); NULL with *missing clear
 * where the Python path must judge (links, '.', '..', refusals, anything unusual), with an
 * error set only for one. */
static PyObject *
plain_lookup(PyObject *names, PyObject *path, int *missing)
{
    *missing = 0;
    PyObject *check = SLOT(names, layout.r_check);
    PyObject *who = NULL; /* NULL: root, nothing is checked */
    if (check != Py_False) {
        who = SLOT(names, layout.r_who);
        if (check != Py_True || who == NULL || !Py_IS_TYPE(who, layout.identity)) {
            return NULL;
        }
    }
    PyObject *paths = SLOT(names, layout.r_paths);
    PyObject *hit = paths != NULL && PyDict_CheckExact(paths)
        ? PyDict_GetItemWithError(paths, path) : NULL;
    if (hit != NULL) { /* the directory part resolved before: only the last name is looked up */
        if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) < 2) {
            return NULL;
        }
        PyObject *directory = PyTuple_GET_ITEM(hit, 0);
        PyObject *entries = SLOT(directory, layout.dir_entries);
        if (!Py_IS_TYPE(directory, layout.directory) || !searchable(directory, who) ||
            entries == NULL || !PyDict_CheckExact(entries)) {
            return NULL;
        }
        PyObject *node = PyDict_GetItemWithError(entries, PyTuple_GET_ITEM(hit, 1));
        *missing = node == NULL && !PyErr_Occurred();
        return node;
    }
    if (PyErr_Occurred()) {
        return NULL;
    }
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    PyObject *node = SLOT(names, layout.r_root);
    Py_ssize_t start = 1;
    for (Py_ssize_t at = 1; at <= length; at++) {
        if (at < length && text[at] != '/') {
            continue;
        }
        Py_ssize_t size = at - start;
        if (node == NULL || !Py_IS_TYPE(node, layout.directory) || !searchable(node, who) ||
            size == 0 || (text[start] == '.' && (size == 1 || (size == 2 && text[start + 1] == '.')))) {
            return NULL; /* not a directory, not searchable, an empty component, '.', '..' */
        }
        node = entry_of(node, text, start, size);
        if (node == NULL) {
            *missing = !PyErr_Occurred();
            return NULL;
        }
        start = at + 1;
    }
    return node;
}

/* What ``path`` names on the MemoryFileSystem ``fs``, found without Python code: 1 with the
 * inode's mode in *mode and its size in *size (a dense regular file or a directory), 0 when
 * it is missing (where a stat is ENOENT), -2 where the Python path must judge, -1 with an
 * exception. */
static int
memory_lookup(PyObject *fs, PyObject *path, long long *mode, long long *size)
{
    if (!configured || !PyUnicode_CheckExact(path) || !PyUnicode_IS_ASCII(path)) {
        return -2;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    if (length < 2 || length >= 4096 /* vfs.limits.PATH_MAX */ || text[0] != '/' ||
        text[length - 1] == '/' || memchr(text, '\0', length) != NULL) {
        return -2; /* relative, the root, a trailing slash, too long, a NUL */
    }
    PyObject *names = PyObject_GetAttr(fs, str_names);
    if (names == NULL) {
        return -1;
    }
    PyObject *lock = Py_IS_TYPE(names, layout.resolver) ? PyObject_GetAttr(fs, str_lock) : NULL;
    PyObject *acquire = lock == NULL ? NULL : PyObject_GetAttr(lock, str_acquire);
    PyObject *release = lock == NULL ? NULL : PyObject_GetAttr(lock, str_release);
    int result = -2;
    if (acquire != NULL && release != NULL) {
        int taken = try_lock(acquire);
        if (taken > 0) {
            int missing;
            PyObject *node = plain_lookup(names, path, &missing);
            if (node != NULL && Py_IS_TYPE(node, layout.regular_file)) {
                PyObject *content = SLOT(node, layout.f_data);
                if (content != NULL && PyByteArray_CheckExact(content) &&
                    exact_long(SLOT(node, layout.i_mode), mode)) {
                    *size = PyByteArray_GET_SIZE(content);
                    result = 1;
                } /* sparse or mapped: its size is the Python code's to tell */
            }
            else if (node != NULL && Py_IS_TYPE(node, layout.directory)) {
                *size = 0;
                result = exact_long(SLOT(node, layout.i_mode), mode) ? 1 : -2;
            }
            else if (node == NULL && missing) {
                result = 0;
            }
            if (PyErr_Occurred()) {
                result = -1;
            }
            if (unlock(release) < 0) {
                result = -1;
            }
        }
        else if (taken < 0) {
            result = -1;
        }
    }
    else if (PyErr_Occurred()) {
        result = -1;
    }
    Py_DECREF(names);
    Py_XDECREF(lock);
    Py_XDECREF(acquire);
    Py_XDECREF(release);
    return result;
}

/* MemoryWriterApi.exists: SQLite's existence check (SQLITE_ACCESS_EXISTS, as the unix VFS
 * answers it from a stat: a directory, or a regular file that is not empty) of ``path`` on
 * the MemoryFileSystem ``fs``: 1 or 0, -2 where the Python path must judge, -1 with an
 * exception. */
static int
memory_exists(PyObject *fs, PyObject *path)
{
    long long mode, size;
    int found = memory_lookup(fs, path, &mode, &size);
    if (found != 1) {
        return found;
    }
    return (mode & S_IFMT) != S_IFREG || size > 0;
}

PyDoc_STRVAR(memory_mode_doc,
"memory_mode($module, file_system, path, /)\n--\n\n"
"The permission bits (st_mode & 0o7777) of what the absolute ``path`` names on the\n"
"MemoryFileSystem ``file_system`` (a dense regular file or a directory), found without\n"
"Python code: -1 when it is missing (a stat would be ENOENT), -2 where the caller must ask\n"
"the file system itself (links, sparse files, refusals, a busy lock, anything unusual).");

static PyObject *
memory_mode(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "memory_mode(file_system, path)");
        return NULL;
    }
    long long mode, size;
    int found = memory_lookup(args[0], args[1], &mode, &size);
    if (found == -1) {
        return NULL;
    }
    return PyLong_FromLongLong(found == 1 ? (mode & 07777) : (found == 0 ? -1 : -2));
}

/* What the mkdir fast path writes: every slot of a new Directory (a blank one is filled here,
 * as Directory.__init__ and MemoryFileSystem._new would fill it), its parent's entry, links and
 * times (MemoryFileSystem._enter), and the inode count (Space). Kept apart from Layout: its own
 * table, configured by configure_mkdir(). */
typedef struct {
    PyTypeObject *inode;
    PyTypeObject *directory;
    PyTypeObject *space;
    Py_ssize_t i_derived, i_stat, i_atime, i_ctime, i_dev, i_freed, i_gid, i_handles, i_ino,
        i_mode, i_mtime, i_nlink, i_uid;
    Py_ssize_t d_entries, d_listed, d_name, d_parent;
    Py_ssize_t s_used_inodes, s_max_inodes;
} MkdirLayout;

static MkdirLayout mkdir_layout;
static int mkdir_configured = 0;

/* -- a journal's life on a memory file system: made, opened, unlinked without Python code -- */

/* The directory (borrowed) and the last name (a new reference) of the absolute plain ASCII
 * ``path`` on the resolver ``names`` (its file system's lock held): from the path cache, or by
 * plain lookups of the directory part. 1 when found, searchable, and the last name plain; 0
 * where the Python path must judge (an error set only for one). */
static int
plain_parent(PyObject *names, PyObject *path, PyObject **directory, PyObject **name)
{
    PyObject *check = SLOT(names, layout.r_check);
    PyObject *who = NULL; /* NULL: root, nothing is checked */
    if (check != Py_False) {
        who = SLOT(names, layout.r_who);
        if (check != Py_True || who == NULL || !Py_IS_TYPE(who, layout.identity)) {
            return 0;
        }
    }
    PyObject *paths = SLOT(names, layout.r_paths);
    PyObject *hit = paths != NULL && PyDict_CheckExact(paths)
        ? PyDict_GetItemWithError(paths, path) : NULL;
    if (hit != NULL) {
        if (!PyTuple_CheckExact(hit) || PyTuple_GET_SIZE(hit) < 2 ||
            !PyUnicode_CheckExact(PyTuple_GET_ITEM(hit, 1)) ||
            PyUnicode_GET_LENGTH(PyTuple_GET_ITEM(hit, 1)) > 255 /* NAME_MAX, ASCII */) {
            return 0;
        }
        *directory = PyTuple_GET_ITEM(hit, 0);
        *name = Py_NewRef(PyTuple_GET_ITEM(hit, 1));
    }
    else {
        if (PyErr_Occurred()) {
            return 0;
        }
        const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
        Py_ssize_t length = PyUnicode_GET_LENGTH(path);
        Py_ssize_t cut = length - 1;
        while (cut > 0 && text[cut] != '/') {
            cut--;
        }
        Py_ssize_t size = length - cut - 1;
        if (size == 0 || size > 255 / 4 /* NAME_MAX // 4, as _open_quick */ ||
            (text[cut + 1] == '.' && (size == 1 || (size == 2 && text[cut + 2] == '.')))) {
            return 0;
        }
        if (cut == 0) {
            *directory = SLOT(names, layout.r_root);
        }
        else {
            PyObject *head = PyUnicode_Substring(path, 0, cut);
            if (head == NULL) {
                return 0;
            }
            int missing;
            *directory = plain_lookup(names, head, &missing);
            Py_DECREF(head);
            if (*directory == NULL) {
                return 0;
            }
        }
        *name = PyUnicode_Substring(path, cut + 1, length);
        if (*name == NULL) {
            return 0;
        }
    }
    if (*directory == NULL || !Py_IS_TYPE(*directory, layout.directory) ||
        !searchable(*directory, who)) {
        Py_CLEAR(*name);
        return 0;
    }
    return 1;
}

/* The file system ``fs``'s resolver and its lock's bound acquire and release (new references):
 * 1, or 0 where the Python path must do the work (an error set only for one). */
static int
fs_parts(PyObject *fs, PyObject **names, PyObject **acquire, PyObject **release)
{
    *names = *acquire = *release = NULL;
    if (!configured) {
        return 0;
    }
    *names = PyObject_GetAttr(fs, str_names);
    PyObject *lock = *names != NULL && Py_IS_TYPE(*names, layout.resolver)
        ? PyObject_GetAttr(fs, str_lock) : NULL;
    if (lock != NULL) {
        *acquire = PyObject_GetAttr(lock, str_acquire);
        *release = PyObject_GetAttr(lock, str_release);
        Py_DECREF(lock);
    }
    if (*acquire == NULL || *release == NULL) {
        Py_CLEAR(*names);
        Py_CLEAR(*acquire);
        Py_CLEAR(*release);
        return 0;
    }
    return 1;
}

/* Whether ``path`` is absolute, plain ASCII, no NUL, no trailing slash, shorter than PATH_MAX. */
static int
plain_absolute(PyObject *path)
{
    if (!PyUnicode_CheckExact(path) || !PyUnicode_IS_ASCII(path)) {
        return 0;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    return length >= 2 && length < 4096 && text[0] == '/' && text[length - 1] != '/' &&
        memchr(text, '\0', (size_t)length) == NULL;
}

/* MemoryWriterApi.create: MemoryFileSystem.open(path, O_RDWR | O_CREAT, mode) of a name not
 * there yet, the umask aside (the file gets exactly ``mode`` & 0o777, as SQLite's journal
 * gets its database's bits), in the common case of _open_quick: a plain absolute ASCII
 * ``path`` whose directory the caches or plain lookups find, a live directory the caller may
 * write and search, without set-group-ID, no inode cap. Made as _new and _enter make it (the
 * creator's ids, the directory's times; the inode made before the lock is taken, by its
 * class), entered with no call in between. The new MemoryHandle, entered in the inode's
 * handles; NULL with no exception where the Python path must open it (the name exists, or
 * anything unusual), NULL with an exception on error (nothing was made). */
static PyObject *
memory_create(PyObject *fs, PyObject *path, int mode)
{
    /* the inode count, the cap and the listing cache are read and set as FastMkdir's slots */
    if (!mkdir_configured || !plain_absolute(path)) {
        return NULL;
    }
    PyObject *names, *acquire, *release;
    if (!fs_parts(fs, &names, &acquire, &release)) {
        return NULL;
    }
    PyObject *result = NULL;
    PyObject *node = NULL, *handle = NULL, *handles = NULL, *counted = NULL, *now = NULL;
    PyObject *name = NULL, *space = NULL, *inodes = NULL, *dev = NULL, *ino = NULL;
    PyObject *flags = PyLong_FromLong(O_RDWR | O_CREAT);
    space = PyObject_GetAttr(fs, str_space);
    if (space == NULL || flags == NULL || !Py_IS_TYPE(space, layout.space) ||
        !Py_IS_TYPE(space, mkdir_layout.space) ||
        SLOT(space, mkdir_layout.s_max_inodes) != Py_None) {
        goto done; /* an inode cap: the Python path checks it */
    }
    /* The inode, its handle and its set of handles are made before anything is looked at:
     * the class's __init__ runs Python code, where an exception may land (nothing changed
     * then but an inode number used, as when the Python path fails after next(_inodes)). */
    dev = PyObject_GetAttr(fs, str_dev);
    inodes = dev == NULL ? NULL : PyObject_GetAttr(fs, str_inodes);
    ino = inodes == NULL ? NULL : PyIter_Next(inodes);
    now = ino == NULL ? NULL : PyLong_FromLongLong(now_ns());
    PyObject *bits = now == NULL ? NULL : PyLong_FromLong(mode & 0777);
    if (bits != NULL) {
        PyObject *args[4] = {dev, ino, now, bits};
        node = PyObject_Vectorcall((PyObject *)layout.regular_file, args, 4, NULL);
        Py_DECREF(bits);
    }
    handle = node == NULL ? NULL : blank(layout.memory_handle);
    handles = handle == NULL ? NULL : PySet_New(NULL);
    if (handles == NULL || !Py_IS_TYPE(node, layout.regular_file) ||
        SLOT(node, layout.i_handles) != layout.no_handles) {
        goto done;
    }
    int taken = try_lock(acquire);
    if (taken <= 0) {
        goto done;
    }
    PyObject *directory;
    long long used = -1, directory_mode, directory_links;
    PyObject *who = SLOT(names, layout.r_who);
    if (!exact_long(SLOT(space, mkdir_layout.s_used_inodes), &used) ||
        !plain_parent(names, path, &directory, &name) ||
        !Py_IS_TYPE(directory, mkdir_layout.directory) ||
        !exact_long(SLOT(directory, layout.i_mode), &directory_mode) ||
        directory_mode & S_ISGID ||
        !exact_long(SLOT(directory, layout.i_nlink), &directory_links) || directory_links <= 0 ||
        who == NULL || !Py_IS_TYPE(who, layout.identity) ||
        (SLOT(names, layout.r_check) != Py_False && permitted(directory, who, 3) != 1)) {
        unlock(release);
        goto done; /* the Python path says what happens (an error set here is reported) */
    }
    PyObject *entries = SLOT(directory, layout.dir_entries);
    int there = entries == NULL || !PyDict_CheckExact(entries) ? -1
        : PyDict_Contains(entries, name);
    counted = there == 0 ? PyLong_FromLongLong(used + 1) : NULL;
    /* The only call that may fail: entering the name (then the listing cache is dropped). */
    if (counted == NULL || PyDict_SetItem(entries, name, node) < 0) {
        unlock(release);
        goto done; /* exists (the Python path opens it), or an error: nothing was entered */
    }
    set_slot(directory, mkdir_layout.d_listed, Py_NewRef(Py_None));
    /* no call from here on, as _new and _enter: the name, the directory's times, the count */
    set_slot(node, layout.i_uid, Py_NewRef(SLOT(who, layout.who_uid)));
    set_slot(node, layout.i_gid, Py_NewRef(SLOT(who, layout.who_gid)));
    set_slot(directory, layout.i_mtime, Py_NewRef(now));
    set_slot(directory, layout.i_ctime, Py_NewRef(now));
    set_slot(directory, layout.i_stat, Py_NewRef(Py_None));
    set_slot(space, mkdir_layout.s_used_inodes, counted);
    counted = NULL; /* (the slot holds it now) */
    PyObject *state = layout.fast_state[O_RDWR];
    SLOT(handle, layout.h_fs) = Py_NewRef(fs);
    SLOT(handle, layout.h_node) = Py_NewRef(node);
    SLOT(handle, layout.h_flags) = Py_NewRef(flags);
    SLOT(handle, layout.h_opened_as) = Py_NewRef(path);
    SLOT(handle, layout.h_state) = Py_NewRef(state);
    SLOT(handle, layout.h_reader) = Py_NewRef(node);
    set_slot(node, layout.i_handles, Py_NewRef(handles));
    if (PySet_Add(handles, handle) < 0) {
        /* made but not opened, as when the Python path's handles_of(...).add fails */
        unlock(release);
        goto done;
    }
    if (unlock(release) == 0) {
        result = Py_NewRef(handle);
    }
done:
    Py_XDECREF(flags);
    Py_XDECREF(space);
    Py_XDECREF(dev);
    Py_XDECREF(inodes);
    Py_XDECREF(ino);
    Py_XDECREF(now);
    Py_XDECREF(node);
    Py_XDECREF(handle);
    Py_XDECREF(handles);
    Py_XDECREF(counted);
    Py_XDECREF(name);
    Py_DECREF(names);
    Py_DECREF(acquire);
    Py_DECREF(release);
    return result;
}

/* MemoryWriterApi.unlink: MemoryFileSystem.unlink(path) of a dense regular file with one
 * link in the common case of unlink_at: a plain absolute ASCII ``path`` whose directory the
 * caches or plain lookups find, which the caller may write and search (and, in a sticky
 * directory, owns, or whose file it owns, or as root). Done as
 * _detach does it (the entry, link count and space counted change with no call in between;
 * a file no handle holds is freed and its content dropped, as node.clear() drops it). 1 when
 * unlinked, 0 when the name is missing (ENOENT), -2 where the Python path must do it, -1 with
 * an exception (nothing changed). */
static int
memory_unlink(PyObject *fs, PyObject *path)
{
    /* the inode count, the listing cache and ``freed`` are read and set as FastNames' slots */
    if (!mkdir_configured || !plain_absolute(path)) {
        return -2;
    }
    PyObject *names, *acquire, *release;
    if (!fs_parts(fs, &names, &acquire, &release)) {
        return PyErr_Occurred() ? -1 : -2;
    }
    int result = -2;
    PyObject *name = NULL, *space = PyObject_GetAttr(fs, str_space);
    PyObject *now = PyLong_FromLongLong(now_ns());
    PyObject *zero = PyLong_FromLong(0);
    PyObject *empty = PyByteArray_FromStringAndSize(NULL, 0);
    PyObject *inodes_after = NULL, *pages_after = NULL;
    if (space == NULL || now == NULL || zero == NULL || empty == NULL ||
        !Py_IS_TYPE(space, layout.space) || !Py_IS_TYPE(space, mkdir_layout.space)) {
        goto done;
    }
    int taken = try_lock(acquire);
    if (taken <= 0) {
        goto done;
    }
    PyObject *directory, *node = NULL;
    long long directory_mode = 0, links, inodes_used, pages_used;
    PyObject *who = SLOT(names, layout.r_who);
    int usable = exact_long(SLOT(space, mkdir_layout.s_used_inodes), &inodes_used) &&
        exact_long(SLOT(space, layout.s_used_pages), &pages_used);
    if (usable && plain_parent(names, path, &directory, &name) &&
        Py_IS_TYPE(directory, mkdir_layout.directory) &&
        exact_long(SLOT(directory, layout.i_mode), &directory_mode) &&
        who != NULL && Py_IS_TYPE(who, layout.identity) &&
        (SLOT(names, layout.r_check) == Py_False || permitted(directory, who, 3) == 1)) {
        PyObject *entries = SLOT(directory, layout.dir_entries);
        node = entries != NULL && PyDict_CheckExact(entries)
            ? PyDict_GetItemWithError(entries, name) : NULL;
        if (node == NULL && entries != NULL && !PyErr_Occurred()) {
            result = 0; /* missing: ENOENT (a directory searched, written to: no refusal) */
        }
    }
    PyObject *content = node == NULL ? NULL : SLOT(node, layout.f_data);
    PyObject *handles = node == NULL ? NULL : SLOT(node, layout.i_handles);
    long long uid, owner, directory_owner;
    if (content != NULL && Py_IS_TYPE(node, layout.regular_file) &&
        PyByteArray_CheckExact(content) &&
        /* the sticky bit (sticky_forbids): only root, the file's or the directory's owner */
        (!(directory_mode & S_ISVTX) ||
         (exact_long(SLOT(who, layout.who_uid), &uid) &&
          exact_long(SLOT(node, layout.i_uid), &owner) &&
          exact_long(SLOT(directory, layout.i_uid), &directory_owner) &&
          (uid == 0 || uid == owner || uid == directory_owner))) &&
        exact_long(SLOT(node, layout.i_nlink), &links) &&
        links == 1 && handles != NULL &&
        (handles == layout.no_handles || PySet_CheckExact(handles))) {
        Py_INCREF(node); /* kept past its entry */
        int frees = PySet_GET_SIZE(handles) == 0;
        PyObject *freed = frees ? SLOT(node, mkdir_layout.i_freed) : NULL; /* borrowed */
        if (frees) {
            long long pages = (PyByteArray_GET_SIZE(content) + 4095) >> 12;
            inodes_after = PyLong_FromLongLong(inodes_used - 1);
            pages_after = PyLong_FromLongLong(pages_used - pages);
        }
        if ((frees && (freed != Py_False || inodes_after == NULL || pages_after == NULL)) ||
            PyDict_DelItem(SLOT(directory, layout.dir_entries), name) < 0) {
            result = PyErr_Occurred() ? -1 : -2; /* nothing removed */
        }
        else {
            /* no call from here on, as _detach: the listing cache, the link count, the space,
             * the times */
            set_slot(directory, mkdir_layout.d_listed, Py_NewRef(Py_None));
            set_slot(node, layout.i_nlink, Py_NewRef(zero));
            set_slot(node, layout.i_stat, Py_NewRef(Py_None));
            if (frees) {
                set_slot(node, mkdir_layout.i_freed, Py_NewRef(Py_True));
                set_slot(space, layout.s_used_pages, Py_NewRef(pages_after));
                set_slot(space, mkdir_layout.s_used_inodes, Py_NewRef(inodes_after));
                set_slot(node, layout.f_data, Py_NewRef(empty)); /* node.clear() */
            }
            set_slot(directory, layout.i_mtime, Py_NewRef(now));
            set_slot(directory, layout.i_ctime, Py_NewRef(now));
            set_slot(directory, layout.i_stat, Py_NewRef(Py_None));
            set_slot(node, layout.i_ctime, Py_NewRef(now));
            result = 1;
        }
        Py_DECREF(node);
    }
    else if (result != 0 && PyErr_Occurred()) {
        result = -1;
    }
    if (unlock(release) < 0) {
        result = -1;
    }
done:
    if (result == -2 && PyErr_Occurred()) {
        result = -1;
    }
    Py_XDECREF(inodes_after);
    Py_XDECREF(pages_after);
    Py_XDECREF(name);
    Py_XDECREF(space);
    Py_XDECREF(now);
    Py_XDECREF(zero);
    Py_XDECREF(empty);
    Py_DECREF(names);
    Py_DECREF(acquire);
    Py_DECREF(release);
    return result;
}

/* MemoryWriterApi.writer: MemoryWriter(handle), for a handle memory_create made. */
static PyObject *
memory_writer_of(PyObject *handle)
{
    return PyObject_CallOneArg((PyObject *)memory_writer_type, handle);
}

/* The open, not O_PATH, handle of the MemoryWriter ``writer`` (borrowed), or NULL where the
 * handle's Python method must answer (not a MemoryWriter, closed, O_PATH: its EBADF). */
static PyObject *
usable_handle(PyObject *writer)
{
    if (Py_TYPE(writer) != memory_writer_type) {
        return NULL;
    }
    PyObject *handle = ((MemoryWriter *)writer)->handle;
    long long state, flags;
    if (!exact_long(SLOT(handle, layout.h_state), &state) || !(state & layout.open_state) ||
        !exact_long(SLOT(handle, layout.h_flags), &flags) || flags & O_PATH) {
        return NULL;
    }
    return handle;
}

/* MemoryWriterApi.size: handle.size() of the writer's handle, a dense regular file's: the
 * size, or -2 where the handle's method must answer. */
static long long
memory_writer_size(PyObject *writer)
{
    PyObject *handle = usable_handle(writer);
    PyObject *node = handle == NULL ? NULL : SLOT(handle, layout.h_node);
    PyObject *content = node == NULL || !Py_IS_TYPE(node, layout.regular_file)
        ? NULL : SLOT(node, layout.f_data);
    if (content == NULL || !PyByteArray_CheckExact(content)) {
        return -2; /* sparse or mapped (its memfd's size under the lock): the method's */
    }
    return PyByteArray_GET_SIZE(content);
}

/* MemoryWriterApi.sync: handle.sync() of the writer's handle (nothing to write back in
 * memory): 1 when done, 0 where the handle's method must answer (its EBADF). */
static int
memory_writer_sync(PyObject *writer)
{
    return usable_handle(writer) != NULL;
}

/* MemoryWriterApi.close: MemoryHandle.close() of a handle ``create`` gave, while its file is
 * still linked: the handle closed, its inode's set of handles given back when it empties
 * (all under the file system's lock). 1 when done, 0 where the handle's method must close it
 * (the lock busy, an unlinked file to free, anything unusual: nothing changed), -1 with an
 * exception. */
static int
memory_handle_close(PyObject *handle)
{
    if (!configured || !Py_IS_TYPE(handle, layout.memory_handle)) {
        return 0;
    }
    PyObject *fs = SLOT(handle, layout.h_fs);
    PyObject *node = SLOT(handle, layout.h_node);
    PyObject *zero = PyLong_FromLong(0);
    PyObject *lock = fs == NULL ? NULL : PyObject_GetAttr(fs, str_lock);
    PyObject *acquire = lock == NULL ? NULL : PyObject_GetAttr(lock, str_acquire);
    PyObject *release = lock == NULL ? NULL : PyObject_GetAttr(lock, str_release);
    Py_XDECREF(lock);
    int result = 0;
    if (zero == NULL || acquire == NULL || release == NULL || node == NULL) {
        result = PyErr_Occurred() ? -1 : 0;
        goto done;
    }
    int taken = try_lock(acquire);
    if (taken <= 0) {
        result = taken;
        goto done;
    }
    long long state, links;
    PyObject *handles = SLOT(node, layout.i_handles);
    if (exact_long(SLOT(handle, layout.h_state), &state) && state & layout.open_state &&
        exact_long(SLOT(node, layout.i_nlink), &links) && links > 0 && handles != NULL &&
        PySet_CheckExact(handles)) {
        int gone = PySet_Discard(handles, handle);
        if (gone >= 0) {
            set_slot(handle, layout.h_state, Py_NewRef(zero));
            set_slot(handle, layout.h_reader, Py_NewRef(Py_None));
            if (PySet_GET_SIZE(handles) == 0) { /* the empty set given back (handles_of) */
                set_slot(node, layout.i_handles, Py_NewRef(layout.no_handles));
            }
            result = 1;
        }
        else {
            result = -1;
        }
    }
    if (unlock(release) < 0) {
        result = -1;
    }
done:
    Py_XDECREF(zero);
    Py_XDECREF(acquire);
    Py_XDECREF(release);
    return result;
}

/* MemoryWriterApi.read: handle.pread(length, offset) of the writer's handle into ``buffer``,
 * in its common case (a handle that reads the common way, a dense file, 1 to 65536 bytes):
 * the bytes copied (fewer at the end of the file), atime moved by the relatime rule as
 * Inode.accessed moves it (under the file system's lock); -2 where the handle's method must
 * read (nothing changed: the lock busy, anything unusual), -1 with an exception. */
static Py_ssize_t
memory_writer_read(PyObject *writer, char *buffer, Py_ssize_t length, long long offset)
{
    if (Py_TYPE(writer) != memory_writer_type || length <= 0 || length > 65536 || offset < 0) {
        return -2;
    }
    MemoryWriter *self = (MemoryWriter *)writer;
    PyObject *node = SLOT(self->handle, layout.h_reader);
    PyObject *content = node == NULL || !Py_IS_TYPE(node, layout.regular_file)
        ? NULL : SLOT(node, layout.f_data);
    long long atime, mtime, ctime;
    if (content == NULL || !PyByteArray_CheckExact(content) ||
        !exact_long(SLOT(node, layout.i_atime), &atime) ||
        !exact_long(SLOT(node, layout.i_mtime), &mtime) ||
        !exact_long(SLOT(node, layout.i_ctime), &ctime)) {
        return -2;
    }
    long long now = now_ns();
    PyObject *stamp = NULL;
    if (atime <= mtime || atime <= ctime || now - atime >= DAY_NS) { /* relatime */
        stamp = PyLong_FromLongLong(now);
        if (stamp == NULL) {
            return -1;
        }
        int taken = enter_free(self->fs_locked, self->fs_acquire); /* only C inside */
        if (taken <= 0) {
            Py_DECREF(stamp);
            return taken < 0 ? -1 : -2;
        }
    }
    Py_ssize_t count = readable_count(content, offset, length);
    if (count > 0) {
        memcpy(buffer, PyByteArray_AS_STRING(content) + offset, (size_t)count);
    }
    if (stamp != NULL) {
        set_slot(node, layout.i_atime, stamp);
        set_slot(node, layout.i_stat, Py_NewRef(Py_None));
        if (leave_free(self->fs_locked, self->fs_release) < 0) {
            return -1;
        }
    }
    return count;
}

/* MemoryWriterApi.mode: memory_mode's answer in C (-3 with an exception). */
static int
memory_bits(PyObject *fs, PyObject *path)
{
    long long mode, size;
    int found = memory_lookup(fs, path, &mode, &size);
    return found == 1 ? (int)(mode & 07777) : (found == 0 ? -1 : (found == -2 ? -2 : -3));
}

static const MemoryWriterApi memory_writer_api = {
    memory_writer_write, memory_writer_reserve, memory_exists, memory_create, memory_unlink,
    memory_writer_of, memory_bits, memory_writer_size, memory_writer_sync, memory_handle_close,
    memory_writer_read};

static PyObject *
memory_writer_vectorcall(PyObject *self, PyObject *const *args, size_t nargsf,
                         PyObject *kwnames)
{
    return memory_writer_call((MemoryWriter *)self, args, nargsf, kwnames);
}

static PyObject *
memory_writer_tp_call(PyObject *self, PyObject *args, PyObject *kwargs)
{
    return PyVectorcall_Call(self, args, kwargs);
}

static PyMemberDef memory_writer_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(MemoryWriter, vectorcall), Py_READONLY,
     NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(memory_writer_reserve_doc,
"reserve($self, size, /)\n--\n\n"
"Make room for the file to grow to ``size`` bytes without a copy of its content per write\n"
"(what the SQLite VFS does with SQLite's size hint); nothing a reader sees changes. Whether\n"
"room was made (False: nothing to do, or not a dense file, a buffer exported, the lock busy).");

static PyObject *
memory_writer_reserve_method(PyObject *self, PyObject *size)
{
    long long wanted = PyLong_AsLongLong(size);
    if (wanted == -1 && PyErr_Occurred()) {
        return NULL;
    }
    int done = memory_writer_reserve(self, wanted);
    if (done < 0) {
        return NULL;
    }
    return PyBool_FromLong(done);
}

static PyMethodDef memory_writer_methods[] = {
    {"reserve", memory_writer_reserve_method, METH_O, memory_writer_reserve_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(memory_writer_doc,
"MemoryWriter(handle)\n--\n\n"
"``writer(data, offset)`` is ``handle.pwrite(data, offset)`` for a MemoryHandle, its common\n"
"case (bytes into a dense file, no size cap, no set-ID bits) done in C; the rest, errors\n"
"included, by the handle's own method.");

static PyType_Slot memory_writer_slots[] = {
    {Py_tp_doc, (void *)memory_writer_doc},
    {Py_tp_new, memory_writer_new},
    {Py_tp_dealloc, memory_writer_dealloc},
    {Py_tp_traverse, memory_writer_traverse},
    {Py_tp_clear, memory_writer_clear},
    {Py_tp_call, memory_writer_tp_call},
    {Py_tp_members, memory_writer_members},
    {Py_tp_methods, memory_writer_methods},
    {0, NULL},
};

/* -- RawFileBase: the raw file of open() on emulated descriptors ---------------------------- */

/* An accelerated backend's FileIO derives from ``FastBoundRawFile(RawFileBase, BoundRawFile)``
 * (posixbackend/emulated/accelerator.py): the C methods below come first and do the common case
 * (a memory file behind an accelerated backend's descriptor) on RawFile's own __slots__, found
 * by configure_raw_file(); every other case calls RawFile's Python method with the same
 * arguments, so behaviour and errors stay that code's. The C base adds no fields: its layout
 * is _io._RawIOBase's, so RawFile's slots sit after it as usual.
 *
 * Offsets: a fast path reads a description's offset only when no call holds it (``busy`` is
 * False) and stores the new one before any Python code can run (buffers are taken before the
 * offset is looked at and let go after it moved), so a read or write and its move are one step
 * for every other thread and no exception can land between them. A descriptor the object gets
 * from ``open`` is in its slot before anything else runs, and closed again on any error. */

typedef struct {
    PyTypeObject *raw_file;  /* RawFile, whose slots the methods use */
    Py_ssize_t fd, os, created, readable, writable, appending, seekable, closefd, finalizing,
        blksize;
    PyObject *python;         /* RawFile's Python methods by name */
    PyObject *iobase_close;   /* _io._IOBase.close: flush and mark closed */
    PyObject *closed;         /* RawFile.closed, the property (its setter refuses) */
    PyObject *block_size;     /* st_blksize of a memory file */
    PyObject *flags[4];       /* the open flags of 'r', 'w', 'a', 'x' (O_CLOEXEC included) */
    long plus_flag;           /* O_RDWR, replacing the access mode for '+' */
} RawLayout;

static RawLayout raw;
static int raw_configured = 0;

/* The slots of RawFile the raw file's methods read (RawFile.__accelerated_slots__). */
#define READ(role, slot, field) SLOT_READ(RawLayout, role, slot, field)
static const SlotRead raw_reads[] = {
    READ(raw_file, "_fd", fd),
    READ(raw_file, "_os", os),
    READ(raw_file, "_created", created),
    READ(raw_file, "_readable", readable),
    READ(raw_file, "_writable", writable),
    READ(raw_file, "_appending", appending),
    READ(raw_file, "_seekable", seekable),
    READ(raw_file, "_closefd", closefd),
    READ(raw_file, "_finalizing", finalizing),
    READ(raw_file, "_blksize", blksize),
};
#undef READ
#define RAW_READS (sizeof(raw_reads) / sizeof(raw_reads[0]))
static PyTypeObject *fast_paths_type;  /* FastPaths, to know a backend's fast methods */
static PyObject *str_init, *str_readinto, *str_readall, *str_write, *str_tell, *str_seek,
    *str_close_method, *str_fileno, *str_readable, *str_writable, *str_seekable, *str_isatty,
    *str_finish_open, *str_internal_close, *str_os_module, *str_default_os, *str_python_init,
    *str_name, *str_read, *str_open, *str_set, *str_delete;

/* Whether ``self`` carries RawFile's slots (else a TypeError is set). */
static inline int
raw_file_check(PyObject *self)
{
    if (raw_configured && PyObject_TypeCheck(self, raw.raw_file)) {
        return 1;
    }
    PyErr_Format(PyExc_TypeError, "RawFileBase methods need a RawFile, not '%.200s'",
                 Py_TYPE(self)->tp_name);
    return 0;
}

/* RawFile's Python method ``name`` called on ``self`` with the given arguments. */
static PyObject *
python_method(PyObject *name, PyObject *self, PyObject *const *args, Py_ssize_t nargs,
              PyObject *kwnames)
{
    PyObject *function = PyDict_GetItemWithError(raw.python, name);
    if (function == NULL) {
        if (!PyErr_Occurred()) {
            PyErr_SetObject(PyExc_AttributeError, name);
        }
        return NULL;
    }
    Py_ssize_t total = nargs + (kwnames ? PyTuple_GET_SIZE(kwnames) : 0);
    PyObject *small[8];
    PyObject **stack = small;
    if (total + 1 > 8) {
        stack = PyMem_Malloc((size_t)(total + 1) * sizeof(PyObject *));
        if (stack == NULL) {
            return PyErr_NoMemory();
        }
    }
    stack[0] = self;
    for (Py_ssize_t i = 0; i < total; i++) {
        stack[i + 1] = args[i];
    }
    PyObject *result = PyObject_Vectorcall(function, stack, nargs + 1, kwnames);
    if (stack != small) {
        PyMem_Free(stack);
    }
    return result;
}

/* The open descriptor number in ``self`` (an exact int >= 0, borrowed), or NULL. */
static inline PyObject *
open_fd(PyObject *self, long long *fd)
{
    PyObject *number = SLOT(self, raw.fd);
    if (!exact_long(number, fd) || *fd < 0) {
        return NULL;
    }
    return number;
}

/* The FastPaths behind ``self``'s os-like object (a new reference), or NULL (no error) when
 * it is not an accelerated backend. */
static PyObject *
fast_paths_of(PyObject *osm)
{
    if (osm == NULL) {
        return NULL;
    }
    PyObject *read = PyObject_GetAttr(osm, str_read);
    if (read == NULL) {
        PyErr_Clear();
        return NULL;
    }
    PyObject *fast = NULL;
    if (PyCFunction_Check(read)) {
        PyObject *owner = PyCFunction_GET_SELF(read);
        if (owner != NULL && Py_IS_TYPE(owner, fast_paths_type)) {
            fast = Py_NewRef(owner);
        }
    }
    Py_DECREF(read);
    return fast;
}

static inline PyObject *
raw_fast_paths(PyObject *self)
{
    return fast_paths_of(SLOT(self, raw.os));
}

/* The memory handle behind a FileDescription, or NULL. */
static inline PyObject *
memory_handle_of(PyObject *description)
{
    PyObject *handle = SLOT(description, layout.d_handle);
    return handle != NULL && Py_IS_TYPE(handle, layout.memory_handle) ? handle : NULL;
}

/* Raise ``error`` (fetched) again with the current exception as its __context__ when there is
 * one, as an exception raised in a ``finally`` block: the later one wins, chained. */
static void
chain_errors(PyObject *type, PyObject *value, PyObject *traceback)
{
    if (type == NULL) {
        return;
    }
    if (!PyErr_Occurred()) {
        PyErr_Restore(type, value, traceback);
        return;
    }
    PyObject *type2, *value2, *traceback2;
    PyErr_NormalizeException(&type, &value, &traceback);
    if (traceback != NULL) {
        PyException_SetTraceback(value, traceback);
    }
    PyErr_Fetch(&type2, &value2, &traceback2);
    PyErr_NormalizeException(&type2, &value2, &traceback2);
    PyException_SetContext(value2, value); /* steals value */
    Py_DECREF(type);
    Py_XDECREF(traceback);
    PyErr_Restore(type2, value2, traceback2);
}

/* Forget the descriptor first, then close it through the os-like object (RawFile's
 * _internal_close: a failing close is never retried). */
static int
raw_internal_close(PyObject *self)
{
    PyObject *fd = SLOT(self, raw.fd);
    long long number;
    if (fd == NULL || !exact_long(fd, &number)) {
        /* an odd value: RawFile's own method compares (and raises) */
        PyObject *result = python_method(str_internal_close, self, NULL, 0, NULL);
        Py_XDECREF(result);
        return result == NULL ? -1 : 0;
    }
    SLOT(self, raw.fd) = PyLong_FromLong(-1); /* a cached small int: cannot fail */
    int failed = 0;
    if (number >= 0) {
        PyObject *osm = SLOT(self, raw.os);
        PyObject *result = NULL;
        if (osm == NULL) {
            PyErr_SetString(PyExc_AttributeError, "_os");
        }
        else {
            result = PyObject_CallMethodOneArg(osm, str_close, fd);
        }
        failed = result == NULL;
        Py_XDECREF(result);
    }
    Py_DECREF(fd);
    return failed ? -1 : 0;
}

/* Parse a raw mode the common way ('r', 'w', 'a', 'x', each maybe with '+' and 'b'): the open
 * flags (a new reference) and what it asks for; NULL without an error for anything else
 * (including every invalid mode: RawFile's Python code gives the error). */
static PyObject *
parse_raw_mode(PyObject *mode, int *created, int *readable, int *writable, int *appending)
{
    if (!PyUnicode_CheckExact(mode) || !PyUnicode_IS_ASCII(mode)) {
        return NULL;
    }
    const char *text = (const char *)PyUnicode_DATA(mode);
    Py_ssize_t length = PyUnicode_GET_LENGTH(mode);
    int letter = -1, plus = 0, binary = 0;
    for (Py_ssize_t i = 0; i < length; i++) {
        int found = -1;
        switch (text[i]) {
        case 'r': found = 0; break;
        case 'w': found = 1; break;
        case 'a': found = 2; break;
        case 'x': found = 3; break;
        case '+':
            if (plus++) {
                return NULL;
            }
            continue;
        case 'b':
            if (binary++) {
                return NULL; /* allowed by FileIO, but rare: the Python code serves it */
            }
            continue;
        default:
            return NULL;
        }
        if (letter >= 0) {
            return NULL;
        }
        letter = found;
    }
    if (letter < 0) {
        return NULL;
    }
    *created = letter == 3;
    *readable = letter == 0 || plus;
    *writable = letter != 0 || plus;
    *appending = letter == 2;
    long long flags;
    if (!exact_long(raw.flags[letter], &flags)) {
        return NULL;
    }
    if (plus) {
        flags = (flags & ~(long long)O_ACCMODE) | raw.plus_flag;
    }
    return PyLong_FromLongLong(flags);
}

/* The end of RawFile.__init__ for a memory file of an accelerated backend: no fstat to ask
 * (a regular file, st_blksize the memory file system's), the name set. 1 when done, 0 when
 * RawFile._finish_open must do it, -1 on error. */
static int
finish_memory_open(PyObject *self, PyObject *file, PyObject *fast)
{
    long long fd;
    PyObject *number = open_fd(self, &fd);
    if (number == NULL || SLOT(self, raw.appending) != Py_False) {
        return 0;
    }
    PyObject *description = file_description((FastPaths *)fast, number);
    PyObject *handle = description ? memory_handle_of(description) : NULL;
    PyObject *node = handle ? SLOT(handle, layout.h_node) : NULL;
    if (node == NULL || !Py_IS_TYPE(node, layout.regular_file)) {
        return 0;
    }
    if (PyObject_SetAttr(self, str_name, file) < 0) {
        return -1;
    }
    set_slot(self, raw.blksize, Py_NewRef(raw.block_size));
    return 1;
}

/* RawFile.__init__(file, mode='r', closefd=True, opener=None, *, os_module): a path opened by
 * an accelerated backend without Python frames; the rest by the Python method. The os-like
 * object defaults to the class's ``_default_os`` (the backend a FileIO class is bound to). */
static int
raw_init(PyObject *self, PyObject *args, PyObject *kwargs)
{
    if (!raw_file_check(self)) {
        return -1;
    }
    PyObject *osm = NULL;
    Py_ssize_t nargs = PyTuple_GET_SIZE(args);
    int fast = nargs >= 1 && nargs <= 4;
    if (kwargs != NULL && PyDict_GET_SIZE(kwargs)) {
        osm = PyDict_GetItemWithError(kwargs, str_os_module);
        if (osm == NULL && PyErr_Occurred()) {
            return -1;
        }
        fast = fast && osm != NULL && PyDict_GET_SIZE(kwargs) == 1;
    }
    PyObject *owned_os = PyObject_GetAttr((PyObject *)Py_TYPE(self), str_default_os);
    if (owned_os == NULL) {
        PyErr_Clear(); /* not bound to a backend: os_module is required */
    }
    else {
        /* a class bound to a backend takes FileIO's arguments only */
        fast = fast && (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0);
        osm = owned_os;
    }
    PyObject *os_fast = fast && osm != NULL ? fast_paths_of(osm) : NULL;
    fast = os_fast != NULL;
    Py_XDECREF(os_fast); /* only whether there is one: the os-like object keeps it */
    PyObject *file = nargs >= 1 ? PyTuple_GET_ITEM(args, 0) : NULL;
    PyObject *mode = nargs >= 2 ? PyTuple_GET_ITEM(args, 1) : NULL;
    long long previous;
    int created = 0, readable = 1, writable = 0, appending = 0;
    PyObject *flags = NULL;
    if (fast) {
        fast = PyUnicode_CheckExact(file) && PyUnicode_IS_ASCII(file) &&
               PyUnicode_GET_LENGTH(file) > 0 &&
               PyUnicode_FindChar(file, 0, 0, PyUnicode_GET_LENGTH(file), 1) == -1 &&
               (nargs < 3 || PyTuple_GET_ITEM(args, 2) == Py_True) &&
               (nargs < 4 || PyTuple_GET_ITEM(args, 3) == Py_None) &&
               exact_long(SLOT(self, raw.fd), &previous) && previous == -1;
    }
    if (fast) {
        PyObject *mode_text = mode ? Py_NewRef(mode) : PyUnicode_FromString("r");
        if (mode_text == NULL) {
            Py_XDECREF(owned_os);
            return -1;
        }
        flags = parse_raw_mode(mode_text, &created, &readable, &writable, &appending);
        Py_DECREF(mode_text);
        if (flags == NULL && PyErr_Occurred()) {
            Py_XDECREF(owned_os);
            return -1;
        }
        fast = flags != NULL;
    }
    if (!fast) {
        /* Everything else: RawFile.__init__ with the same arguments, or for a class bound to
         * a backend its _python_init (FileIO's signature, as the pure-Python class's). */
        PyObject *function = owned_os == NULL
            ? Py_XNewRef(PyDict_GetItemWithError(raw.python, str_init))
            : PyObject_GetAttr((PyObject *)Py_TYPE(self), str_python_init);
        Py_XDECREF(owned_os);
        if (function == NULL) {
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_AttributeError, "RawFile.__init__");
            }
            return -1;
        }
        PyObject *bound = PyTuple_New(nargs + 1);
        PyObject *result = NULL;
        if (bound != NULL) {
            PyTuple_SET_ITEM(bound, 0, Py_NewRef(self));
            for (Py_ssize_t i = 0; i < nargs; i++) {
                PyTuple_SET_ITEM(bound, i + 1, Py_NewRef(PyTuple_GET_ITEM(args, i)));
            }
            result = PyObject_Call(function, bound, kwargs);
        }
        Py_XDECREF(bound);
        Py_DECREF(function);
        Py_XDECREF(result);
        return result == NULL ? -1 : 0;
    }
    /* As RawFile.__init__: the mode recorded, the os-like object kept, the audit event, the
     * open; from the moment it has a descriptor the object owns it (closed on any error). */
    /* added to what an earlier, failed __init__ recorded, as RawFile._take_mode does */
    created |= SLOT(self, raw.created) == Py_True;
    readable |= SLOT(self, raw.readable) == Py_True;
    writable |= SLOT(self, raw.writable) == Py_True;
    appending |= SLOT(self, raw.appending) == Py_True;
    set_slot(self, raw.created, Py_NewRef(created ? Py_True : Py_False));
    set_slot(self, raw.readable, Py_NewRef(readable ? Py_True : Py_False));
    set_slot(self, raw.writable, Py_NewRef(writable ? Py_True : Py_False));
    set_slot(self, raw.appending, Py_NewRef(appending ? Py_True : Py_False));
    set_slot(self, raw.closefd, Py_NewRef(Py_True));
    set_slot(self, raw.os, Py_NewRef(osm));
    Py_XDECREF(owned_os);
    PyObject *mode_object = mode ? Py_NewRef(mode) : PyUnicode_FromString("r");
    if (mode_object == NULL) {
        Py_DECREF(flags);
        return -1;
    }
    int audited = PySys_Audit("open", "OOO", file, mode_object, flags);
    Py_DECREF(mode_object);
    if (audited < 0) {
        Py_DECREF(flags);
        return -1;
    }
    PyObject *mode_bits = PyLong_FromLong(0666);
    if (mode_bits == NULL) {
        Py_DECREF(flags);
        return -1;
    }
    PyObject *call[3] = {file, flags, mode_bits};
    PyObject *fd;
    for (;;) {
        PyObject *method = PyObject_GetAttr(osm, str_open);
        fd = method ? PyObject_Vectorcall(method, call, 3, NULL) : NULL;
        Py_XDECREF(method);
        if (fd != NULL || !PyErr_ExceptionMatches(PyExc_InterruptedError)) {
            break;
        }
        PyErr_Clear();
        if (PyErr_CheckSignals() < 0) {
            break;
        }
    }
    Py_DECREF(mode_bits);
    Py_DECREF(flags);
    if (fd == NULL) {
        return -1;
    }
    set_slot(self, raw.fd, fd);
    PyObject *fast_paths = raw_fast_paths(self);
    int done = fast_paths ? finish_memory_open(self, file, fast_paths) : 0;
    Py_XDECREF(fast_paths);
    if (done == 0) {
        PyObject *result = python_method(str_finish_open, self, &file, 1, NULL);
        done = result == NULL ? -1 : 1;
        Py_XDECREF(result);
    }
    if (done < 0) {
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        raw_internal_close(self);
        chain_errors(type, value, traceback);
        return -1;
    }
    return 0;
}

#define RAW_METHOD(name) \
    static PyObject *name(PyObject *self, PyObject *const *args, Py_ssize_t nargs, \
                          PyObject *kwnames)

/* Call RawFile's method of the same name with the arguments as given. */
#define PYTHON(name) return python_method(name, self, args, nargs, kwnames)

RAW_METHOD(raw_readinto)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd, offset;
    PyObject *number = open_fd(self, &fd);
    if (nargs != 1 || kwnames != NULL || number == NULL ||
        SLOT(self, raw.readable) != Py_True) {
        PYTHON(str_readinto);
    }
    PyObject *fast = raw_fast_paths(self);
    if (fast == NULL) {
        PYTHON(str_readinto);
    }
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_WRITABLE | PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear(); /* the Python method refuses it with the C class's message */
        Py_DECREF(fast);
        PYTHON(str_readinto);
    }
    PyObject *description, *content, *result = NULL;
    int source = view.len > 0 ? memory_read_source((FastPaths *)fast, number, &description,
                                                   &content, &offset)
                              : 0;
    if (source < 0) {
        PyBuffer_Release(&view);
        Py_DECREF(fast);
        return NULL;
    }
    if (source) {
        Py_ssize_t count = readable_count(content, offset, view.len);
        if (count) {
            memcpy(view.buf, PyByteArray_AS_STRING(content) + offset, (size_t)count);
        }
        result = advance_offset(description, offset, count) < 0 ? NULL
                                                                : PyLong_FromSsize_t(count);
        PyBuffer_Release(&view);
        Py_DECREF(fast);
        return result;
    }
    PyBuffer_Release(&view);
    Py_DECREF(fast);
    PYTHON(str_readinto);
}

RAW_METHOD(raw_readall)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd, offset;
    PyObject *number = open_fd(self, &fd);
    PyObject *fast = number && nargs == 0 && kwnames == NULL ? raw_fast_paths(self) : NULL;
    if (fast == NULL) {
        PYTHON(str_readall);
    }
    PyObject *description, *content;
    int source = memory_read_source((FastPaths *)fast, number, &description, &content, &offset);
    if (source <= 0) {
        Py_DECREF(fast);
        if (source < 0) {
            return NULL;
        }
        PYTHON(str_readall);
    }
    /* What the loop of reads would get: the rest of the file, then nothing (atime moved at
     * most once, by memory_read_source, as by the loop's first read: relatime leaves it after). */
    Py_ssize_t count = readable_count(content, offset, PY_SSIZE_T_MAX);
    PyObject *data = PyBytes_FromStringAndSize(
        count ? PyByteArray_AS_STRING(content) + offset : NULL, count);
    if (data != NULL && advance_offset(description, offset, count) < 0) {
        Py_CLEAR(data);
    }
    Py_DECREF(fast);
    return data;
}

RAW_METHOD(raw_write)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd, offset, flags;
    PyObject *number = open_fd(self, &fd);
    if (nargs != 1 || kwnames != NULL || number == NULL ||
        SLOT(self, raw.writable) != Py_True) {
        PYTHON(str_write);
    }
    PyObject *fast = raw_fast_paths(self);
    if (fast == NULL) {
        PYTHON(str_write);
    }
    /* The buffer first: getting it may run Python code (a class with __buffer__), which
     * must come before the offset is looked at, never between the look and the move. */
    Py_buffer view;
    if (PyObject_GetBuffer(args[0], &view, PyBUF_C_CONTIGUOUS) < 0) {
        PyErr_Clear(); /* the Python method refuses it with the C class's message */
        Py_DECREF(fast);
        PYTHON(str_write);
    }
    FastPaths *paths = (FastPaths *)fast;
    PyObject *description = paths->fs ? file_description(paths, number) : NULL;
    PyObject *handle = description ? memory_handle_of(description) : NULL;
    PyObject *position = description ? free_offset(description) : NULL;
    if (handle == NULL || SLOT(handle, layout.h_fs) != paths->fs ||
        position == NULL || !exact_long(position, &offset) ||
        !exact_long(SLOT(description, layout.d_flags), &flags) || flags & O_APPEND) {
        PyBuffer_Release(&view);
        Py_DECREF(fast);
        PYTHON(str_write);
    }
    /* The offset was found free and no Python code runs until it is moved: the write and the
     * move are one step for every other thread, as FileDescription.write's busy flag makes
     * them for the Python path. */
    int done = paths->fs_locked
        ? memory_pwrite(paths->space, paths->fs_locked, NULL, handle, view.buf, view.len, offset)
        : memory_pwrite(paths->space, paths->fs_acquire, paths->fs_release, handle, view.buf,
                        view.len, offset);
    Py_ssize_t length = view.len;
    if (done == 1 && advance_offset(description, offset, length) < 0) {
        done = -1; /* (only a MemoryError: the int for the new offset) */
    }
    PyBuffer_Release(&view); /* after the move: a buffer's release may run Python code */
    Py_DECREF(fast);
    if (done < 0) {
        return NULL;
    }
    if (done == 0) {
        PYTHON(str_write);
    }
    return PyLong_FromSsize_t(length);
}

/* The free offset of ``self``'s memory-file description (borrowed) and the description, or
 * NULL when the Python code must move it. */
static PyObject *
raw_offset(PyObject *self, PyObject **description_out)
{
    long long fd, flags;
    PyObject *number = open_fd(self, &fd);
    PyObject *fast = number ? raw_fast_paths(self) : NULL;
    if (fast == NULL) {
        return NULL;
    }
    PyObject *description = file_description((FastPaths *)fast, number);
    Py_DECREF(fast);
    if (description == NULL || !exact_long(SLOT(description, layout.d_flags), &flags) ||
        flags & O_PATH) {
        return NULL;
    }
    *description_out = description;
    return free_offset(description);
}

/* What portable_lseek records once a seek worked: the file can seek. */
static inline void
mark_seekable(PyObject *self)
{
    long long known;
    if (!exact_long(SLOT(self, raw.seekable), &known) || known < 0) {
        set_slot(self, raw.seekable, PyLong_FromLong(1));
    }
}

RAW_METHOD(raw_tell)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    PyObject *description;
    PyObject *offset = nargs == 0 && kwnames == NULL ? raw_offset(self, &description) : NULL;
    if (offset == NULL) {
        PYTHON(str_tell);
    }
    mark_seekable(self);
    return Py_NewRef(offset);
}

RAW_METHOD(raw_seek)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long position, whence = 0;
    if (nargs < 1 || nargs > 2 || kwnames != NULL || !exact_long(args[0], &position) ||
        (nargs == 2 && (!PyLong_CheckExact(args[1]) || !exact_long(args[1], &whence))) ||
        (whence == SEEK_SET ? position < 0 : whence != SEEK_CUR || position != 0)) {
        PYTHON(str_seek); /* the common ones: seek(n) and seek(0, SEEK_CUR) */
    }
    PyObject *description;
    PyObject *offset = raw_offset(self, &description);
    if (offset == NULL) {
        PYTHON(str_seek);
    }
    mark_seekable(self);
    if (whence == SEEK_CUR) {
        return Py_NewRef(offset);
    }
    set_offset(description, Py_NewRef(args[0]));
    return Py_NewRef(args[0]);
}

RAW_METHOD(raw_close)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    if (nargs != 0 || kwnames != NULL || SLOT(self, raw.closefd) != Py_True ||
        SLOT(self, raw.finalizing) != Py_False) {
        PYTHON(str_close_method); /* not ours to close, or a finalizer's close that warns */
    }
    /* try: IOBase.close(self) (flush, mark closed) finally: close the descriptor */
    PyObject *result = PyObject_CallOneArg(raw.iobase_close, self);
    PyObject *type = NULL, *value = NULL, *traceback = NULL;
    if (result == NULL) {
        PyErr_Fetch(&type, &value, &traceback);
    }
    if (raw_internal_close(self) < 0) {
        Py_CLEAR(result);
    }
    chain_errors(type, value, traceback);
    if (result == NULL) {
        return NULL;
    }
    Py_DECREF(result);
    Py_RETURN_NONE;
}

/* fileno, readable, writable: the answer from a slot while the file is open. */
static inline PyObject *
open_answer(PyObject *self, Py_ssize_t offset, PyObject *name, PyObject *const *args,
            Py_ssize_t nargs, PyObject *kwnames)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd;
    PyObject *number = open_fd(self, &fd);
    if (number == NULL || nargs != 0 || kwnames != NULL) {
        PYTHON(name);
    }
    PyObject *answer = offset < 0 ? number : SLOT(self, offset);
    if (answer == NULL) {
        PYTHON(name);
    }
    return Py_NewRef(answer);
}

RAW_METHOD(raw_fileno)
{
    return open_answer(self, -1, str_fileno, args, nargs, kwnames);
}

RAW_METHOD(raw_readable)
{
    return open_answer(self, raw.readable, str_readable, args, nargs, kwnames);
}

RAW_METHOD(raw_writable)
{
    return open_answer(self, raw.writable, str_writable, args, nargs, kwnames);
}

RAW_METHOD(raw_seekable)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd, known;
    if (open_fd(self, &fd) == NULL || nargs != 0 || kwnames != NULL ||
        !exact_long(SLOT(self, raw.seekable), &known)) {
        PYTHON(str_seekable);
    }
    if (known < 0) {
        /* not asked yet: RawFile.seekable's lseek(0, SEEK_CUR), which a free offset of a
         * description of ours answers (as raw_tell); anything else is the Python method's */
        PyObject *description;
        if (raw_offset(self, &description) == NULL) {
            PYTHON(str_seekable);
        }
        mark_seekable(self);
        known = 1;
    }
    return PyBool_FromLong(known > 0);
}

RAW_METHOD(raw_isatty)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd;
    PyObject *number = open_fd(self, &fd);
    PyObject *fast = number && nargs == 0 && kwnames == NULL ? raw_fast_paths(self) : NULL;
    PyObject *description = fast ? file_description((FastPaths *)fast, number) : NULL;
    Py_XDECREF(fast);
    if (description == NULL) {
        PYTHON(str_isatty);
    }
    Py_RETURN_FALSE; /* a provider's file is never a terminal (Description.isatty) */
}

static PyObject *
raw_get_closed(PyObject *self, void *closure)
{
    if (!raw_file_check(self)) {
        return NULL;
    }
    long long fd;
    if (!exact_long(SLOT(self, raw.fd), &fd)) {
        return PyObject_CallMethod(raw.closed, "__get__", "O", self);
    }
    return PyBool_FromLong(fd < 0);
}

static int
raw_set_closed(PyObject *self, PyObject *value, void *closure)
{
    /* RawFile's property refuses, with the C getset's message */
    PyObject *result = value ? PyObject_CallMethodObjArgs(raw.closed, str_set, self, value, NULL)
                             : PyObject_CallMethodObjArgs(raw.closed, str_delete, self, NULL);
    Py_XDECREF(result);
    return result == NULL ? -1 : 0;
}

#define RAW_ENTRY(name, function) \
    {name, (PyCFunction)(void (*)(void))function, METH_FASTCALL | METH_KEYWORDS, NULL}

static PyMethodDef raw_methods[] = {
    RAW_ENTRY("readinto", raw_readinto),
    RAW_ENTRY("readall", raw_readall),
    RAW_ENTRY("write", raw_write),
    RAW_ENTRY("tell", raw_tell),
    RAW_ENTRY("seek", raw_seek),
    RAW_ENTRY("close", raw_close),
    RAW_ENTRY("fileno", raw_fileno),
    RAW_ENTRY("readable", raw_readable),
    RAW_ENTRY("writable", raw_writable),
    RAW_ENTRY("seekable", raw_seekable),
    RAW_ENTRY("isatty", raw_isatty),
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef raw_getset[] = {
    {"closed", raw_get_closed, raw_set_closed, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

PyDoc_STRVAR(raw_file_base_doc,
"The C methods of the accelerated raw file (``class FastRawFile(RawFileBase, RawFile)``):\n"
"RawFile's common cases on a memory file of an accelerated backend; RawFile's Python\n"
"methods for everything else.");

PyDoc_STRVAR(new_raw_file_doc,
"new_raw_file($module, cls, /, *args)\n--\n\n"
"``cls(*args)``: for a RawFile class whose ``__init__`` is RawFileBase's, the new object made\n"
"closed as RawFile.__new__ makes it, without its Python frame, then initialised; any other\n"
"class is called as it is.");

static PyObject *
new_raw_file(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "new_raw_file() takes a class first");
        return NULL;
    }
    PyTypeObject *type = (PyTypeObject *)args[0];
    if (!raw_configured || !PyType_IsSubtype(type, raw.raw_file) || type->tp_init != raw_init ||
        type->tp_alloc == NULL) {
        return PyObject_Vectorcall(args[0], args + 1, nargs - 1, NULL);
    }
    PyObject *init_args = PyTuple_New(nargs - 1);
    if (init_args == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 1; i < nargs; i++) {
        PyTuple_SET_ITEM(init_args, i - 1, Py_NewRef(args[i]));
    }
    /* RawFile.__new__: _io._IOBase's new (PyType_GenericNew), then the closed state */
    PyObject *self = type->tp_alloc(type, 0);
    if (self == NULL) {
        Py_DECREF(init_args);
        return NULL;
    }
    set_slot(self, raw.fd, PyLong_FromLong(-1)); /* (small ints: cached, never NULL) */
    set_slot(self, raw.created, Py_NewRef(Py_False));
    set_slot(self, raw.readable, Py_NewRef(Py_False));
    set_slot(self, raw.writable, Py_NewRef(Py_False));
    set_slot(self, raw.appending, Py_NewRef(Py_False));
    set_slot(self, raw.seekable, PyLong_FromLong(-1)); /* unknown until the first lseek */
    set_slot(self, raw.closefd, Py_NewRef(Py_True));
    set_slot(self, raw.finalizing, Py_NewRef(Py_False));
    set_slot(self, raw.blksize, PyLong_FromLong(0));
    int failed = raw_init(self, init_args, NULL);
    Py_DECREF(init_args);
    if (failed < 0) {
        Py_DECREF(self);
        return NULL;
    }
    return self;
}

static PyType_Slot raw_file_base_slots[] = {
    {Py_tp_doc, (void *)raw_file_base_doc},
    {Py_tp_init, raw_init},
    {Py_tp_methods, raw_methods},
    {Py_tp_getset, raw_getset},
    {0, NULL},
};

static PyType_Spec raw_file_base_spec = {
    .name = "posixbackend._speedups.RawFileBase",
    .basicsize = 0, /* _io._RawIOBase's layout: RawFile's slots follow it */
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .slots = raw_file_base_slots,
};

static PyObject *
configure_raw_file(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {
        "raw_file", "iobase_close", "block_size", "mode_flags", "plus_flag", NULL,
    };
    PyTypeObject *raw_file;
    PyObject *iobase_close, *block_size, *mode_flags;
    long plus_flag;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$O!OO!O!l:configure_raw_file", keywords,
                                     &PyType_Type, &raw_file, &iobase_close, &PyLong_Type,
                                     &block_size, &PyTuple_Type, &mode_flags, &plus_flag)) {
        return NULL;
    }
    if (PyTuple_GET_SIZE(mode_flags) != 4) {
        PyErr_SetString(PyExc_ValueError, "mode_flags: the flags of 'r', 'w', 'a' and 'x'");
        return NULL;
    }
    RawLayout new = {0};
    new.raw_file = raw_file;
    if (read_slot_offsets(raw_reads, RAW_READS, &new) < 0) {
        return NULL;
    }
    PyObject *names[] = {
        str_init, str_readinto, str_readall, str_write, str_tell, str_seek, str_close_method,
        str_fileno, str_readable, str_writable, str_seekable, str_isatty, str_finish_open,
        str_internal_close,
    };
    new.python = PyDict_New();
    if (new.python == NULL) {
        return NULL;
    }
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        PyObject *function = PyObject_GetAttr((PyObject *)raw_file, names[i]);
        if (function == NULL || PyDict_SetItem(new.python, names[i], function) < 0) {
            Py_XDECREF(function);
            Py_DECREF(new.python);
            return NULL;
        }
        Py_DECREF(function);
    }
    new.closed = PyDict_GetItemString(raw_file->tp_dict, "closed");
    if (new.closed == NULL) {
        PyErr_SetString(PyExc_TypeError, "RawFile has no closed property");
        Py_DECREF(new.python);
        return NULL;
    }
    Py_INCREF(new.closed);
    for (int i = 0; i < 4; i++) {
        new.flags[i] = Py_NewRef(PyTuple_GET_ITEM(mode_flags, i));
    }
    new.iobase_close = Py_NewRef(iobase_close);
    new.block_size = Py_NewRef(block_size);
    new.plus_flag = plus_flag;
    Py_INCREF(raw_file);
    if (raw_configured) {
        Py_CLEAR(raw.raw_file);
        Py_CLEAR(raw.python);
        Py_CLEAR(raw.iobase_close);
        Py_CLEAR(raw.closed);
        Py_CLEAR(raw.block_size);
        for (int i = 0; i < 4; i++) {
            Py_CLEAR(raw.flags[i]);
        }
    }
    raw = new;
    raw_configured = 1;
    Py_RETURN_NONE;
}

PyDoc_STRVAR(configure_raw_file_doc,
"configure_raw_file(*, raw_file, iobase_close, block_size, mode_flags, plus_flag)\n--\n\n"
"Learn RawFile's slots and Python methods, IOBase's close, a memory file's st_blksize, and\n"
"the open flags of the modes 'r', 'w', 'a', 'x' (and O_RDWR for '+').");

PyDoc_STRVAR(configure_doc,
"configure(*, description, file_description, fd_table, memory_handle, inode, regular_file,\n"
"          directory, resolver, identity, space, fast_state, open_state, reader_state,\n"
"          slow_flags, writer_state, max_file_size)\n"
"--\n\n"
"Learn the classes' slot layout and the memory file system's constants (once).");

static PyType_Spec memory_writer_spec = {
    .name = "posixbackend._speedups.MemoryWriter",
    .basicsize = sizeof(MemoryWriter),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = memory_writer_slots,
};

/* -- truncated_stat: a stat result's times at a backend's resolution ---------------------- */

static PyTypeObject *stat_result_type; /* posix.stat_result (the module keeps it) */
static Py_ssize_t stat_fields;         /* its number of fields, visible or not */
#define STAT_TIMES_NS 13               /* st_atime_ns, st_mtime_ns, st_ctime_ns from here */
#define STAT_TIMES_INT 7               /* st_atime, st_mtime, st_ctime as ints */
#define STAT_TIMES_FLOAT 10            /* ... and as floats */
#define SECOND_NS 1000000000LL

/* a // b as Python computes it (toward minus infinity), b > 0 */
static inline long long
floor_div(long long a, long long b)
{
    long long q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

/* The field ``index`` of the truncated copy: a time from its nanoseconds, else the original. */
static PyObject *
truncated_field(PyObject *result, Py_ssize_t index, const long long *times)
{
    if (index >= STAT_TIMES_INT && index < STAT_TIMES_INT + 3) {
        return PyLong_FromLongLong(floor_div(times[index - STAT_TIMES_INT], SECOND_NS));
    }
    if (index >= STAT_TIMES_FLOAT && index < STAT_TIMES_FLOAT + 3) {
        return PyFloat_FromDouble((double)times[index - STAT_TIMES_FLOAT] / 1e9);
    }
    if (index >= STAT_TIMES_NS && index < STAT_TIMES_NS + 3) {
        return PyLong_FromLongLong(times[index - STAT_TIMES_NS]);
    }
    PyObject *field = PyStructSequence_GET_ITEM(result, index);
    return Py_NewRef(field ? field : Py_None);
}

PyDoc_STRVAR(truncated_stat_doc,
"truncated_stat($module, result, resolution, /)\n--\n\n"
"A copy of the os.stat_result ``result`` with its times truncated to ``resolution``\n"
"nanoseconds (as BackendCore._view computes it), or None when a time is not an int that a\n"
"C long long holds (the Python code computes that one).");

static PyObject *
truncated_stat(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "truncated_stat(result, resolution)");
        return NULL;
    }
    PyObject *result = args[0];
    long long resolution, times[3];
    if (stat_result_type == NULL || !Py_IS_TYPE(result, stat_result_type) ||
        !exact_long(args[1], &resolution) || resolution < 1) {
        Py_RETURN_NONE;
    }
    for (int i = 0; i < 3; i++) {
        long long ns;
        if (!exact_long(PyStructSequence_GET_ITEM(result, STAT_TIMES_NS + i), &ns) ||
            ns < LLONG_MIN / 2) {
            Py_RETURN_NONE; /* (far enough from the limit that truncating cannot overflow) */
        }
        times[i] = floor_div(ns, resolution) * resolution;
    }
    PyObject *view = PyStructSequence_New(stat_result_type);
    if (view == NULL) {
        return NULL;
    }
    for (Py_ssize_t index = 0; index < stat_fields; index++) {
        PyObject *field = truncated_field(result, index, times);
        if (field == NULL) {
            Py_DECREF(view);
            return NULL;
        }
        PyStructSequence_SET_ITEM(view, index, field);
    }
    return view;
}

static PyObject *times_truncated_hit; /* the gap emulated.times.resolution's hit, or NULL */

PyDoc_STRVAR(configure_stat_view_doc,
"configure_stat_view($module, hit, /)\n--\n\n"
"Let the C stat make its copies at a backend's time resolution itself, calling ``hit`` (the\n"
"times-resolution gap's) where a copy's times differ, as BackendCore._view does.");

static PyObject *
configure_stat_view(PyObject *module, PyObject *hit)
{
    if (!PyCallable_Check(hit)) {
        PyErr_SetString(PyExc_TypeError, "hit must be callable");
        return NULL;
    }
    Py_XSETREF(times_truncated_hit, Py_NewRef(hit));
    Py_RETURN_NONE;
}

/* BackendCore._view(result) for a resolution other than 1 ns, without its Python frame: the
 * truncated copy (truncated_stat) and, when its atime or mtime moved, a hit of the gap; the
 * Python ``view`` where this is not configured or the times are not plain ints. */
static PyObject *
stat_view(PyObject *view, PyObject *result, PyObject *resolution)
{
    if (times_truncated_hit == NULL) {
        return PyObject_CallOneArg(view, result);
    }
    PyObject *args[2] = {result, resolution};
    PyObject *copy = truncated_stat(NULL, args, 2);
    if (copy == NULL) {
        return NULL;
    }
    if (copy == Py_None) {
        Py_DECREF(copy);
        return PyObject_CallOneArg(view, result);
    }
    /* _view's test: st_mtime_ns or st_atime_ns changed (the ns fields are exact ints here) */
    int moved = 0;
    for (Py_ssize_t index = STAT_TIMES_NS; index < STAT_TIMES_NS + 2 && !moved; index++) {
        moved = PyObject_RichCompareBool(PyStructSequence_GET_ITEM(copy, index),
                                         PyStructSequence_GET_ITEM(result, index), Py_NE);
        if (moved < 0) {
            Py_DECREF(copy);
            return NULL;
        }
    }
    if (moved) {
        PyObject *done = PyObject_CallNoArgs(times_truncated_hit);
        if (done == NULL) {
            Py_DECREF(copy);
            return NULL;
        }
        Py_DECREF(done);
    }
    return copy;
}

/* posix.stat_result and its number of fields, when it has the times where expected. */
static int
find_stat_result(void)
{
    PyObject *posix = PyImport_ImportModule("posix");
    PyObject *type = posix ? PyObject_GetAttrString(posix, "stat_result") : NULL;
    Py_XDECREF(posix);
    if (type == NULL) {
        return -1;
    }
    PyObject *fields = PyObject_GetAttrString(type, "n_fields");
    Py_ssize_t count = fields && PyLong_Check(fields) ? PyLong_AsSsize_t(fields) : -1;
    Py_XDECREF(fields);
    if (count < 0 && PyErr_Occurred()) {
        Py_DECREF(type);
        return -1;
    }
    if (!PyType_Check(type) || count < STAT_TIMES_NS + 3) {
        Py_DECREF(type); /* not the layout this knows: truncated_stat always says None */
        return 0;
    }
    stat_result_type = (PyTypeObject *)type;
    stat_fields = count;
    return 0;
}

/* -- FastMkdir: os.mkdir of a plain absolute path on a memory file system ------------------- */

/* (MkdirLayout, mkdir_layout and mkdir_configured: before the memory journal's functions,
 * which read and set its slots too) */

#define READ(role, slot, field) SLOT_READ(MkdirLayout, role, slot, field)
static const SlotRead mkdir_reads[] = {
    READ(inode, "_derived", i_derived),
    READ(inode, "_stat", i_stat),
    READ(inode, "atime", i_atime),
    READ(inode, "ctime", i_ctime),
    READ(inode, "dev", i_dev),
    READ(inode, "freed", i_freed),
    READ(inode, "gid", i_gid),
    READ(inode, "handles", i_handles),
    READ(inode, "ino", i_ino),
    READ(inode, "mode", i_mode),
    READ(inode, "mtime", i_mtime),
    READ(inode, "nlink", i_nlink),
    READ(inode, "uid", i_uid),
    READ(directory, "entries", d_entries),
    READ(directory, "listed", d_listed),
    READ(directory, "name", d_name),
    READ(directory, "parent", d_parent),
    READ(space, "used_inodes", s_used_inodes),
    READ(space, "max_inodes", s_max_inodes),
};
#undef READ
#define MKDIR_READS (sizeof(mkdir_reads) / sizeof(mkdir_reads[0]))

PyDoc_STRVAR(configure_mkdir_doc,
"configure_mkdir($module, /, *, inode, directory, space)\n--\n\n"
"Learn the slots of the memory file system's classes that FastMkdir fills (after configure()).");

static PyObject *
configure_mkdir(PyObject *module, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"inode", "directory", "space", NULL};
    MkdirLayout new;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "$O!O!O!:configure_mkdir", keywords,
                                     &PyType_Type, &new.inode, &PyType_Type, &new.directory,
                                     &PyType_Type, &new.space)) {
        return NULL;
    }
    if (!PyType_IsSubtype(new.directory, new.inode)) {
        PyErr_SetString(PyExc_TypeError, "the classes do not derive from each other as expected");
        return NULL;
    }
    if (read_slot_offsets(mkdir_reads, MKDIR_READS, &new) < 0) {
        return NULL;
    }
    Py_INCREF(new.inode);
    Py_INCREF(new.directory);
    Py_INCREF(new.space);
    if (mkdir_configured) {
        Py_CLEAR(mkdir_layout.inode);
        Py_CLEAR(mkdir_layout.directory);
        Py_CLEAR(mkdir_layout.space);
    }
    mkdir_layout = new;
    mkdir_configured = 1;
    Py_RETURN_NONE;
}

typedef struct {
    PyObject_HEAD
    FastPaths *paths;      /* the backend's fast paths: its file system, resolver and lock */
    PyObject *python;      /* the backend's Python mkdir, for every other case */
    PyObject *backend;     /* the backend (its umask is read at each call) */
    PyObject *inodes;      /* the file system's inode numbers (an itertools.count) */
    PyObject *dev;         /* its device number */
    vectorcallfunc vectorcall;
} FastMkdir;


static int
fast_mkdir_traverse(FastMkdir *self, visitproc visit, void *arg)
{
    Py_VISIT(self->paths);
    Py_VISIT(self->python);
    Py_VISIT(self->backend);
    Py_VISIT(self->inodes);
    Py_VISIT(self->dev);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
fast_mkdir_clear(FastMkdir *self)
{
    Py_CLEAR(self->paths);
    Py_CLEAR(self->python);
    Py_CLEAR(self->backend);
    Py_CLEAR(self->inodes);
    Py_CLEAR(self->dev);
    return 0;
}

static void
fast_mkdir_dealloc(FastMkdir *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fast_mkdir_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *fast_mkdir_call(PyObject *, PyObject *const *, size_t, PyObject *);

static PyObject *
fast_mkdir_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fast_paths", "mkdir", NULL};
    PyObject *paths, *python;
    if (!configured || !mkdir_configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() and configure_mkdir() first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O:FastMkdir", keywords, fast_paths_type,
                                     &paths, &python)) {
        return NULL;
    }
    if (!PyMethod_Check(python)) {
        PyErr_SetString(PyExc_TypeError, "mkdir must be the backend's bound method");
        return NULL;
    }
    FastMkdir *self = (FastMkdir *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->vectorcall = fast_mkdir_call;
    self->paths = (FastPaths *)Py_NewRef(paths);
    self->python = Py_NewRef(python);
    self->backend = Py_NewRef(PyMethod_GET_SELF(python));
    PyObject *fs = self->paths->fs;
    if (fs != NULL) { /* (another provider: every call is the Python method's) */
        self->inodes = PyObject_GetAttrString(fs, "_inodes");
        self->dev = self->inodes ? PyObject_GetAttrString(fs, "_dev") : NULL;
        if (self->dev == NULL) {
            Py_DECREF(self);
            return NULL;
        }
    }
    return (PyObject *)self;
}

/* os.mkdir(path, mode=0o777) of an absolute ASCII path whose directory plain lookups find
 * (Resolver.quick's answer, as FastPaths.stat finds paths) and whose last name is a plain one
 * not there yet: MemoryFileSystem.mkdir_at's fast path (may_create, _new, _enter), done here
 * under the file system's lock with nothing allocated that the collector tracks after the
 * state is read. Everything else -- dir_fd, relative paths, an existing name (EEXIST), a
 * missing or refused directory, a set-gid directory, the inode limit reached, a busy lock --
 * is the Python method's. */
static PyObject *
fast_mkdir_call(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    FastMkdir *self = (FastMkdir *)callable;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    FastPaths *paths = self->paths;
    long long mode = 0777, umask;
    if (paths->fs == NULL || kwnames != NULL || nargs < 1 || nargs > 2 ||
        !Py_IS_TYPE(paths->names, layout.resolver) ||
        (nargs == 2 && (!exact_long(args[1], &mode) || mode < INT_MIN || mode > INT_MAX))) {
        goto python;
    }
    PyObject *path = args[0];
    if (!PyUnicode_CheckExact(path) || !PyUnicode_IS_ASCII(path)) {
        goto python;
    }
    Py_ssize_t length = PyUnicode_GET_LENGTH(path);
    const char *text = (const char *)PyUnicode_1BYTE_DATA(path);
    if (length < 2 || length >= 4096 /* vfs.limits.PATH_MAX */ || text[0] != '/' ||
        text[length - 1] == '/' || memchr(text, '\0', length) != NULL) {
        goto python;
    }
    Py_ssize_t cut = length - 1;
    while (text[cut] != '/') {
        cut--; /* (text[0] is '/') */
    }
    Py_ssize_t name_length = length - cut - 1;
    if (name_length > 255 /* NAME_MAX */ || !plain_missing(text, cut + 1, name_length)) {
        goto python; /* "." or "..": EEXIST and friends, said by the Python path */
    }
    PyObject *mask = PyObject_GetAttr(self->backend, str_umask);
    if (mask == NULL) {
        return NULL;
    }
    int plain_mask = exact_long(mask, &umask);
    Py_DECREF(mask);
    if (!plain_mask) {
        goto python;
    }
    /* Everything the collector tracks is made before any state is read. */
    PyObject *node = blank(mkdir_layout.directory);
    PyObject *entries = node ? PyDict_New() : NULL;
    PyObject *name = entries ? PyUnicode_FromStringAndSize(text + cut + 1, name_length) : NULL;
    PyObject *head = name && cut ? PyUnicode_FromStringAndSize(text, cut) : NULL;
    if (name == NULL || (cut && head == NULL)) {
        Py_XDECREF(node);
        Py_XDECREF(entries);
        Py_XDECREF(name);
        return NULL;
    }
    PyObject *ino = NULL, *now = NULL, *links = NULL, *count = NULL;
    int taken = try_lock(paths->fs_acquire);
    if (taken <= 0) {
        goto undo;
    }
    PyObject *names = paths->names;
    PyObject *check = SLOT(names, layout.r_check);
    PyObject *who = SLOT(names, layout.r_who);
    if ((check != Py_False && check != Py_True) || who == NULL ||
        !Py_IS_TYPE(who, layout.identity)) {
        goto unlock;
    }
    PyObject *directory;
    if (head == NULL) {
        directory = SLOT(names, layout.r_root);
    }
    else {
        int missing;
        directory = plain_node(paths, head, &missing); /* ENOENT and the rest: Python's */
    }
    if (directory == NULL || !Py_IS_TYPE(directory, mkdir_layout.directory)) {
        goto unlock;
    }
    long long directory_mode, nlink, used, limit;
    PyObject *space = paths->space;
    PyObject *children = SLOT(directory, mkdir_layout.d_entries);
    PyObject *max_inodes = SLOT(space, mkdir_layout.s_max_inodes);
    if (children == NULL || !PyDict_CheckExact(children) ||
        !exact_long(SLOT(directory, mkdir_layout.i_mode), &directory_mode) ||
        directory_mode & S_ISGID ||
        !exact_long(SLOT(directory, mkdir_layout.i_nlink), &nlink) || nlink <= 0 ||
        !exact_long(SLOT(space, mkdir_layout.s_used_inodes), &used) ||
        (max_inodes != Py_None && (!exact_long(max_inodes, &limit) || used >= limit))) {
        goto unlock; /* set-gid (inode_init_owner), removed, full: the Python path */
    }
    /* search on the directory (Resolver.quick), then write and search (may_create) */
    if (check == Py_True && permitted(directory, who, 3) != 1) {
        goto unlock;
    }
    int exists = PyDict_Contains(children, name);
    if (exists != 0) {
        goto unlock; /* EEXIST (or an error): the Python path */
    }
    ino = PyIter_Next(self->inodes);
    now = ino ? PyLong_FromLongLong(now_ns()) : NULL;
    links = now ? PyLong_FromLongLong(nlink + 1) : NULL;
    count = links ? PyLong_FromLongLong(used + 1) : NULL;
    PyObject *own_mode = count ? PyLong_FromLongLong(S_IFDIR | (mode & ~umask & 01777)) : NULL;
    PyObject *two = own_mode ? PyLong_FromLong(2) : NULL;
    if (two == NULL) {
        Py_XDECREF(own_mode);
        goto unlock;
    }
    /* the new inode, whole (Directory.__init__, the creator's ids as _new sets them) */
    SLOT(node, mkdir_layout.i_dev) = Py_NewRef(self->dev);
    SLOT(node, mkdir_layout.i_ino) = Py_NewRef(ino);
    SLOT(node, mkdir_layout.i_mode) = own_mode;
    SLOT(node, mkdir_layout.i_uid) = Py_NewRef(SLOT(who, layout.who_uid));
    SLOT(node, mkdir_layout.i_gid) = Py_NewRef(SLOT(who, layout.who_gid));
    SLOT(node, mkdir_layout.i_nlink) = two;
    SLOT(node, mkdir_layout.i_atime) = Py_NewRef(now);
    SLOT(node, mkdir_layout.i_mtime) = Py_NewRef(now);
    SLOT(node, mkdir_layout.i_ctime) = Py_NewRef(now);
    SLOT(node, mkdir_layout.i_handles) = Py_NewRef(layout.no_handles);
    SLOT(node, mkdir_layout.i_freed) = Py_NewRef(Py_False);
    SLOT(node, mkdir_layout.i_stat) = Py_NewRef(Py_None);
    SLOT(node, mkdir_layout.i_derived) = Py_NewRef(Py_None);
    SLOT(node, mkdir_layout.d_entries) = Py_NewRef(entries);
    SLOT(node, mkdir_layout.d_listed) = Py_NewRef(Py_None);
    SLOT(node, mkdir_layout.d_parent) = Py_NewRef(directory);
    SLOT(node, mkdir_layout.d_name) = Py_NewRef(name);
    /* entered (MemoryFileSystem._enter) and counted: the one store that may fail comes first */
    if (PyDict_SetItem(children, name, node) < 0) {
        goto unlock;
    }
    set_slot(directory, mkdir_layout.d_listed, Py_NewRef(Py_None));
    set_slot(directory, mkdir_layout.i_nlink, links);
    set_slot(directory, mkdir_layout.i_mtime, Py_NewRef(now));
    set_slot(directory, mkdir_layout.i_ctime, Py_NewRef(now));
    set_slot(directory, mkdir_layout.i_stat, Py_NewRef(Py_None));
    set_slot(space, mkdir_layout.s_used_inodes, count);
    links = count = NULL; /* (the slots hold them now) */
    Py_DECREF(ino);
    Py_DECREF(now);
    Py_DECREF(node);
    Py_DECREF(entries);
    Py_DECREF(name);
    Py_XDECREF(head);
    if (unlock(paths->fs_release) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
unlock:
    taken = unlock(paths->fs_release);
undo:
    Py_XDECREF(ino);
    Py_XDECREF(now);
    Py_XDECREF(links);
    Py_XDECREF(count);
    Py_DECREF(node);
    Py_DECREF(entries);
    Py_DECREF(name);
    Py_XDECREF(head);
    if (taken < 0 || PyErr_Occurred()) {
        return NULL;
    }
python:
    return PyObject_Vectorcall(self->python, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_mkdir_method_doc,
"mkdir($self, /, path, mode=511, *, dir_fd=None)\n--\n\n"
"os.mkdir, with the backend's umask applied.");

/* The same call as a method: what the backend holds (a builtin method has os.mkdir's name
 * and signature, as the other fast paths). */
static PyObject *
fast_mkdir_method(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return fast_mkdir_call(self, args, (size_t)nargs, kwnames);
}

static PyMethodDef fast_mkdir_methods[] = {
    {"mkdir", (PyCFunction)(void (*)(void))fast_mkdir_method, METH_FASTCALL | METH_KEYWORDS,
     fast_mkdir_method_doc},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef fast_mkdir_members[] = {
    {"__vectorcalloffset__", Py_T_PYSSIZET, offsetof(FastMkdir, vectorcall), Py_READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(fast_mkdir_doc,
"FastMkdir(fast_paths, mkdir)\n--\n\n"
"A backend's os.mkdir: a plain absolute path on its MemoryFileSystem made here, every other\n"
"case by ``mkdir``, the backend's Python method (bound), whose backend's umask applies.");

static PyType_Slot fast_mkdir_slots[] = {
    {Py_tp_doc, (void *)fast_mkdir_doc},
    {Py_tp_new, fast_mkdir_new},
    {Py_tp_dealloc, fast_mkdir_dealloc},
    {Py_tp_traverse, fast_mkdir_traverse},
    {Py_tp_clear, fast_mkdir_clear},
    {Py_tp_call, PyVectorcall_Call},
    {Py_tp_members, fast_mkdir_members},
    {Py_tp_methods, fast_mkdir_methods},
    {0, NULL},
};

static PyType_Spec fast_mkdir_spec = {
    .name = "posixbackend._speedups.FastMkdir",
    .basicsize = sizeof(FastMkdir),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .slots = fast_mkdir_slots,
};

/* -- FastCopies: os.sendfile between two memory files, os.chmod and os.utime of plain paths - */

/* The common case of TransferFunctions.sendfile (shutil.copyfile's calls): from a dense memory
 * file, at a given offset or at its description's, to the file offset of another regular file
 * of the same MemoryFileSystem, in one step with the GIL held and no Python code run between
 * reading the offsets and moving them. As Linux's: the count clipped to MAX_RW_COUNT and at
 * the source's end of file (0 there, nothing written), the source's atime moved as a read moves
 * it (relatime), the destination written as write(2) writes (memory_pwrite: times, space), its
 * offset moved on by the count, the source's too when no offset is given (else it stays).
 * Everything else -- keywords, non-int arguments, another kind of descriptor or provider, the
 * same file on both sides, access modes or O_APPEND that refuse, a busy offset or lock, a
 * sparse or mapped file, set-ID bits to clear, a size cap, anything that would raise -- is the
 * backend's Python method's, called with the caller's own arguments. */

#define MAX_RW_COUNT 0x7FFFF000LL /* what one read or write moves at most (Linux) */
#define COPY_CHUNK (1 << 20) /* transfers.CHUNK: the most a copy moves per hold of the lock */

typedef struct {
    PyObject_HEAD
    FastPaths *paths;     /* the backend's fast paths: its fd table, file system and lock */
    PyObject *sendfile;   /* the backend's Python sendfile, chmod and utime (bound) */
    PyObject *chmod;
    PyObject *utime;
} FastCopies;

static int
fast_copies_traverse(FastCopies *self, visitproc visit, void *arg)
{
    Py_VISIT(self->paths);
    Py_VISIT(self->sendfile);
    Py_VISIT(self->chmod);
    Py_VISIT(self->utime);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
fast_copies_clear(FastCopies *self)
{
    Py_CLEAR(self->paths);
    Py_CLEAR(self->sendfile);
    Py_CLEAR(self->chmod);
    Py_CLEAR(self->utime);
    return 0;
}

static void
fast_copies_dealloc(FastCopies *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fast_copies_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
fast_copies_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fast_paths", "sendfile", "chmod", "utime", NULL};
    PyObject *paths, *sendfile, *chmod, *utime;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the accelerator first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!$OOO:FastCopies", keywords,
                                     fast_paths_type, &paths, &sendfile, &chmod, &utime)) {
        return NULL;
    }
    if (!PyCallable_Check(sendfile) || !PyCallable_Check(chmod) || !PyCallable_Check(utime)) {
        PyErr_SetString(PyExc_TypeError, "sendfile, chmod and utime must be callable");
        return NULL;
    }
    FastCopies *self = (FastCopies *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->paths = (FastPaths *)Py_NewRef(paths);
    self->sendfile = Py_NewRef(sendfile);
    self->chmod = Py_NewRef(chmod);
    self->utime = Py_NewRef(utime);
    return (PyObject *)self;
}

/* The memory handle (borrowed) of ``fd``'s FileDescription on ``paths``' file system when its
 * description's flags (not O_PATH, and without ``refused``) have an access mode in ``modes``
 * (a mask of 1 << mode), else NULL (no error). */
static PyObject *
copy_end(FastPaths *paths, PyObject *fd, int modes, long refused, PyObject **description_out)
{
    long long flags;
    PyObject *description = file_description(paths, fd);
    PyObject *handle = description ? memory_handle_of(description) : NULL;
    if (handle == NULL || SLOT(handle, layout.h_fs) != paths->fs ||
        !exact_long(SLOT(description, layout.d_flags), &flags) ||
        flags & (O_PATH | refused) || !(modes & (1 << (flags & O_ACCMODE)))) {
        return NULL;
    }
    *description_out = description;
    return handle;
}

PyDoc_STRVAR(fast_copies_sendfile_doc,
"sendfile($self, /, out_fd, in_fd, offset, count)\n--\n\n"
"os.sendfile.");

static PyObject *
fast_copies_sendfile(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    FastCopies *self = (FastCopies *)op;
    FastPaths *paths = self->paths;
    long long count, given = -1, start, at, mode, atime, mtime, ctime;
    if (nargs != 4 || kwnames != NULL || paths->fs == NULL || !PyLong_CheckExact(args[0]) ||
        !PyLong_CheckExact(args[1]) || !exact_long(args[3], &count) || count <= 0 ||
        (args[2] != Py_None && (!exact_long(args[2], &given) || given < 0))) {
        goto python;
    }
    PyObject *source, *destination;
    PyObject *reader = copy_end(paths, args[1], 1 << O_RDONLY | 1 << O_RDWR, 0, &source);
    PyObject *writer = reader ? copy_end(paths, args[0], 1 << O_WRONLY | 1 << O_RDWR, O_APPEND,
                                         &destination)
                              : NULL;
    if (writer == NULL) {
        goto python;
    }
    PyObject *node = SLOT(reader, layout.h_reader); /* set while it reads the common way */
    PyObject *sink = SLOT(writer, layout.h_node);
    if (node == NULL || !Py_IS_TYPE(node, layout.regular_file) || sink == node ||
        sink == NULL || !Py_IS_TYPE(sink, layout.regular_file) ||
        !exact_long(SLOT(sink, layout.i_mode), &mode) || mode & 06000) {
        goto python; /* the same file on both sides, a directory, set-ID bits to clear... */
    }
    PyObject *content = SLOT(node, layout.f_data);
    PyObject *position = given < 0 ? free_offset(source) : NULL;
    PyObject *written_at = free_offset(destination);
    if (content == NULL || !PyByteArray_CheckExact(content) ||
        content == SLOT(sink, layout.f_data) ||
        (given < 0 && (position == NULL || !exact_long(position, &given) || given < 0)) ||
        written_at == NULL || !exact_long(written_at, &at) || at < 0 ||
        !exact_long(SLOT(node, layout.i_atime), &atime) ||
        !exact_long(SLOT(node, layout.i_mtime), &mtime) ||
        !exact_long(SLOT(node, layout.i_ctime), &ctime)) {
        goto python;
    }
    start = given;
    /* the kernel's checks of both areas (rw_verify_area), with the caller's count first */
    if (start > LLONG_MAX - count) {
        goto python;
    }
    if (count > MAX_RW_COUNT) {
        count = MAX_RW_COUNT;
    }
    if (at > LLONG_MAX - count) {
        goto python;
    }
    Py_ssize_t moved = readable_count(content, start, count);
    if (moved > COPY_CHUNK || (moved && at > layout.max_file_size - moved)) {
        goto python; /* more than a chunk (the Python method copies a chunk per hold of the
                      * lock: no lock held across a length the data sets); EFBIG, or a
                      * short write */
    }
    /* the new offsets made ahead: nothing can fail once the destination is written */
    PyObject *out_offset = moved ? PyLong_FromLongLong(at + moved) : NULL;
    PyObject *in_offset = moved && position ? PyLong_FromLongLong(start + moved) : NULL;
    if (moved && (out_offset == NULL || (position && in_offset == NULL))) {
        Py_XDECREF(out_offset);
        Py_XDECREF(in_offset);
        return NULL;
    }
    long long now = now_ns();
    if (atime <= mtime || atime <= ctime || now - atime >= DAY_NS) {
        /* the read's relatime (MemoryHandle.pread moves it after its copy: nothing can tell
         * the two apart, as in memory_read_source); under the file system's lock */
        int touched = touch_atime(paths, node, now);
        if (touched <= 0) {
            Py_XDECREF(out_offset);
            Py_XDECREF(in_offset);
            if (touched < 0) {
                return NULL;
            }
            goto python;
        }
    }
    if (!moved) {
        return PyLong_FromLong(0); /* at or past the end of file: nothing written, no move */
    }
    /* taking and letting go of the lock runs no Python code: the offsets found free stay so,
     * and the source's content (another bytearray than the one written) stays where it is */
    int done = paths->fs_locked
        ? memory_pwrite(paths->space, paths->fs_locked, NULL, writer,
                        PyByteArray_AS_STRING(content) + start, moved, at)
        : memory_pwrite(paths->space, paths->fs_acquire, paths->fs_release, writer,
                        PyByteArray_AS_STRING(content) + start, moved, at);
    if (done != 1) {
        Py_DECREF(out_offset);
        Py_XDECREF(in_offset);
        if (done < 0) {
            return NULL;
        }
        goto python; /* nothing written (the atime moved as the Python path's read moves it) */
    }
    set_offset(destination, out_offset);
    if (in_offset != NULL) {
        set_offset(source, in_offset);
    }
    return PyLong_FromSsize_t(moved);
python:
    return PyObject_Vectorcall(self->sendfile, args, nargs, kwnames);
}

/* Whether the keywords ``kwnames`` (values after the ``nargs`` positional ones in ``args``)
 * change nothing for a plain path: dir_fd=None and follow_symlinks=True (what shutil.copystat
 * passes), and for os.utime (``ns`` not NULL) ``ns``, whose value goes to *ns. Anything else
 * (another value, an unknown name) is the Python method's to judge. */
static int
plain_keywords(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames, PyObject **ns)
{
    if (kwnames == NULL) {
        return 1;
    }
    Py_ssize_t count = PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i), *value = args[nargs + i];
        if (PyUnicode_CompareWithASCIIString(name, "dir_fd") == 0) {
            if (value != Py_None) {
                return 0;
            }
        }
        else if (PyUnicode_CompareWithASCIIString(name, "follow_symlinks") == 0) {
            if (value != Py_True) {
                return 0;
            }
        }
        else if (ns != NULL && PyUnicode_CompareWithASCIIString(name, "ns") == 0) {
            *ns = value;
        }
        else {
            return 0;
        }
    }
    return 1;
}

/* The regular file or directory (borrowed; ``files_only``: a regular file) the plain absolute
 * ``path`` names on ``paths``' file system when the resolver's identity may act as its owner
 * (owns: root or the owner, whose uid goes to *uid) -- with the file system's lock held --
 * or NULL, with an error set only for one, where the Python path must judge (a link on the
 * way or at the end, a missing name, EPERM, anything unusual). */
static PyObject *
owned_node(FastPaths *paths, PyObject *path, int files_only, long long *uid)
{
    long long owner;
    int missing;
    PyObject *node = plain_node(paths, path, &missing);
    PyObject *who = SLOT(paths->names, layout.r_who);
    if (node == NULL || PyErr_Occurred() ||
        !(Py_IS_TYPE(node, layout.regular_file) ||
          (!files_only && Py_IS_TYPE(node, layout.directory))) ||
        who == NULL || !Py_IS_TYPE(who, layout.identity) ||
        !exact_long(SLOT(who, layout.who_uid), uid) ||
        !exact_long(SLOT(node, layout.i_uid), &owner) || (*uid != 0 && *uid != owner)) {
        return NULL;
    }
    return node;
}

PyDoc_STRVAR(fast_copies_chmod_doc,
"chmod($self, /, path, mode, *, dir_fd=None, follow_symlinks=True)\n--\n\n"
"os.chmod.");

/* os.chmod of a regular file's plain absolute path, as MemoryFileSystem._chmod changes it:
 * the permission bits (mode & 0o7777; a set-group-ID bit asked for by anyone but root is the
 * Python path's, which may drop it), ctime moved, the cached status record dropped. A
 * directory (its change drops the resolver's caches) and every refusal are the Python
 * method's. */
static PyObject *
fast_copies_chmod(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    FastCopies *self = (FastCopies *)op;
    FastPaths *paths = self->paths;
    long long mode, current, uid;
    if (paths->fs == NULL || nargs != 2 || !plain_keywords(args, nargs, kwnames, NULL) ||
        !plain_absolute(args[0]) || !exact_long(args[1], &mode) || mode < 0 ||
        mode > INT_MAX || !Py_IS_TYPE(paths->names, layout.resolver)) {
        goto python;
    }
    mode &= 07777;
    PyObject *now = PyLong_FromLongLong(now_ns()); /* made before the lock, as utime's */
    if (now == NULL) {
        return NULL;
    }
    int taken = try_lock(paths->fs_acquire);
    if (taken <= 0) {
        Py_DECREF(now);
        if (taken < 0) {
            return NULL;
        }
        goto python;
    }
    PyObject *node = owned_node(paths, args[0], 1, &uid);
    int done = 0;
    if (node != NULL && exact_long(SLOT(node, layout.i_mode), &current) &&
        (uid == 0 || !(mode & S_ISGID))) {
        /* an int is not tracked by the collector: making it runs no Python code; a
         * MemoryError here leaves the inode as it was */
        PyObject *changed = PyLong_FromLongLong((current & S_IFMT) | mode);
        if (changed != NULL) {
            set_slot(node, layout.i_mode, changed);
            set_slot(node, layout.i_ctime, now);
            set_slot(node, layout.i_stat, Py_NewRef(Py_None));
            now = NULL;
            done = 1;
        }
    }
    int failed = PyErr_Occurred() != NULL;
    Py_XDECREF(now);
    if (unlock(paths->fs_release) < 0 || failed) {
        return NULL;
    }
    if (done) {
        Py_RETURN_NONE;
    }
python:
    return PyObject_Vectorcall(self->chmod, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_copies_utime_doc,
"utime($self, /, path, times=None, *, ns, dir_fd=None, follow_symlinks=True)\n--\n\n"
"os.utime.");

#define PLAIN_NS (1LL << 62) /* times within +-2**62 ns: well inside what utime_times takes */

/* os.utime(path, ns=(atime, mtime)) of a regular file's or a directory's plain absolute path
 * (shutil.copystat's call), as MemoryFileSystem._utime sets them: the owner or root, atime
 * and mtime as given, ctime now, the cached status record dropped. Times the backend's
 * resolution would truncate (TIMES_TRUNCATED's record), ``times``, ns=None or not a pair of
 * ints, and every refusal are the Python method's. */
static PyObject *
fast_copies_utime(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    FastCopies *self = (FastCopies *)op;
    FastPaths *paths = self->paths;
    PyObject *ns = NULL;
    long long atime, mtime, uid, resolution = 1;
    if (paths->fs == NULL || nargs != 1 || !plain_keywords(args, nargs, kwnames, &ns) ||
        ns == NULL || !PyTuple_CheckExact(ns) || PyTuple_GET_SIZE(ns) != 2 ||
        !exact_long(PyTuple_GET_ITEM(ns, 0), &atime) ||
        !exact_long(PyTuple_GET_ITEM(ns, 1), &mtime) || atime <= -PLAIN_NS ||
        atime >= PLAIN_NS || mtime <= -PLAIN_NS || mtime >= PLAIN_NS ||
        !plain_absolute(args[0]) || !Py_IS_TYPE(paths->names, layout.resolver) ||
        (!paths->unit_resolution && !exact_long(paths->resolution, &resolution)) ||
        resolution <= 0 || atime % resolution != 0 || mtime % resolution != 0) {
        goto python;
    }
    PyObject *now = PyLong_FromLongLong(now_ns()); /* made before the lock, as chmod's */
    if (now == NULL) {
        return NULL;
    }
    int taken = try_lock(paths->fs_acquire);
    if (taken <= 0) {
        Py_DECREF(now);
        if (taken < 0) {
            return NULL;
        }
        goto python;
    }
    PyObject *node = owned_node(paths, args[0], 0, &uid);
    if (node != NULL) {
        set_slot(node, layout.i_atime, Py_NewRef(PyTuple_GET_ITEM(ns, 0)));
        set_slot(node, layout.i_mtime, Py_NewRef(PyTuple_GET_ITEM(ns, 1)));
        set_slot(node, layout.i_ctime, now);
        set_slot(node, layout.i_stat, Py_NewRef(Py_None));
        now = NULL;
    }
    int failed = PyErr_Occurred() != NULL;
    Py_XDECREF(now);
    if (unlock(paths->fs_release) < 0 || failed) {
        return NULL;
    }
    if (node != NULL) {
        Py_RETURN_NONE;
    }
python:
    return PyObject_Vectorcall(self->utime, args, nargs, kwnames);
}

static PyMethodDef fast_copies_methods[] = {
    {"chmod", (PyCFunction)(void (*)(void))fast_copies_chmod, METH_FASTCALL | METH_KEYWORDS,
     fast_copies_chmod_doc},
    {"utime", (PyCFunction)(void (*)(void))fast_copies_utime, METH_FASTCALL | METH_KEYWORDS,
     fast_copies_utime_doc},
    {"sendfile", (PyCFunction)(void (*)(void))fast_copies_sendfile,
     METH_FASTCALL | METH_KEYWORDS, fast_copies_sendfile_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(fast_copies_doc,
"FastCopies(fast_paths, *, sendfile, chmod, utime)\n--\n\n"
"A backend's os.sendfile, os.chmod and os.utime (shutil's copies): from one memory file to\n"
"another, and a plain absolute path's mode and times, on its MemoryFileSystem here, every\n"
"other case by the backend's Python method given for each (bound).");

static PyType_Slot fast_copies_slots[] = {
    {Py_tp_doc, (void *)fast_copies_doc},
    {Py_tp_new, fast_copies_new},
    {Py_tp_dealloc, fast_copies_dealloc},
    {Py_tp_traverse, fast_copies_traverse},
    {Py_tp_clear, fast_copies_clear},
    {Py_tp_methods, fast_copies_methods},
    {0, NULL},
};

static PyType_Spec fast_copies_spec = {
    .name = "posixbackend._speedups.FastCopies",
    .basicsize = sizeof(FastCopies),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = fast_copies_slots,
};

/* -- FastEntryStat and FastCopyStats: the status calls of shutil's copies on a memory file
 *    system (a scan entry's stat, os.fstat, os.listxattr's refusal) ------------------------ */

/* shutil.copytree hands each file's DirEntry on to copy2: _samefile stats the entry,
 * _fastcopy_sendfile fstats the source, copystat asks os.listxattr of the entry (refused:
 * providers keep no extended attributes). Each was a chain of Python frames per file; here
 * their common cases are answered as the C os.stat answers a plain absolute path
 * (plain_path_stat), everything else by the backend's Python code, called with the caller's
 * own arguments. */

typedef struct {
    PyObject_HEAD
    FastPaths *paths; /* the backend's fast paths: its file system, resolver and lock */
    PyObject *python; /* the backend's Python StatFunction of its scans of paths */
} FastEntryStat;

static int
fast_entry_stat_traverse(FastEntryStat *self, visitproc visit, void *arg)
{
    Py_VISIT(self->paths);
    Py_VISIT(self->python);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
fast_entry_stat_clear(FastEntryStat *self)
{
    Py_CLEAR(self->paths);
    Py_CLEAR(self->python);
    return 0;
}

static void
fast_entry_stat_dealloc(FastEntryStat *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fast_entry_stat_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
fast_entry_stat_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fast_paths", "python", NULL};
    PyObject *paths, *python;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the accelerator first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!O:FastEntryStat", keywords,
                                     fast_paths_type, &paths, &python)) {
        return NULL;
    }
    if (!PyCallable_Check(python)) {
        PyErr_SetString(PyExc_TypeError, "python must be callable");
        return NULL;
    }
    FastEntryStat *self = (FastEntryStat *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->paths = (FastPaths *)Py_NewRef(paths);
    self->python = Py_NewRef(python);
    return (PyObject *)self;
}

/* Whether ``paths`` serve plain absolute paths in C: a memory file system and its resolver. */
static inline int
serves_paths(FastPaths *paths)
{
    return paths->fs != NULL && Py_IS_TYPE(paths->names, layout.resolver);
}

PyDoc_STRVAR(fast_entry_stat_stat_doc,
"stat($self, entry_path, follow_symlinks, /)\n--\n\n"
"The status of a scan's entry by its path, as the backend's StatFunction gives it.");

/* The StatFunction (entry_path, follow_symlinks) the C DirEntry calls on its first stat():
 * a plain absolute path's regular file or directory answered as os.stat (or os.lstat: the
 * same for those) answers it; a link, a relative path, a missing name's walk, anything
 * unusual is the Python StatFunction's. (The DirEntry names its own path in any error.) */
static PyObject *
fast_entry_stat_stat(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    FastEntryStat *self = (FastEntryStat *)op;
    if (nargs == 2 && kwnames == NULL && (args[1] == Py_True || args[1] == Py_False) &&
        serves_paths(self->paths) && plain_absolute(args[0])) {
        int python_judges;
        PyObject *view = plain_path_stat(self->paths, args[0], &python_judges);
        if (view != NULL || !python_judges) {
            return view;
        }
    }
    return PyObject_Vectorcall(self->python, args, nargs, kwnames);
}

static PyMethodDef fast_entry_stat_methods[] = {
    {"stat", (PyCFunction)(void (*)(void))fast_entry_stat_stat, METH_FASTCALL | METH_KEYWORDS,
     fast_entry_stat_stat_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(fast_entry_stat_doc,
"FastEntryStat(fast_paths, python)\n--\n\n"
"The stat of a backend's scan entries by path: plain absolute paths on its memory file\n"
"system in C (as its os.stat), the rest by ``python`` (its StatFunction).");

static PyType_Slot fast_entry_stat_slots[] = {
    {Py_tp_doc, (void *)fast_entry_stat_doc},
    {Py_tp_new, fast_entry_stat_new},
    {Py_tp_dealloc, fast_entry_stat_dealloc},
    {Py_tp_traverse, fast_entry_stat_traverse},
    {Py_tp_clear, fast_entry_stat_clear},
    {Py_tp_methods, fast_entry_stat_methods},
    {0, NULL},
};

static PyType_Spec fast_entry_stat_spec = {
    .name = "posixbackend._speedups.FastEntryStat",
    .basicsize = sizeof(FastEntryStat),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = fast_entry_stat_slots,
};

typedef struct {
    PyObject_HEAD
    FastPaths *paths;     /* the backend's fast paths: its fd table, file system and lock */
    PyObject *fstat;      /* the backend's Python fstat and listxattr (bound) */
    PyObject *listxattr;
    PyObject *hit;        /* what records a hit of the no-extended-attributes gap (path=...) */
    PyObject *entry_type; /* the C DirEntry class: its __fspath__ runs none of the caller's code */
} FastCopyStats;

static PyObject *path_keyword; /* ("path",): the keyword of the gap's hit */

static int
fast_copy_stats_traverse(FastCopyStats *self, visitproc visit, void *arg)
{
    Py_VISIT(self->paths);
    Py_VISIT(self->fstat);
    Py_VISIT(self->listxattr);
    Py_VISIT(self->hit);
    Py_VISIT(self->entry_type);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
fast_copy_stats_clear(FastCopyStats *self)
{
    Py_CLEAR(self->paths);
    Py_CLEAR(self->fstat);
    Py_CLEAR(self->listxattr);
    Py_CLEAR(self->hit);
    Py_CLEAR(self->entry_type);
    return 0;
}

static void
fast_copy_stats_dealloc(FastCopyStats *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fast_copy_stats_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
fast_copy_stats_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fast_paths", "fstat", "listxattr", "hit", "entry_type", NULL};
    PyObject *paths, *fstat, *listxattr, *hit, *entry_type;
    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() the accelerator first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!$OOOO!:FastCopyStats", keywords,
                                     fast_paths_type, &paths, &fstat, &listxattr, &hit,
                                     &PyType_Type, &entry_type)) {
        return NULL;
    }
    if (!PyCallable_Check(fstat) || !PyCallable_Check(listxattr) || !PyCallable_Check(hit)) {
        PyErr_SetString(PyExc_TypeError, "fstat, listxattr and hit must be callable");
        return NULL;
    }
    if (path_keyword == NULL) {
        path_keyword = Py_BuildValue("(s)", "path"); /* kept for the process */
        if (path_keyword == NULL) {
            return NULL;
        }
    }
    FastCopyStats *self = (FastCopyStats *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->paths = (FastPaths *)Py_NewRef(paths);
    self->fstat = Py_NewRef(fstat);
    self->listxattr = Py_NewRef(listxattr);
    self->hit = Py_NewRef(hit);
    self->entry_type = Py_NewRef(entry_type);
    return (PyObject *)self;
}

PyDoc_STRVAR(fast_copy_stats_fstat_doc,
"fstat($self, /, fd)\n--\n\n"
"os.fstat.");

/* os.fstat of an open memory file or directory of the backend's file system (an exact int
 * naming a FileDescription): its inode's status record at the backend's resolution, as
 * MemoryHandle.stat and BackendCore._view give it. A closed handle (EBADF), another kind of
 * descriptor or provider, a busy lock: the Python method's. */
static PyObject *
fast_copy_stats_fstat(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    FastCopyStats *self = (FastCopyStats *)op;
    FastPaths *paths = self->paths;
    long long state;
    if (paths->fs == NULL || nargs != 1 || kwnames != NULL || !PyLong_CheckExact(args[0])) {
        goto python;
    }
    PyObject *description = file_description(paths, args[0]);
    PyObject *handle = description ? memory_handle_of(description) : NULL;
    PyObject *node = handle ? SLOT(handle, layout.h_node) : NULL;
    if (node == NULL || SLOT(handle, layout.h_fs) != paths->fs ||
        !exact_long(SLOT(handle, layout.h_state), &state) || !(state & layout.open_state) ||
        !(Py_IS_TYPE(node, layout.regular_file) || Py_IS_TYPE(node, layout.directory))) {
        goto python;
    }
    int taken = try_lock(paths->fs_acquire);
    if (taken <= 0) {
        if (taken < 0) {
            return NULL;
        }
        goto python;
    }
    /* (the handle cannot close while the lock is held: MemoryHandle.close takes it) */
    PyObject *held = Py_NewRef(node);
    PyObject *result = SLOT(held, layout.i_stat); /* the cached record; None after a change */
    result = result != NULL && result != Py_None
        ? Py_NewRef(result)
        : PyObject_CallMethodNoArgs(held, str_stat); /* rebuilt, as the Python path does */
    if (unlock(paths->fs_release) < 0 || result == NULL) {
        Py_XDECREF(result);
        Py_DECREF(held);
        return NULL;
    }
    return status_view(paths, held, result);
python:
    return PyObject_Vectorcall(self->fstat, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_copy_stats_listxattr_doc,
"listxattr($self, /, path=None, *, follow_symlinks=True)\n--\n\n"
"os.listxattr.");

/* Whether the keywords ``kwnames`` (after ``nargs`` positional arguments) are at most
 * follow_symlinks=True: shutil.copystat's call. */
static int
follows_only(PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    if (kwnames == NULL) {
        return 1;
    }
    return PyTuple_GET_SIZE(kwnames) == 1 && args[nargs] == Py_True &&
        PyUnicode_CompareWithASCIIString(PyTuple_GET_ITEM(kwnames, 0), "follow_symlinks") == 0;
}

/* os.listxattr of a regular file's or a directory's plain absolute path (a str, or the C
 * DirEntry of a str scan, whose path CPython's converter takes and names), as
 * XattrFunctions.listxattr refuses it: the file found (the walk's search permissions, as
 * os.stat's), the gap's hit recorded, then OSError(EOPNOTSUPP) naming the path. A link, a
 * missing name, a refusal, anything unusual is the Python method's. */
static PyObject *
fast_copy_stats_listxattr(PyObject *op, PyObject *const *args, Py_ssize_t nargs,
                          PyObject *kwnames)
{
    FastCopyStats *self = (FastCopyStats *)op;
    FastPaths *paths = self->paths;
    if (nargs != 1 || !follows_only(args, nargs, kwnames) || !serves_paths(paths)) {
        goto python;
    }
    PyObject *path = args[0], *text;
    if (PyUnicode_CheckExact(path)) {
        text = Py_NewRef(path);
    }
    else if ((PyObject *)Py_TYPE(path) == self->entry_type) {
        text = PyOS_FSPath(path); /* the entry's path, kept: no code of the caller's runs */
        if (text == NULL) {
            return NULL;
        }
    }
    else {
        goto python;
    }
    if (!plain_absolute(text)) {
        Py_DECREF(text);
        goto python;
    }
    int taken = try_lock(paths->fs_acquire);
    if (taken <= 0) {
        Py_DECREF(text);
        if (taken < 0) {
            return NULL;
        }
        goto python;
    }
    int missing;
    PyObject *node = plain_node(paths, text, &missing);
    int found = node != NULL &&
        (Py_IS_TYPE(node, layout.regular_file) || Py_IS_TYPE(node, layout.directory));
    int failed = PyErr_Occurred() != NULL;
    if (unlock(paths->fs_release) < 0 || failed) {
        Py_DECREF(text);
        return NULL;
    }
    if (!found) {
        Py_DECREF(text);
        goto python;
    }
    PyObject *hit_args[] = {text}; /* hit(path=text) */
    PyObject *recorded = PyObject_Vectorcall(self->hit, hit_args, 0, path_keyword);
    if (recorded == NULL) {
        Py_DECREF(text);
        return NULL;
    }
    Py_DECREF(recorded);
    errno = EOPNOTSUPP; /* OSError(EOPNOTSUPP, its message, path), as vfs.errors.os_error */
    PyErr_SetFromErrnoWithFilenameObject(PyExc_OSError, text);
    Py_DECREF(text);
    return NULL;
python:
    return PyObject_Vectorcall(self->listxattr, args, nargs, kwnames);
}

static PyMethodDef fast_copy_stats_methods[] = {
    {"fstat", (PyCFunction)(void (*)(void))fast_copy_stats_fstat, METH_FASTCALL | METH_KEYWORDS,
     fast_copy_stats_fstat_doc},
    {"listxattr", (PyCFunction)(void (*)(void))fast_copy_stats_listxattr,
     METH_FASTCALL | METH_KEYWORDS, fast_copy_stats_listxattr_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(fast_copy_stats_doc,
"FastCopyStats(fast_paths, *, fstat, listxattr, hit, entry_type)\n--\n\n"
"A backend's os.fstat and os.listxattr (shutil's copies): an open memory file's status and\n"
"the refusal of a plain absolute path's extended attributes (``hit(path=...)`` recording the\n"
"gap) in C, every other case by the backend's Python method of that name.");

static PyType_Slot fast_copy_stats_slots[] = {
    {Py_tp_doc, (void *)fast_copy_stats_doc},
    {Py_tp_new, fast_copy_stats_new},
    {Py_tp_dealloc, fast_copy_stats_dealloc},
    {Py_tp_traverse, fast_copy_stats_traverse},
    {Py_tp_clear, fast_copy_stats_clear},
    {Py_tp_methods, fast_copy_stats_methods},
    {0, NULL},
};

static PyType_Spec fast_copy_stats_spec = {
    .name = "posixbackend._speedups.FastCopyStats",
    .basicsize = sizeof(FastCopyStats),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = fast_copy_stats_slots,
};

/* -- FastOpen: open() of a binary mode's usual call, without make_open's Python frame ------ */

/* make_open's fast path in C: open(path, mode) with a usual binary mode ("rb", "wb", "r+b"...:
 * fileio._COMMON_MODES, which gives its raw mode and buffered class), every other argument at
 * its default, the path an exact str or a DirEntry of the backend's (os.fspath of it): the raw
 * file made by the backend's maker, isatty() asked (as io.open asks it), then the buffered
 * class over it with the raw file's block size; the raw file closed if that fails. Text modes,
 * other arguments, other path objects: make_open's Python open. */

typedef struct {
    PyObject_HEAD
    PyObject *python;      /* make_open's open(), for everything else */
    PyObject *make_raw;    /* (path, raw mode, closefd, opener) -> the raw file */
    PyObject *modes;       /* mode -> (parsed mode, raw mode, buffered class or None) */
    PyObject *entry_types; /* a tuple of the DirEntry classes whose __fspath__ is taken */
    PyObject *pass_throughs; /* the permissions' list of pass-through functions */
} FastOpen;

static PyObject *str_blksize; /* "_blksize" */

static int
open_stream_traverse(FastOpen *self, visitproc visit, void *arg)
{
    Py_VISIT(self->python);
    Py_VISIT(self->make_raw);
    Py_VISIT(self->modes);
    Py_VISIT(self->entry_types);
    Py_VISIT(self->pass_throughs);
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
open_stream_clear(FastOpen *self)
{
    Py_CLEAR(self->python);
    Py_CLEAR(self->make_raw);
    Py_CLEAR(self->modes);
    Py_CLEAR(self->entry_types);
    Py_CLEAR(self->pass_throughs);
    return 0;
}

static void
open_stream_dealloc(FastOpen *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    open_stream_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
open_stream_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"python", "make_raw", "modes", "entry_types", "pass_throughs",
                               NULL};
    PyObject *python, *make_raw, *modes, *entry_types, *pass_throughs;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO!O!O!:FastOpen", keywords, &python,
                                     &make_raw, &PyDict_Type, &modes, &PyTuple_Type,
                                     &entry_types, &PyList_Type, &pass_throughs)) {
        return NULL;
    }
    if (!PyCallable_Check(python) || !PyCallable_Check(make_raw)) {
        PyErr_SetString(PyExc_TypeError, "python and make_raw must be callable");
        return NULL;
    }
    if (str_blksize == NULL) {
        str_blksize = PyUnicode_InternFromString("_blksize"); /* kept for the process */
        if (str_blksize == NULL) {
            return NULL;
        }
    }
    FastOpen *self = (FastOpen *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->python = Py_NewRef(python);
    self->make_raw = Py_NewRef(make_raw);
    self->modes = Py_NewRef(modes);
    self->entry_types = Py_NewRef(entry_types);
    self->pass_throughs = Py_NewRef(pass_throughs);
    return (PyObject *)self;
}

/* open()'s parameters, in order (what its keywords may name). */
static const char *const open_parameters[] = {
    "file", "mode", "buffering", "encoding", "errors", "newline", "closefd", "opener",
};
#define OPEN_PARAMETERS 8

PyDoc_STRVAR(open_stream_open_doc,
"open($self, /, file, mode='r', buffering=-1, encoding=None, errors=None, newline=None,\n"
"     closefd=True, opener=None)\n--\n\n"
"Open a file and return a stream, exactly as ``io.open``.");

static PyObject *
open_stream_open(PyObject *op, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    FastOpen *self = (FastOpen *)op;
    PyObject *values[OPEN_PARAMETERS] = {NULL};
    long long buffering;
    if (nargs > OPEN_PARAMETERS) {
        goto python;
    }
    for (Py_ssize_t i = 0; i < nargs; i++) {
        values[i] = args[i];
    }
    Py_ssize_t count = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *name = PyTuple_GET_ITEM(kwnames, i);
        int which = 0;
        while (which < OPEN_PARAMETERS &&
               PyUnicode_CompareWithASCIIString(name, open_parameters[which]) != 0) {
            which++;
        }
        if (which == OPEN_PARAMETERS || values[which] != NULL) {
            goto python; /* an unknown or repeated name: the Python open's TypeError */
        }
        values[which] = args[nargs + i];
    }
    PyObject *file = values[0], *mode = values[1];
    if (file == NULL || mode == NULL || !PyUnicode_CheckExact(mode) ||
        (values[2] != NULL && (!exact_long(values[2], &buffering) || buffering != -1)) ||
        (values[3] != NULL && values[3] != Py_None) ||
        (values[4] != NULL && values[4] != Py_None) ||
        (values[5] != NULL && values[5] != Py_None) ||
        (values[6] != NULL && values[6] != Py_True) ||
        (values[7] != NULL && values[7] != Py_None)) {
        goto python;
    }
    PyObject *common = PyDict_GetItemWithError(self->modes, mode); /* (an exact str's hash) */
    if (common == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        goto python;
    }
    if (!PyTuple_CheckExact(common) || PyTuple_GET_SIZE(common) != 3 ||
        PyTuple_GET_ITEM(common, 2) == Py_None) {
        goto python; /* a text mode */
    }
    /* The raw file's "open" audit event is judged by the innermost Python frame (the
     * permissions' audit hook): make_open's open, a library frame, when the Python path runs.
     * Called from a pass-through (the Python stand-in, which a policy or a harness makes run),
     * the event would count as its caller's, the guest's: there the Python open runs. */
    PyFrameObject *frame = PyEval_GetFrame();
    if (frame != NULL && PyList_GET_SIZE(self->pass_throughs) > 0) {
        PyCodeObject *code = PyFrame_GetCode(frame);
        int passing = 0;
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(self->pass_throughs); i++) {
            PyObject *function = PyList_GET_ITEM(self->pass_throughs, i);
            passing |= PyFunction_Check(function) &&
                PyFunction_GET_CODE(function) == (PyObject *)code;
        }
        Py_DECREF(code);
        if (passing) {
            goto python;
        }
    }
    PyObject *path;
    if (PyUnicode_CheckExact(file)) {
        path = Py_NewRef(file);
    }
    else {
        int known = 0;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(self->entry_types); i++) {
            known |= (PyObject *)Py_TYPE(file) == PyTuple_GET_ITEM(self->entry_types, i);
        }
        if (!known) {
            goto python;
        }
        path = PyOS_FSPath(file); /* the library's own __fspath__: none of the caller's code */
        if (path == NULL) {
            return NULL;
        }
    }
    PyObject *raw_args[] = {path, PyTuple_GET_ITEM(common, 1), Py_True, Py_None};
    PyObject *raw_file = PyObject_Vectorcall(self->make_raw, raw_args, 4, NULL);
    Py_DECREF(path);
    if (raw_file == NULL) {
        return NULL;
    }
    PyObject *wrapped = NULL;
    PyObject *tty = PyObject_CallMethodNoArgs(raw_file, str_isatty);
    if (tty != NULL) {
        Py_DECREF(tty);
        PyObject *size = PyObject_GetAttr(raw_file, str_blksize);
        if (size != NULL) {
            PyObject *buffered_args[] = {raw_file, size};
            wrapped = PyObject_Vectorcall(PyTuple_GET_ITEM(common, 2), buffered_args, 2, NULL);
            Py_DECREF(size);
        }
    }
    if (wrapped == NULL) { /* the raw file closed, as make_open's ``except BaseException`` */
        PyObject *type, *value, *traceback;
        PyErr_Fetch(&type, &value, &traceback);
        PyObject *closed = PyObject_CallMethodNoArgs(raw_file, str_close_method);
        Py_XDECREF(closed);
        chain_errors(type, value, traceback);
    }
    Py_DECREF(raw_file);
    return wrapped;
python:
    return PyObject_Vectorcall(self->python, args, nargs, kwnames);
}

static PyMethodDef open_stream_methods[] = {
    {"open", (PyCFunction)(void (*)(void))open_stream_open, METH_FASTCALL | METH_KEYWORDS,
     open_stream_open_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(open_stream_doc,
"FastOpen(python, make_raw, modes, entry_types, pass_throughs)\n--\n\n"
"A backend's open(): a usual binary mode's call on a str path or a DirEntry of\n"
"``entry_types`` made here (``make_raw(path, raw_mode, True, None)`` wrapped in the buffered\n"
"class ``modes[mode]`` gives), everything else by ``python`` (make_open's open), and every\n"
"call made from a function of the list ``pass_throughs``.");

static PyType_Slot open_stream_slots[] = {
    {Py_tp_doc, (void *)open_stream_doc},
    {Py_tp_new, open_stream_new},
    {Py_tp_dealloc, open_stream_dealloc},
    {Py_tp_traverse, open_stream_traverse},
    {Py_tp_clear, open_stream_clear},
    {Py_tp_methods, open_stream_methods},
    {0, NULL},
};

static PyType_Spec open_stream_spec = {
    .name = "posixbackend._speedups.FastOpen",
    .basicsize = sizeof(FastOpen),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = open_stream_slots,
};

/* -- FastNames: os.unlink, os.remove, os.rename and os.replace of plain absolute names on a
 *    memory file system -------------------------------------------------------------------- */

/* The common case of MemoryFileSystem.unlink_at and rename_at for a regular file, done under
 * the file system's lock (enter_free) with no Python code between reading the tree and the
 * last change: plain absolute ASCII paths whose directories the resolver's caches or plain
 * lookups find (plain_parent: search permission checked), may_delete's and may_create's
 * checks (write and search on the directories unless root, the sticky bit, a live target
 * directory), then the entries, link counts, times, cached status records and counted space
 * changed as _detach and _rename change them. Everything else -- dir_fd and every other
 * keyword, relative, bytes or non-ASCII paths, links or dots on the way, a directory or a
 * link as the source or the replaced name, a sparse or mapped file to free, a missing name,
 * any refusal, a busy lock -- is the backend's Python method's, called with the caller's own
 * arguments, so behaviour and errors stay the Python code's. It reads only slots that
 * FastPaths' and FastMkdir's tables already list (their configure() calls check them). */

typedef struct {
    PyObject_HEAD
    FastPaths *paths;    /* the backend's fast paths: its file system, resolver and lock */
    PyObject *python[4]; /* the backend's Python unlink, remove, rename and replace (bound) */
} FastNames;

enum { NAMES_UNLINK, NAMES_REMOVE, NAMES_RENAME, NAMES_REPLACE };

static PyObject *pure_path_types[2]; /* pathlib.PosixPath and PurePosixPath (the first FastNames
                                      * finds them): the only PathLike types whose __fspath__ is
                                      * called here, being known to run no code of the caller's */

static int
fast_names_traverse(FastNames *self, visitproc visit, void *arg)
{
    Py_VISIT(self->paths);
    for (int which = 0; which < 4; which++) {
        Py_VISIT(self->python[which]);
    }
    Py_VISIT(Py_TYPE(self));
    return 0;
}

static int
fast_names_clear(FastNames *self)
{
    Py_CLEAR(self->paths);
    for (int which = 0; which < 4; which++) {
        Py_CLEAR(self->python[which]);
    }
    return 0;
}

static void
fast_names_dealloc(FastNames *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    fast_names_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

static PyObject *
fast_names_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"fast_paths", "unlink", "remove", "rename", "replace", NULL};
    PyObject *paths, *python[4];
    if (!configured || !mkdir_configured) {
        PyErr_SetString(PyExc_RuntimeError, "configure() and configure_mkdir() first");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "O!$OOOO:FastNames", keywords,
                                     fast_paths_type, &paths, &python[0], &python[1],
                                     &python[2], &python[3])) {
        return NULL;
    }
    for (int which = 0; which < 4; which++) {
        if (!PyCallable_Check(python[which])) {
            PyErr_SetString(PyExc_TypeError, "unlink, remove, rename and replace must be callable");
            return NULL;
        }
    }
    if (pure_path_types[0] == NULL) {
        PyObject *pathlib = PyImport_ImportModule("pathlib");
        PyObject *posix_path = pathlib ? PyObject_GetAttrString(pathlib, "PosixPath") : NULL;
        PyObject *pure = posix_path ? PyObject_GetAttrString(pathlib, "PurePosixPath") : NULL;
        Py_XDECREF(pathlib);
        if (pure == NULL || !PyType_Check(posix_path) || !PyType_Check(pure)) {
            Py_XDECREF(posix_path);
            Py_XDECREF(pure);
            if (!PyErr_Occurred()) {
                PyErr_SetString(PyExc_TypeError, "pathlib's path classes are not types");
            }
            return NULL;
        }
        pure_path_types[0] = posix_path;
        pure_path_types[1] = pure;
    }
    FastNames *self = (FastNames *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->paths = (FastPaths *)Py_NewRef(paths);
    for (int which = 0; which < 4; which++) {
        self->python[which] = Py_NewRef(python[which]);
    }
    return (PyObject *)self;
}

/* The str a path argument stands for when it is a plain absolute one (plain_absolute): the
 * argument itself, or the str of a pathlib.PosixPath or PurePosixPath (Path.unlink and
 * Path.rename pass the path objects themselves). A new reference; NULL without an error where
 * the Python method must judge (bytes, ints, str subclasses, any other PathLike -- its
 * __fspath__ may be the caller's code, which os.unlink runs exactly once: the Python method
 * does), NULL with one where __fspath__ raised. Only those two exact types: their __fspath__
 * (str(self), kept once made) runs none of the caller's code, so asking it again after a
 * fallback changes nothing. */
static PyObject *
plain_path_of(PyObject *path)
{
    if (PyUnicode_CheckExact(path)) {
        return plain_absolute(path) ? Py_NewRef(path) : NULL;
    }
    PyObject *type = (PyObject *)Py_TYPE(path);
    if (type != pure_path_types[0] && type != pure_path_types[1]) {
        return NULL;
    }
    PyObject *text = PyOS_FSPath(path);
    if (text != NULL && !(PyUnicode_CheckExact(text) && plain_absolute(text))) {
        Py_CLEAR(text);
    }
    return text;
}

/* may_delete's permission checks (fs/namei.c) of removing or replacing ``node`` in
 * ``directory`` for the resolver's identity ``who``: write and search on the directory
 * unless root, then the sticky bit (sticky_forbids: only root, the file's or the directory's
 * owner). 1 when allowed; 0 where the Python path must say what happens. */
static int
may_remove(PyObject *names, PyObject *who, PyObject *directory, PyObject *node)
{
    long long mode, uid, owner, directory_owner;
    if ((SLOT(names, layout.r_check) != Py_False && permitted(directory, who, 3) != 1) ||
        !exact_long(SLOT(directory, layout.i_mode), &mode)) {
        return 0;
    }
    return !(mode & S_ISVTX) ||
        (exact_long(SLOT(who, layout.who_uid), &uid) &&
         exact_long(SLOT(node, layout.i_uid), &owner) &&
         exact_long(SLOT(directory, layout.i_uid), &directory_owner) &&
         (uid == 0 || uid == owner || uid == directory_owner));
}

/* One link of a regular file dropped (_detach's and _rename's victim's arithmetic): what the
 * stores put in place, made ahead (nothing the collector tracks) so none of them can fail. */
typedef struct {
    PyObject *links;  /* its link count after */
    PyObject *inodes; /* the space's inode count after, NULL when it stays */
    PyObject *pages;  /* the space's page count after, when the file is freed */
    PyObject *empty;  /* its content after, when it is freed (node.clear()) */
} Drop;

static void
drop_clear(Drop *drop)
{
    Py_CLEAR(drop->links);
    Py_CLEAR(drop->inodes);
    Py_CLEAR(drop->pages);
    Py_CLEAR(drop->empty);
}

/* Prepare dropping one link of the exact RegularFile ``node``: 1 when ready, 0 where the
 * Python path must do it (a sparse or mapped file to free, anything unusual), -1 with an
 * exception; nothing changed in any case. A file with other links or an open handle stays
 * (an open file keeps its content until its last handle closes: MemoryFileSystem._release);
 * the last link of one no handle holds frees it. */
static int
drop_prepare(Drop *drop, PyObject *space, PyObject *node)
{
    long long links, inodes, pages_used, pages = 0;
    PyObject *handles = SLOT(node, layout.i_handles);
    PyObject *freed = SLOT(node, mkdir_layout.i_freed);
    PyObject *content = SLOT(node, layout.f_data);
    memset(drop, 0, sizeof(*drop));
    if (!exact_long(SLOT(node, layout.i_nlink), &links) || links < 1 || handles == NULL ||
        !PyAnySet_Check(handles) || freed != Py_False ||
        !exact_long(SLOT(space, mkdir_layout.s_used_inodes), &inodes) ||
        !exact_long(SLOT(space, layout.s_used_pages), &pages_used)) {
        return 0;
    }
    int frees = links == 1 && PySet_GET_SIZE(handles) == 0;
    if (frees) {
        if (content == NULL || !PyByteArray_CheckExact(content)) {
            return 0; /* sparse or mapped: its pages and clear() are the Python code's */
        }
        pages = (PyByteArray_GET_SIZE(content) + 4095) >> 12; /* page_count */
    }
    drop->links = PyLong_FromLongLong(links - 1);
    /* the name's own inode (tmpfs counts each link) or, for the last, the file's */
    if (drop->links != NULL && (links > 1 || frees)) {
        drop->inodes = PyLong_FromLongLong(inodes - 1);
    }
    if (drop->links != NULL && frees) {
        drop->pages = PyLong_FromLongLong(pages_used - pages);
        drop->empty = PyByteArray_FromStringAndSize(NULL, 0);
    }
    if (drop->links == NULL || ((links > 1 || frees) && drop->inodes == NULL) ||
        (frees && (drop->pages == NULL || drop->empty == NULL))) {
        drop_clear(drop);
        return -1;
    }
    return 1;
}

/* Make the change drop_prepare prepared, with the file's ctime ``now``: stores only. */
static void
drop_commit(Drop *drop, PyObject *space, PyObject *node, PyObject *now)
{
    set_slot(node, layout.i_nlink, drop->links);
    set_slot(node, layout.i_ctime, Py_NewRef(now));
    set_slot(node, layout.i_stat, Py_NewRef(Py_None));
    if (drop->inodes != NULL) {
        set_slot(space, mkdir_layout.s_used_inodes, drop->inodes);
    }
    if (drop->empty != NULL) {
        set_slot(node, mkdir_layout.i_freed, Py_NewRef(Py_True));
        set_slot(space, layout.s_used_pages, drop->pages);
        set_slot(node, layout.f_data, drop->empty); /* node.clear() of a dense file */
    }
    memset(drop, 0, sizeof(*drop)); /* (the slots hold them now) */
}

/* A directory's entries changed at ``now`` (Inode.modified, and the listing cache dropped). */
static void
entries_changed(PyObject *directory, PyObject *now)
{
    set_slot(directory, mkdir_layout.d_listed, Py_NewRef(Py_None));
    set_slot(directory, layout.i_mtime, Py_NewRef(now));
    set_slot(directory, layout.i_ctime, Py_NewRef(now));
    set_slot(directory, layout.i_stat, Py_NewRef(Py_None));
}

/* The resolver's identity when the state the fast paths read is as expected (borrowed), or
 * NULL: the classes configured before the last configure(), or another provider. */
static PyObject *
names_identity(FastPaths *paths)
{
    if (paths->fs == NULL || !Py_IS_TYPE(paths->names, layout.resolver) ||
        !Py_IS_TYPE(paths->space, layout.space)) {
        return NULL;
    }
    PyObject *who = SLOT(paths->names, layout.r_who);
    return who != NULL && Py_IS_TYPE(who, layout.identity) ? who : NULL;
}

/* os.unlink(path) and os.remove(path) (``which``) of a regular file: see above. */
static PyObject *
names_unlink(FastNames *self, int which, PyObject *const *args, Py_ssize_t nargs,
             PyObject *kwnames)
{
    FastPaths *paths = self->paths;
    if (kwnames != NULL || nargs != 1 || names_identity(paths) == NULL) {
        goto python;
    }
    PyObject *path = plain_path_of(args[0]);
    if (path == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        goto python;
    }
    PyObject *now = PyLong_FromLongLong(now_ns());
    if (now == NULL) {
        Py_DECREF(path);
        return NULL;
    }
    PyObject *names = paths->names, *space = paths->space, *name = NULL, *node = NULL;
    PyObject *directory;
    Drop drop = {NULL, NULL, NULL, NULL};
    int done = 0; /* 1: unlinked here, -1: an error */
    int taken = enter_free(paths->fs_locked, paths->fs_acquire);
    if (taken <= 0) {
        done = taken;
        goto out;
    }
    PyObject *who = names_identity(paths);
    if (plain_parent(names, path, &directory, &name)) {
        PyObject *entries = SLOT(directory, layout.dir_entries);
        node = entries != NULL && PyDict_CheckExact(entries)
            ? PyDict_GetItemWithError(entries, name) : NULL;
        /* a regular file (a directory's EISDIR, a link's forget(): Python's), may_delete */
        if (node != NULL && Py_IS_TYPE(node, layout.regular_file) &&
            may_remove(names, who, directory, node) &&
            (done = drop_prepare(&drop, space, node)) == 1) {
            Py_INCREF(node); /* kept past its entry */
            /* the one change that may fail comes first; then stores only, as _detach */
            if (PyDict_DelItem(entries, name) < 0) {
                done = -1;
                drop_clear(&drop);
            }
            else {
                entries_changed(directory, now);
                drop_commit(&drop, space, node, now);
            }
        }
        else {
            node = NULL;
        }
    }
    if (PyErr_Occurred()) {
        done = -1;
    }
    if (leave_free(paths->fs_locked, paths->fs_release) < 0) {
        done = -1;
    }
out:
    Py_XDECREF(node); /* (may free the file: after the lock) */
    Py_XDECREF(name);
    Py_DECREF(now);
    Py_DECREF(path);
    if (done == 1) {
        Py_RETURN_NONE;
    }
    if (done < 0) {
        return NULL;
    }
python:
    return PyObject_Vectorcall(self->python[which], args, nargs, kwnames);
}

/* os.rename(src, dst) and os.replace(src, dst) (``which``) of a regular file, onto a new name
 * or over a regular file: see above. */
static PyObject *
names_rename(FastNames *self, int which, PyObject *const *args, Py_ssize_t nargs,
             PyObject *kwnames)
{
    FastPaths *paths = self->paths;
    if (kwnames != NULL || nargs != 2 || names_identity(paths) == NULL) {
        goto python;
    }
    PyObject *src = plain_path_of(args[0]);
    PyObject *dst = src == NULL ? NULL : plain_path_of(args[1]);
    if (dst == NULL) {
        Py_XDECREF(src);
        if (PyErr_Occurred()) {
            return NULL;
        }
        goto python;
    }
    PyObject *now = PyLong_FromLongLong(now_ns());
    if (now == NULL) {
        Py_DECREF(src);
        Py_DECREF(dst);
        return NULL;
    }
    PyObject *names = paths->names, *space = paths->space;
    PyObject *old_name = NULL, *new_name = NULL, *node = NULL, *victim = NULL;
    PyObject *old_dir, *new_dir;
    Drop drop = {NULL, NULL, NULL, NULL};
    int done = 0; /* 1: renamed here (or nothing to do), -1: an error */
    int taken = enter_free(paths->fs_locked, paths->fs_acquire);
    if (taken <= 0) {
        done = taken;
        goto out;
    }
    PyObject *who = names_identity(paths);
    long long links;
    /* rename_lookup's order: the source's directory, then the target's */
    if (!plain_parent(names, src, &old_dir, &old_name) ||
        !plain_parent(names, dst, &new_dir, &new_name)) {
        goto unlock;
    }
    PyObject *old_entries = SLOT(old_dir, layout.dir_entries);
    PyObject *new_entries = SLOT(new_dir, layout.dir_entries);
    if (old_entries == NULL || !PyDict_CheckExact(old_entries) || new_entries == NULL ||
        !PyDict_CheckExact(new_entries)) {
        goto unlock;
    }
    PyObject *found = PyDict_GetItemWithError(old_entries, old_name);
    if (found == NULL || !Py_IS_TYPE(found, layout.regular_file)) {
        goto unlock; /* ENOENT, a directory, a link (forget()): Python's */
    }
    PyObject *replaced = PyDict_GetItemWithError(new_entries, new_name);
    if (replaced == found) {
        done = 1; /* the same file under both names: rename(2) does nothing */
        goto unlock;
    }
    if ((replaced == NULL && PyErr_Occurred()) ||
        (replaced != NULL && !Py_IS_TYPE(replaced, layout.regular_file))) {
        goto unlock; /* over a directory (EISDIR) or a link: Python's */
    }
    /* vfs_rename: may_delete on the source, then may_create or may_delete on the target */
    if (!may_remove(names, who, old_dir, found)) {
        goto unlock;
    }
    if (replaced == NULL) {
        if (!exact_long(SLOT(new_dir, layout.i_nlink), &links) || links <= 0 ||
            (SLOT(names, layout.r_check) != Py_False && permitted(new_dir, who, 3) != 1)) {
            goto unlock; /* a removed directory's ENOENT, EACCES: Python's */
        }
    }
    else if (!may_remove(names, who, new_dir, replaced) ||
             (done = drop_prepare(&drop, space, replaced)) != 1) {
        goto unlock;
    }
    node = Py_NewRef(found);
    victim = Py_XNewRef(replaced); /* kept past its entry */
    /* the new name first (replacing the victim's entry), the one store that may fail; the
     * old name's removal cannot then (an existing key, a str's hash kept), and were it to,
     * the new entry is undone: never under neither name, nor under both */
    if (PyDict_SetItem(new_entries, new_name, node) < 0) {
        drop_clear(&drop);
        done = -1;
        goto unlock;
    }
    if (PyDict_DelItem(old_entries, old_name) < 0) {
        if (victim != NULL) {
            PyDict_SetItem(new_entries, new_name, victim); /* (an existing key: no failure) */
        }
        else {
            PyDict_DelItem(new_entries, new_name);
        }
        drop_clear(&drop);
        done = -1;
        goto unlock;
    }
    entries_changed(new_dir, now);
    entries_changed(old_dir, now);
    set_slot(node, layout.i_ctime, Py_NewRef(now));
    set_slot(node, layout.i_stat, Py_NewRef(Py_None));
    if (victim != NULL) {
        drop_commit(&drop, space, victim, now);
    }
    done = 1;
unlock:
    if (PyErr_Occurred()) {
        done = -1;
    }
    if (leave_free(paths->fs_locked, paths->fs_release) < 0) {
        done = -1;
    }
out:
    Py_XDECREF(node);
    Py_XDECREF(victim); /* (may free the replaced file: after the lock) */
    Py_XDECREF(old_name);
    Py_XDECREF(new_name);
    Py_DECREF(now);
    Py_DECREF(src);
    Py_DECREF(dst);
    if (done == 1) {
        Py_RETURN_NONE;
    }
    if (done < 0) {
        return NULL;
    }
python:
    return PyObject_Vectorcall(self->python[which], args, nargs, kwnames);
}

PyDoc_STRVAR(fast_names_unlink_doc,
"unlink($self, /, path, *, dir_fd=None)\n--\n\n"
"os.unlink.");

static PyObject *
fast_names_unlink(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return names_unlink((FastNames *)self, NAMES_UNLINK, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_names_remove_doc,
"remove($self, /, path, *, dir_fd=None)\n--\n\n"
"os.remove (the same as unlink; only its name in error messages differs).");

static PyObject *
fast_names_remove(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return names_unlink((FastNames *)self, NAMES_REMOVE, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_names_rename_doc,
"rename($self, /, src, dst, *, src_dir_fd=None, dst_dir_fd=None)\n--\n\n"
"os.rename.");

static PyObject *
fast_names_rename(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return names_rename((FastNames *)self, NAMES_RENAME, args, nargs, kwnames);
}

PyDoc_STRVAR(fast_names_replace_doc,
"replace($self, /, src, dst, *, src_dir_fd=None, dst_dir_fd=None)\n--\n\n"
"os.replace (rename(2) already replaces).");

static PyObject *
fast_names_replace(PyObject *self, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    return names_rename((FastNames *)self, NAMES_REPLACE, args, nargs, kwnames);
}

static PyMethodDef fast_names_methods[] = {
    {"unlink", (PyCFunction)(void (*)(void))fast_names_unlink, METH_FASTCALL | METH_KEYWORDS,
     fast_names_unlink_doc},
    {"remove", (PyCFunction)(void (*)(void))fast_names_remove, METH_FASTCALL | METH_KEYWORDS,
     fast_names_remove_doc},
    {"rename", (PyCFunction)(void (*)(void))fast_names_rename, METH_FASTCALL | METH_KEYWORDS,
     fast_names_rename_doc},
    {"replace", (PyCFunction)(void (*)(void))fast_names_replace, METH_FASTCALL | METH_KEYWORDS,
     fast_names_replace_doc},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(fast_names_doc,
"FastNames(fast_paths, *, unlink, remove, rename, replace)\n--\n\n"
"A backend's os.unlink, os.remove, os.rename and os.replace: a regular file's plain absolute\n"
"names on its MemoryFileSystem changed here, every other case by the backend's Python\n"
"method given for each (bound).");

static PyType_Slot fast_names_slots[] = {
    {Py_tp_doc, (void *)fast_names_doc},
    {Py_tp_new, fast_names_new},
    {Py_tp_dealloc, fast_names_dealloc},
    {Py_tp_traverse, fast_names_traverse},
    {Py_tp_clear, fast_names_clear},
    {Py_tp_methods, fast_names_methods},
    {0, NULL},
};

static PyType_Spec fast_names_spec = {
    .name = "posixbackend._speedups.FastNames",
    .basicsize = sizeof(FastNames),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = fast_names_slots,
};

static PyMethodDef module_methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_VARARGS | METH_KEYWORDS,
     configure_doc},
    {"configure_raw_file", (PyCFunction)(void (*)(void))configure_raw_file,
     METH_VARARGS | METH_KEYWORDS, configure_raw_file_doc},
    {"truncated_stat", (PyCFunction)(void (*)(void))truncated_stat, METH_FASTCALL,
     truncated_stat_doc},
    {"memory_mode", (PyCFunction)(void (*)(void))memory_mode, METH_FASTCALL, memory_mode_doc},
    {"configure_stat_view", (PyCFunction)configure_stat_view, METH_O, configure_stat_view_doc},
    {"configure_mkdir", (PyCFunction)(void (*)(void))configure_mkdir,
     METH_VARARGS | METH_KEYWORDS, configure_mkdir_doc},
    {"new_raw_file", (PyCFunction)(void (*)(void))new_raw_file, METH_FASTCALL,
     new_raw_file_doc},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posixbackend._speedups",
    .m_doc = "The C fast paths of the emulated backend's read, lseek, open, close and stat, of "
             "a memory handle's pwrite, and of its FileIO's methods.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__speedups(void)
{
    static const InternedString strings[] = {
        {&str_release, "release"}, {&str_close, "close"}, {&str_init, "__init__"},
        {&str_readinto, "readinto"}, {&str_readall, "readall"}, {&str_write, "write"},
        {&str_tell, "tell"}, {&str_seek, "seek"}, {&str_close_method, "close"},
        {&str_fileno, "fileno"}, {&str_readable, "readable"}, {&str_writable, "writable"},
        {&str_seekable, "seekable"}, {&str_isatty, "isatty"},
        {&str_finish_open, "_finish_open"}, {&str_internal_close, "_internal_close"},
        {&str_os_module, "os_module"}, {&str_default_os, "_default_os"},
        {&str_python_init, "_python_init"}, {&str_name, "name"},
        {&str_read, "read"}, {&str_open, "open"}, {&str_set, "__set__"},
        {&str_delete, "__delete__"}, {&str_acquire, "acquire"}, {&str_names, "_names"},
        {&str_lock, "_lock"}, {&str_stat, "stat"}, {&str_umask, "_umask"},
        {&str_space, "_space"}, {&str_dev, "_dev"}, {&str_inodes, "_inodes"},
    };
    if (intern_strings(strings, sizeof(strings) / sizeof(strings[0])) < 0 ||
        find_stat_result() < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    PyObject *type = PyType_FromSpec(&fast_paths_spec);
    if (add_object(module, "FastPaths", type) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    fast_paths_type = (PyTypeObject *)type; /* the module keeps it (m_size -1: never freed) */
    PyObject *io_module = PyImport_ImportModule("_io");
    PyObject *raw_io_base = io_module ? PyObject_GetAttrString(io_module, "_RawIOBase") : NULL;
    Py_XDECREF(io_module);
    type = raw_io_base ? PyType_FromSpecWithBases(&raw_file_base_spec, raw_io_base) : NULL;
    Py_XDECREF(raw_io_base);
    PyObject *writer_type = PyType_FromSpec(&memory_writer_spec);
    memory_writer_type = (PyTypeObject *)writer_type;
    if (add_object(module, "FastMkdir", PyType_FromSpec(&fast_mkdir_spec)) < 0 ||
        add_object(module, "FastNames", PyType_FromSpec(&fast_names_spec)) < 0 ||
        add_object(module, "FastCopies", PyType_FromSpec(&fast_copies_spec)) < 0 ||
        add_object(module, "FastEntryStat", PyType_FromSpec(&fast_entry_stat_spec)) < 0 ||
        add_object(module, "FastCopyStats", PyType_FromSpec(&fast_copy_stats_spec)) < 0 ||
        add_object(module, "FastOpen", PyType_FromSpec(&open_stream_spec)) < 0 ||
        add_object(module, "RawFileBase", type) < 0 ||
        add_object(module, "MemoryWriter", writer_type) < 0 ||
        add_object(module, MEMORY_WRITER_API_ATTRIBUTE,
                   PyCapsule_New((void *)&memory_writer_api, MEMORY_WRITER_API_NAME, NULL)) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    PyObject *reads = PyDict_New();
    if (reads == NULL || collect_slot_reads(reads, layout_reads, LAYOUT_READS) < 0 ||
        collect_slot_reads(reads, raw_reads, RAW_READS) < 0 ||
        collect_slot_reads(reads, mkdir_reads, MKDIR_READS) < 0) {
        Py_XDECREF(reads);
        Py_DECREF(module);
        return NULL;
    }
    if (add_object(module, "SLOT_READS", reads) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
