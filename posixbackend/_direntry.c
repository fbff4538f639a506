/* posixbackend._direntry: os.DirEntry and the os.scandir iterator of the emulated backend, in C.
 *
 * The same behaviour as posixbackend/emulated/direntry.py (the definition; read its
 * docstrings), without a Python frame or a GC-tracked record per entry: CPython's own
 * DirEntry (Modules/posixmodule.c) costs one small object per entry, and so does this one.
 *
 * An entry holds its name, path, type (the S_IFMT bits, 0 when unknown), inode number, the
 * scan's stat function and its cached stat and lstat results. It joins the cycle collector
 * only once it caches a stat result (entry_track): a list of a million fresh entries then costs
 * the collector nothing, as CPython's untracked DirEntry does (tracked from the start, keeping
 * 1e5 entries cost 2-2.5x native instead of 0.6x). The price: a fresh entry stored on an
 * object its stat function reaches (the backend, its file system) makes a cycle the collector
 * cannot see, freed only when broken -- gap os.DirEntry.uncollected_cycle (accelerator.py).
 *
 * The iterator reads either a provider's listing (an iterable of DirEntryInfo-like records)
 * or, for a MemoryFileSystem, a snapshot of a directory's names and nodes taken under the file
 * system's lock (scan_nodes): each entry's type and inode number are then read from the node's
 * slots, which never change for a node's life (its S_IFMT bits and number are fixed).
 */

#include "_accel_common.h"
#include <string.h>
#include <sys/stat.h>

static PyTypeObject *entry_type;
static PyTypeObject *iterator_type;
/* Where the memory file system's Inode keeps what an entry reads (set by configure). */
typedef struct {
    PyTypeObject *inode;  /* vfs.memory.nodes.Inode, once configured */
    Py_ssize_t mode, ino; /* its ``mode`` and ``ino`` slots */
} InodeLayout;

static InodeLayout layout;

/* The slots of Inode an entry reads (Inode.__accelerated_slots__ names them with _speedups'). */
#define READ(role, slot, field) SLOT_READ(InodeLayout, role, slot, field)
static const SlotRead inode_reads[] = {
    READ(inode, "mode", mode),
    READ(inode, "ino", ino),
};
#undef READ
#define INODE_READS (sizeof(inode_reads) / sizeof(inode_reads[0]))
static PyObject *str_name, *str_type, *str_inode, *str_st_mode, *str_errno,
    *str_suppress_context;

/* -- DirEntry ------------------------------------------------------------------------------ */

typedef struct {
    PyObject_HEAD
    PyObject *name;  /* str, or bytes for a bytes scan */
    PyObject *path;  /* the scanned path joined with name, or name for a scanned fd */
    PyObject *inode; /* int */
    PyObject *stat_function;
    PyObject *stat;  /* cached stat(), or NULL */
    PyObject *lstat; /* cached lstat, or NULL */
    int type;        /* S_IFMT bits, or 0 (UNKNOWN_TYPE) */
} Entry;

static int
entry_traverse(Entry *self, visitproc visit, void *arg)
{
    Py_VISIT(self->stat_function);
    Py_VISIT(self->stat);
    Py_VISIT(self->lstat);
    return 0;
}

static int
entry_clear(Entry *self)
{
    Py_CLEAR(self->stat_function);
    Py_CLEAR(self->stat);
    Py_CLEAR(self->lstat);
    return 0;
}

static void
entry_dealloc(Entry *self)
{
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    entry_clear(self);
    Py_CLEAR(self->name);
    Py_CLEAR(self->path);
    Py_CLEAR(self->inode);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* ``directory/`` as CPython's join_path_filename puts it before a name (no separator after an
 * empty directory or one that ends with it); NULL with no error for a scanned fd (or anything
 * that is neither str nor bytes): its entries' path is the bare name. */
static PyObject *
path_prefix(PyObject *directory)
{
    if (PyUnicode_Check(directory)) {
        Py_ssize_t length = PyUnicode_GET_LENGTH(directory);
        if (length == 0 || PyUnicode_READ_CHAR(directory, length - 1) == '/') {
            return Py_NewRef(directory);
        }
        return PyUnicode_FromFormat("%U/", directory);
    }
    if (PyBytes_Check(directory)) {
        Py_ssize_t length = PyBytes_GET_SIZE(directory);
        if (length == 0 || PyBytes_AS_STRING(directory)[length - 1] == '/') {
            return Py_NewRef(directory);
        }
        return PyBytes_FromFormat("%s/", PyBytes_AS_STRING(directory));
    }
    return NULL;
}

/* A new entry (one reference) named ``name`` (a str) under ``prefix`` (from path_prefix; NULL
 * for a fd scan), its inode number ``inode`` borrowed. ``bytes`` makes name and path bytes. */
static PyObject *
make_entry(PyObject *prefix, int bytes, PyObject *name, int type, PyObject *inode,
           PyObject *stat_function)
{
    if (!PyUnicode_Check(name)) {
        PyErr_Format(PyExc_TypeError, "an entry's name must be str, not %.200s",
                     Py_TYPE(name)->tp_name);
        return NULL;
    }
    Entry *self = PyObject_GC_New(Entry, entry_type);
    if (self == NULL) {
        return NULL;
    }
    self->name = self->path = self->stat = self->lstat = NULL;
    self->inode = Py_NewRef(inode);
    self->stat_function = Py_NewRef(stat_function);
    self->type = type;
    if (bytes) {
        self->name = PyUnicode_EncodeFSDefault(name); /* os.fsencode */
    } else {
        self->name = Py_NewRef(name);
    }
    if (self->name == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    if (prefix == NULL) {
        self->path = Py_NewRef(self->name);
    } else if (bytes) {
        self->path = Py_NewRef(prefix);
        PyBytes_Concat(&self->path, self->name);
    } else {
        self->path = PyUnicode_Concat(prefix, self->name);
    }
    if (self->path == NULL) {
        Py_DECREF(self);
        return NULL;
    }
    /* Untracked until it caches a result (see the top of this file). */
    return (PyObject *)self;
}

/* Track the entry for the cycle collector once it holds a stat result, if not tracked yet. */
static inline void
entry_track(Entry *self)
{
    if (!PyObject_GC_IsTracked((PyObject *)self)) {
        PyObject_GC_Track((PyObject *)self);
    }
}

/* The S_IFMT bits and inode number of a DirEntryInfo-like record (inode: a new reference). */
static int
read_info(PyObject *info, PyObject **name, int *type, PyObject **inode)
{
    PyObject *kind = PyObject_GetAttr(info, str_type);
    if (kind == NULL) {
        return -1;
    }
    long value = PyLong_AsLong(kind);
    Py_DECREF(kind);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    *type = (int)value;
    *name = PyObject_GetAttr(info, str_name);
    if (*name == NULL) {
        return -1;
    }
    *inode = PyObject_GetAttr(info, str_inode);
    if (*inode == NULL) {
        Py_CLEAR(*name);
        return -1;
    }
    return 0;
}

static PyObject *
entry_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"directory", "info", "stat", NULL};
    PyObject *directory, *info, *stat_function, *name, *inode;
    int kind;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO:DirEntry", keywords, &directory, &info,
                                     &stat_function)) {
        return NULL;
    }
    if (read_info(info, &name, &kind, &inode) < 0) {
        return NULL;
    }
    PyObject *prefix = path_prefix(directory);
    PyObject *self = NULL;
    if (prefix != NULL || !PyErr_Occurred()) {
        self = make_entry(prefix, PyBytes_Check(directory), name, kind, inode, stat_function);
    }
    Py_XDECREF(prefix);
    Py_DECREF(name);
    Py_DECREF(inode);
    return self;
}

/* The stat function's answer for the entry, or NULL with the error CPython's DirEntry would
 * raise: an OSError renamed to OSError(errno, strerror(errno), path), others unchanged. */
static PyObject *
fetch_stat(Entry *self, int follow_symlinks)
{
    PyObject *path = self->path;
    if (PyBytes_Check(path)) {
        path = PyUnicode_DecodeFSDefaultAndSize(PyBytes_AS_STRING(path), PyBytes_GET_SIZE(path));
        if (path == NULL) {
            return NULL;
        }
    } else {
        Py_INCREF(path);
    }
    PyObject *arguments[] = {path, follow_symlinks ? Py_True : Py_False};
    PyObject *result = PyObject_Vectorcall(self->stat_function, arguments, 2, NULL);
    Py_DECREF(path);
    if (result != NULL || !PyErr_ExceptionMatches(PyExc_OSError)) {
        return result;
    }
    PyObject *type, *error, *traceback;
    PyErr_Fetch(&type, &error, &traceback);
    PyErr_NormalizeException(&type, &error, &traceback);
    if (traceback != NULL) {
        PyException_SetTraceback(error, traceback);
    }
    PyObject *number = PyObject_GetAttr(error, str_errno);
    if (number == NULL || number == Py_None) {
        Py_XDECREF(number);
        if (number == NULL) { /* errno unreadable: this error, chained to the first */
            PyObject *type2, *error2, *traceback2;
            PyErr_Fetch(&type2, &error2, &traceback2);
            PyErr_NormalizeException(&type2, &error2, &traceback2);
            PyException_SetContext(error2, error);
            Py_DECREF(type);
            Py_XDECREF(traceback);
            PyErr_Restore(type2, error2, traceback2);
            return NULL;
        }
        PyErr_Restore(type, error, traceback);
        return NULL;
    }
    PyObject *renamed = NULL;
    long code = PyLong_AsLong(number);
    if (!(code == -1 && PyErr_Occurred())) {
        const char *message = strerror((int)code);
        PyObject *text = PyUnicode_DecodeLocale(message, "surrogateescape");
        if (text != NULL) {
            renamed = PyObject_CallFunctionObjArgs(PyExc_OSError, number, text, self->path,
                                                   NULL);
            Py_DECREF(text);
        }
    }
    Py_DECREF(number);
    if (renamed == NULL) { /* as in Python: the new failure, its context the first */
        PyObject *type2, *error2, *traceback2;
        PyErr_Fetch(&type2, &error2, &traceback2);
        PyErr_NormalizeException(&type2, &error2, &traceback2);
        PyException_SetContext(error2, error);
        Py_DECREF(type);
        Py_XDECREF(traceback);
        PyErr_Restore(type2, error2, traceback2);
        return NULL;
    }
    /* ``raise OSError(...) from None`` inside ``except OSError as error``. */
    PyException_SetContext(renamed, error); /* steals error */
    Py_DECREF(type);
    Py_XDECREF(traceback);
    if (PyObject_SetAttr(renamed, str_suppress_context, Py_True) < 0) {
        Py_DECREF(renamed);
        return NULL;
    }
    PyErr_Restore(Py_NewRef(Py_TYPE(renamed)), renamed, NULL);
    return NULL;
}

static int test_mode(Entry *self, int follow_symlinks, int bits);

/* The cached lstat result (a new reference), fetched on first use. */
static PyObject *
get_lstat(Entry *self)
{
    if (self->lstat == NULL) {
        PyObject *result = fetch_stat(self, 0);
        if (result == NULL) {
            return NULL;
        }
        Py_XSETREF(self->lstat, result);
        entry_track(self);
    }
    return Py_NewRef(self->lstat);
}

static PyObject *
get_stat(Entry *self, int follow_symlinks)
{
    if (!follow_symlinks) {
        return get_lstat(self);
    }
    if (self->stat == NULL) {
        /* is_symlink(): from the type, else an lstat (a vanished entry is no link) */
        int link = self->type != 0 ? self->type == S_IFLNK : test_mode(self, 0, S_IFLNK);
        if (link < 0) {
            return NULL;
        }
        PyObject *result = link ? fetch_stat(self, 1) : get_lstat(self);
        if (result == NULL) {
            return NULL;
        }
        Py_XSETREF(self->stat, result);
        entry_track(self);
    }
    return Py_NewRef(self->stat);
}

/* CPython's DirEntry_test_mode: 1, 0, or -1 with an error. */
static int
test_mode(Entry *self, int follow_symlinks, int bits)
{
    if (self->type != 0 && !(follow_symlinks && self->type == S_IFLNK)) {
        return self->type == bits; /* an unfollowed link is neither file nor directory */
    }
    PyObject *status = get_stat(self, follow_symlinks);
    if (status == NULL) {
        if (PyErr_ExceptionMatches(PyExc_FileNotFoundError)) { /* gone, or a dangling link */
            PyErr_Clear();
            return 0;
        }
        return -1;
    }
    PyObject *mode = PyObject_GetAttr(status, str_st_mode);
    Py_DECREF(status);
    long value = mode == NULL ? -1 : PyLong_AsLong(mode);
    Py_XDECREF(mode);
    if (value == -1 && PyErr_Occurred()) {
        return -1;
    }
    return (value & S_IFMT) == bits;
}

/* The keyword-only ``follow_symlinks`` (default true), taken for its truth; -1 on error. */
static int
follow_argument(const char *function, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) == 0 && (kwargs == NULL || PyDict_GET_SIZE(kwargs) == 0)) {
        return 1;
    }
    static char *keywords[] = {"follow_symlinks", NULL};
    int follow = 1;
    char format[64];
    PyOS_snprintf(format, sizeof(format), "|$p:%s", function);
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, format, keywords, &follow)) {
        return -1;
    }
    return follow;
}

static PyObject *
answer(int result)
{
    if (result < 0) {
        return NULL;
    }
    return PyBool_FromLong(result);
}

static PyObject *
entry_is_dir(Entry *self, PyObject *args, PyObject *kwargs)
{
    int follow = follow_argument("is_dir", args, kwargs);
    return follow < 0 ? NULL : answer(test_mode(self, follow, S_IFDIR));
}

static PyObject *
entry_is_file(Entry *self, PyObject *args, PyObject *kwargs)
{
    int follow = follow_argument("is_file", args, kwargs);
    return follow < 0 ? NULL : answer(test_mode(self, follow, S_IFREG));
}

static PyObject *
entry_is_symlink(Entry *self, PyObject *unused)
{
    if (self->type != 0) {
        return PyBool_FromLong(self->type == S_IFLNK);
    }
    return answer(test_mode(self, 0, S_IFLNK));
}

#if PY_VERSION_HEX >= 0x030C0000
static PyObject *
entry_is_junction(Entry *self, PyObject *unused)
{
    Py_RETURN_FALSE; /* a Windows junction: never, on POSIX */
}
#endif

static PyObject *
entry_stat(Entry *self, PyObject *args, PyObject *kwargs)
{
    int follow = follow_argument("stat", args, kwargs);
    return follow < 0 ? NULL : get_stat(self, follow);
}

static PyObject *
entry_inode(Entry *self, PyObject *unused)
{
    return Py_NewRef(self->inode);
}

static PyObject *
entry_fspath(Entry *self, PyObject *unused)
{
    return Py_NewRef(self->path);
}

static PyObject *
refuse_pickle(PyObject *self, PyObject *protocol)
{
    PyErr_Format(PyExc_TypeError, "cannot pickle '%s' object",
                 strrchr(Py_TYPE(self)->tp_name, '.') + 1);
    return NULL;
}

static PyObject *
entry_repr(Entry *self)
{
    return PyUnicode_FromFormat("<DirEntry %R>", self->name);
}

static PyMethodDef entry_methods[] = {
    {"is_dir", (PyCFunction)(void (*)(void))entry_is_dir, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Whether the entry is a directory (False if gone); stats only a link or an "
               "unknown type.")},
    {"is_file", (PyCFunction)(void (*)(void))entry_is_file, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("Whether the entry is a regular file (False if gone); stats only a link or "
               "an unknown type.")},
    {"is_symlink", (PyCFunction)entry_is_symlink, METH_NOARGS,
     PyDoc_STR("Whether the entry is a symbolic link: from the entry type, lstat only if "
               "unknown.")},
#if PY_VERSION_HEX >= 0x030C0000
    {"is_junction", (PyCFunction)entry_is_junction, METH_NOARGS,
     PyDoc_STR("Whether the entry is a Windows junction: never, on POSIX.")},
#endif
    {"stat", (PyCFunction)(void (*)(void))entry_stat, METH_VARARGS | METH_KEYWORDS,
     PyDoc_STR("The entry's status, cached; for anything but a link stat() reuses the "
               "lstat.")},
    {"inode", (PyCFunction)entry_inode, METH_NOARGS,
     PyDoc_STR("The inode number readdir reported (no system call).")},
    {"__fspath__", (PyCFunction)entry_fspath, METH_NOARGS, NULL},
    {"__reduce_ex__", (PyCFunction)refuse_pickle, METH_O, NULL},
    {"__class_getitem__", Py_GenericAlias, METH_O | METH_CLASS,
     PyDoc_STR("DirEntry[str]: generic over the type of its path, as os.DirEntry is.")},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef entry_members[] = {
    {"name", Py_T_OBJECT_EX, offsetof(Entry, name), Py_READONLY,
     PyDoc_STR("The entry's file name, relative to the scanned directory.")},
    {"path", Py_T_OBJECT_EX, offsetof(Entry, path), Py_READONLY,
     PyDoc_STR("The scanned directory joined with name (just the name for a scanned fd).")},
    {NULL, 0, 0, 0, NULL},
};

PyDoc_STRVAR(entry_doc,
"DirEntry(directory, info, stat)\n--\n\n"
"One entry of an emulated scandir: behaves like os.DirEntry, call for call\n"
"(posixbackend.emulated.direntry.DirEntry in C).");

static PyType_Slot entry_slots[] = {
    {Py_tp_doc, (void *)entry_doc},
    {Py_tp_new, entry_new},
    {Py_tp_dealloc, entry_dealloc},
    {Py_tp_traverse, entry_traverse},
    {Py_tp_clear, entry_clear},
    {Py_tp_repr, entry_repr},
    {Py_tp_methods, entry_methods},
    {Py_tp_members, entry_members},
    {0, NULL},
};

static PyType_Spec entry_spec = {
    .name = "posixbackend._direntry.DirEntry",
    .basicsize = sizeof(Entry),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = entry_slots,
};

/* -- ScandirIterator ----------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *prefix;   /* from path_prefix, or NULL for a fd scan */
    PyObject *infos;    /* an iterator of DirEntryInfo records, or NULL */
    PyObject *names;    /* a memory directory's names (list), or NULL */
    PyObject *nodes;    /* their nodes (list, same length) */
    Py_ssize_t next;    /* the index of the next name */
    PyObject *stat_function;
    PyObject *on_close; /* runs once, when the iterator closes; or NULL */
    int bytes;          /* a bytes scan: names and paths are bytes */
    int open;
} Iterator;

static int
iterator_traverse(Iterator *self, visitproc visit, void *arg)
{
    Py_VISIT(self->infos);
    Py_VISIT(self->names);
    Py_VISIT(self->nodes);
    Py_VISIT(self->stat_function);
    Py_VISIT(self->on_close);
    return 0;
}

static int
iterator_clear(Iterator *self)
{
    self->open = 0;
    Py_CLEAR(self->prefix);
    Py_CLEAR(self->infos);
    Py_CLEAR(self->names);
    Py_CLEAR(self->nodes);
    Py_CLEAR(self->stat_function);
    Py_CLEAR(self->on_close);
    return 0;
}

/* closedir: forget the listing, then run on_close once. 0, or -1 with its error. */
static int
iterator_close_now(Iterator *self)
{
    if (!self->open) {
        return 0;
    }
    self->open = 0;
    Py_CLEAR(self->infos);
    Py_CLEAR(self->names);
    Py_CLEAR(self->nodes);
    PyObject *on_close = self->on_close;
    self->on_close = NULL;
    if (on_close == NULL) {
        return 0;
    }
    PyObject *result = PyObject_CallNoArgs(on_close);
    Py_DECREF(on_close);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

static void
iterator_finalize(Iterator *self)
{
    if (!self->open) { /* closed, or never finished its __init__ */
        return;
    }
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (iterator_close_now(self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
    /* stacklevel 1: the frame that dropped the last reference, as CPython's does */
    if (PyErr_ResourceWarning((PyObject *)self, 1, "unclosed scandir iterator %R", self) < 0) {
        PyErr_WriteUnraisable((PyObject *)self);
    }
    PyErr_Restore(type, value, traceback);
}

static void
iterator_dealloc(Iterator *self)
{
    if (PyObject_CallFinalizerFromDealloc((PyObject *)self) < 0) {
        return; /* resurrected */
    }
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    iterator_clear(self);
    type->tp_free((PyObject *)self);
    Py_DECREF(type);
}

/* Fill a fresh (or half-built) iterator; ``infos`` is an iterator, or NULL with names and
 * nodes given. Takes no references it is not given. */
static void
iterator_fill(Iterator *self, PyObject *prefix, int bytes, PyObject *infos, PyObject *names,
              PyObject *nodes, PyObject *stat_function, PyObject *on_close)
{
    iterator_clear(self);
    self->prefix = prefix;
    self->bytes = bytes;
    self->infos = infos;
    self->names = names;
    self->nodes = nodes;
    self->next = 0;
    self->stat_function = Py_NewRef(stat_function);
    self->on_close = on_close == Py_None ? NULL : Py_XNewRef(on_close);
    self->open = 1;
}

static int
iterator_init(Iterator *self, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"directory", "infos", "stat", "on_close", NULL};
    PyObject *directory, *infos, *stat_function, *on_close = NULL;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOO|$O:ScandirIterator", keywords,
                                     &directory, &infos, &stat_function, &on_close)) {
        return -1;
    }
    PyObject *iterator = PyObject_GetIter(infos);
    if (iterator == NULL) {
        return -1;
    }
    PyObject *prefix = path_prefix(directory);
    if (prefix == NULL && PyErr_Occurred()) {
        Py_DECREF(iterator);
        return -1;
    }
    iterator_fill(self, prefix, PyBytes_Check(directory), iterator, NULL, NULL, stat_function,
                  on_close);
    return 0;
}

/* The next entry from a memory directory's snapshot, or NULL (no error) at its end. */
static PyObject *
next_of_nodes(Iterator *self)
{
    if (self->next >= PyList_GET_SIZE(self->names)) {
        return NULL;
    }
    PyObject *name = PyList_GET_ITEM(self->names, self->next);
    PyObject *node = PyList_GET_ITEM(self->nodes, self->next);
    /* the type first: a node of another class has no slot at these offsets */
    PyObject *mode = NULL, *inode = NULL;
    if (PyObject_TypeCheck(node, layout.inode)) {
        mode = SLOT(node, layout.mode);
        inode = SLOT(node, layout.ino);
    }
    if (mode == NULL || inode == NULL) {
        PyErr_SetString(PyExc_TypeError, "scan_nodes lists memory file system nodes");
        return NULL;
    }
    long bits = PyLong_AsLong(mode);
    if (bits == -1 && PyErr_Occurred()) {
        return NULL;
    }
    self->next++;
    return make_entry(self->prefix, self->bytes, name, (int)(bits & S_IFMT), inode,
                      self->stat_function);
}

static PyObject *
next_of_infos(Iterator *self)
{
    PyObject *info = PyIter_Next(self->infos);
    if (info == NULL) {
        return NULL;
    }
    PyObject *name, *inode;
    int type;
    int status = read_info(info, &name, &type, &inode);
    Py_DECREF(info);
    if (status < 0) {
        return NULL;
    }
    PyObject *entry = make_entry(self->prefix, self->bytes, name, type, inode,
                                 self->stat_function);
    Py_DECREF(name);
    Py_DECREF(inode);
    return entry;
}

static PyObject *
iterator_next(Iterator *self)
{
    if (!self->open) {
        return NULL;
    }
    PyObject *entry = self->infos != NULL ? next_of_infos(self) : next_of_nodes(self);
    if (entry != NULL) {
        return entry;
    }
    /* exhausted, or reading failed: closed either way (a failing close chains to the error) */
    PyObject *type, *value, *traceback;
    PyErr_Fetch(&type, &value, &traceback);
    if (iterator_close_now(self) < 0 && type != NULL) {
        PyObject *type2, *value2, *traceback2;
        PyErr_NormalizeException(&type, &value, &traceback);
        if (traceback != NULL) {
            PyException_SetTraceback(value, traceback);
        }
        PyErr_Fetch(&type2, &value2, &traceback2);
        PyErr_NormalizeException(&type2, &value2, &traceback2);
        PyException_SetContext(value2, value);
        Py_DECREF(type);
        Py_XDECREF(traceback);
        PyErr_Restore(type2, value2, traceback2);
        return NULL;
    }
    if (type != NULL) {
        PyErr_Restore(type, value, traceback);
    }
    return NULL;
}

static PyObject *
iterator_close(Iterator *self, PyObject *unused)
{
    if (iterator_close_now(self) < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyObject *
iterator_enter(Iterator *self, PyObject *unused)
{
    return Py_NewRef(self);
}

static PyObject *
iterator_exit(Iterator *self, PyObject *args)
{
    return iterator_close(self, NULL);
}

static PyMethodDef iterator_methods[] = {
    {"close", (PyCFunction)iterator_close, METH_NOARGS,
     PyDoc_STR("Release the directory; later next() calls raise StopIteration. Idempotent.")},
    {"__enter__", (PyCFunction)iterator_enter, METH_NOARGS, NULL},
    {"__exit__", (PyCFunction)iterator_exit, METH_VARARGS, NULL},
    {"__reduce_ex__", (PyCFunction)refuse_pickle, METH_O, NULL},
    {NULL, NULL, 0, NULL},
};

PyDoc_STRVAR(iterator_doc,
"ScandirIterator(directory, infos, stat, *, on_close=None)\n--\n\n"
"The iterator an emulated os.scandir returns (posixbackend.emulated.direntry.ScandirIterator\n"
"in C): its own iterator and a context manager; warns if collected while open.");

static PyType_Slot iterator_slots[] = {
    {Py_tp_doc, (void *)iterator_doc},
    {Py_tp_new, PyType_GenericNew},
    {Py_tp_init, iterator_init},
    {Py_tp_dealloc, iterator_dealloc},
    {Py_tp_finalize, iterator_finalize},
    {Py_tp_traverse, iterator_traverse},
    {Py_tp_clear, iterator_clear},
    {Py_tp_iter, PyObject_SelfIter},
    {Py_tp_iternext, iterator_next},
    {Py_tp_methods, iterator_methods},
    {0, NULL},
};

static PyType_Spec iterator_spec = {
    .name = "posixbackend._direntry.ScandirIterator",
    .basicsize = sizeof(Iterator),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .slots = iterator_slots,
};

/* -- module functions ---------------------------------------------------------------------- */

static PyObject *
scan_nodes(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "scan_nodes expected 4 arguments, got %zd", nargs);
        return NULL;
    }
    PyObject *directory = args[0], *names = args[1], *nodes = args[2], *stat_function = args[3];
    if (layout.inode == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "posixbackend._direntry is not configured");
        return NULL;
    }
    if (!PyList_CheckExact(names) || !PyList_CheckExact(nodes) ||
        PyList_GET_SIZE(names) != PyList_GET_SIZE(nodes)) {
        PyErr_SetString(PyExc_TypeError, "scan_nodes takes two lists of the same length");
        return NULL;
    }
    PyObject *prefix = path_prefix(directory);
    if (prefix == NULL && PyErr_Occurred()) {
        return NULL;
    }
    Iterator *self = PyObject_GC_New(Iterator, iterator_type);
    if (self == NULL) {
        Py_XDECREF(prefix);
        return NULL;
    }
    self->prefix = self->infos = self->names = self->nodes = NULL;
    self->stat_function = self->on_close = NULL;
    self->open = 0;
    iterator_fill(self, prefix, PyBytes_Check(directory), NULL, Py_NewRef(names),
                  Py_NewRef(nodes), stat_function, NULL);
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static PyObject *
configure(PyObject *module, PyObject *inode)
{
    if (!PyType_Check(inode)) {
        PyErr_SetString(PyExc_TypeError, "configure takes the memory file system's Inode class");
        return NULL;
    }
    InodeLayout new = {(PyTypeObject *)inode, 0, 0};
    if (read_slot_offsets(inode_reads, INODE_READS, &new) < 0) {
        return NULL;
    }
    Py_INCREF(inode);
    Py_XSETREF(layout.inode, new.inode);
    layout.mode = new.mode;
    layout.ino = new.ino;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"scan_nodes", (PyCFunction)(void (*)(void))scan_nodes, METH_FASTCALL,
     PyDoc_STR("scan_nodes(directory, names, nodes, stat, /)\n--\n\n"
               "A ScandirIterator over a snapshot of a memory directory: its names and their "
               "nodes (lists),\neach entry's type and inode number read from its node.")},
    {"configure", (PyCFunction)configure, METH_O,
     PyDoc_STR("configure(inode, /)\n--\n\n"
               "Learn where the memory file system's Inode keeps its mode and number.")},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posixbackend._direntry",
    .m_doc = "os.DirEntry and the os.scandir iterator of the emulated backend, in C.",
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__direntry(void)
{
    static const InternedString strings[] = {
        {&str_name, "name"}, {&str_type, "type"}, {&str_inode, "inode"},
        {&str_st_mode, "st_mode"}, {&str_errno, "errno"},
        {&str_suppress_context, "__suppress_context__"},
    };
    if (intern_strings(strings, sizeof(strings) / sizeof(strings[0])) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    /* the module keeps the types (m_size -1: never freed), so borrowed pointers to them last */
    PyObject *entry = PyType_FromSpec(&entry_spec);
    if (add_object(module, "DirEntry", entry) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    entry_type = (PyTypeObject *)entry;
    PyObject *iterator = PyType_FromSpec(&iterator_spec);
    if (add_object(module, "ScandirIterator", iterator) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    iterator_type = (PyTypeObject *)iterator;
    PyObject *reads = PyDict_New();
    if (reads == NULL || collect_slot_reads(reads, inode_reads, INODE_READS) < 0) {
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
