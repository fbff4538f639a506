/* openat2(2) with RESOLVE_IN_ROOT called from C: the host provider's hot calls without ctypes.
 *
 * vfs/host/openat2.py calls the system call through ctypes when this module is missing (no
 * compiler at install time). ctypes spends about a microsecond converting arguments on every
 * call; every confined host operation opens through here, and a warm stat through an overlay
 * on the host does nothing else, so the two calls below are written in C:
 *
 *   open(root, fallback, path, flags, mode) -> fd
 *   stat(root, fallback, path, flags) -> os.stat_result   (open O_PATH, fstat, close)
 *
 * Both resolve `path` inside the directory descriptor `root` (the kernel confines the whole
 * walk), retry a walk that raced with a rename (EAGAIN) a few times and then hand it to
 * `fallback(path, flags, mode)`, the provider's own component-by-component walk. Errors are
 * OSError(errno, strerror) without a file name: the provider names the caller's path. Each
 * call raises the audit event vfs.host.openat2 (root, path, flags). Which
 * open(2) flags openat2 accepts is set once by configure(), from openat2.py's own constants,
 * so the rules live in one place.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <limits.h>
#include <fcntl.h>
#include <stdint.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_openat2
#define SYS_openat2 437 /* the same on every architecture (new calls share one table) */
#endif

struct how { /* struct open_how of <linux/openat2.h>, spelled here: older headers lack it */
    uint64_t flags;
    uint64_t mode;
    uint64_t resolve;
};

/* Set once by configure(): the flags openat2 accepts with O_PATH, without it, and the resolve
 * bits. Until then every call fails with RuntimeError rather than guess. */
static uint64_t path_flags, open_flags, resolve_bits;
static int configured;
static int retries = 4; /* EAGAIN rounds before the fallback walk */
static PyObject *posix_fstat; /* posix.fstat: builds the stat_result the os module builds */

static long
call_openat2(int root, const char *path, uint64_t flags, uint64_t mode)
{
    struct how how;
    flags |= O_CLOEXEC;
    flags &= (flags & O_PATH) ? path_flags : open_flags;
    if (!(flags & (O_CREAT | O_TMPFILE)))
        mode = 0; /* openat2 refuses a mode it would not use, where open(2) ignores it */
    how.flags = flags;
    how.mode = mode & 07777;
    how.resolve = resolve_bits;
    return syscall(SYS_openat2, root, path, &how, sizeof how);
}

/* The descriptor `path` opens to inside `root`, or -1 with a Python error set. The GIL is
 * released around the call (a host disk may be slow); EINTR retries unless a signal handler
 * raised. */
static int
open_in_root(int root, PyObject *fallback, PyObject *path, long flags, long mode)
{
    PyObject *encoded = NULL;
    const char *bytes;
    Py_ssize_t size;
    long fd;
    int round;

    if (!configured) {
        PyErr_SetString(PyExc_RuntimeError, "vfs.host._inroot used before configure()");
        return -1;
    }
    if (!PyUnicode_Check(path)) {
        PyErr_Format(PyExc_TypeError, "path should be str, not %.200s", Py_TYPE(path)->tp_name);
        return -1;
    }
    /* Any code can call this module, and it reaches the host's files from any directory
     * descriptor it is given: the audit event lets a permission hook refuse it to a guest, as
     * the ctypes call it replaces raised ctypes.call_function. (Costs nothing without hooks.) */
    if (PySys_Audit("vfs.host.openat2", "iOl", root, path, flags) < 0)
        return -1;
    if (PyUnicode_IS_ASCII(path)) { /* the common case: the str's own bytes, no copy */
        bytes = PyUnicode_AsUTF8AndSize(path, &size);
        if (bytes == NULL)
            return -1;
    }
    else { /* what os.fsencode gives */
        encoded = PyUnicode_EncodeFSDefault(path);
        if (encoded == NULL)
            return -1;
        bytes = PyBytes_AS_STRING(encoded);
        size = PyBytes_GET_SIZE(encoded);
    }
    if ((Py_ssize_t)strlen(bytes) != size) {
        Py_XDECREF(encoded);
        PyErr_SetString(PyExc_ValueError, "embedded null byte");
        return -1;
    }
    for (round = 0; round < retries;) {
        Py_BEGIN_ALLOW_THREADS
        fd = call_openat2(root, bytes, (uint64_t)flags, (uint64_t)mode);
        Py_END_ALLOW_THREADS
        if (fd >= 0) {
            Py_XDECREF(encoded);
            return (int)fd;
        }
        if (errno == EINTR) {
            if (PyErr_CheckSignals() < 0) {
                Py_XDECREF(encoded);
                return -1;
            }
            continue;
        }
        if (errno != EAGAIN) {
            PyErr_SetFromErrno(PyExc_OSError);
            Py_XDECREF(encoded);
            return -1;
        }
        round++;
    }
    Py_XDECREF(encoded);
    /* kept racing with renames: the provider's own walk decides */
    PyObject *result = PyObject_CallFunction(fallback, "Oll", path, flags, mode);
    if (result == NULL)
        return -1;
    long walked = PyLong_AsLong(result);
    Py_DECREF(result);
    if (walked == -1 && PyErr_Occurred())
        return -1;
    return (int)walked;
}

static int
parse_common(PyObject *const *args, Py_ssize_t nargs, Py_ssize_t want, const char *name,
             int *root, long *flags)
{
    if (nargs != want) {
        PyErr_Format(PyExc_TypeError, "%s() takes exactly %zd arguments (%zd given)", name,
                     want, nargs);
        return -1;
    }
    long number = PyLong_AsLong(args[0]);
    if (number == -1 && PyErr_Occurred())
        return -1;
    if (number < INT_MIN || number > INT_MAX) {
        PyErr_SetString(PyExc_OverflowError, "fd is greater than maximum");
        return -1;
    }
    *root = (int)number;
    *flags = PyLong_AsLong(args[3]);
    if (*flags == -1 && PyErr_Occurred())
        return -1;
    return 0;
}

static PyObject *
inroot_open(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int root;
    long flags, mode;
    if (parse_common(args, nargs, 5, "open", &root, &flags) < 0)
        return NULL;
    mode = PyLong_AsLong(args[4]);
    if (mode == -1 && PyErr_Occurred())
        return NULL;
    int fd = open_in_root(root, args[1], args[2], flags, mode);
    if (fd < 0)
        return NULL;
    return PyLong_FromLong(fd);
}

static PyObject *
inroot_stat(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    int root;
    long flags;
    if (parse_common(args, nargs, 4, "stat", &root, &flags) < 0)
        return NULL;
    int fd = open_in_root(root, args[1], args[2], flags | O_PATH, 0);
    if (fd < 0)
        return NULL;
    PyObject *number = PyLong_FromLong(fd);
    PyObject *result = number == NULL ? NULL : PyObject_CallOneArg(posix_fstat, number);
    Py_XDECREF(number);
    close(fd); /* an O_PATH descriptor: closing cannot fail in a way worth reporting */
    return result;
}

static PyObject *
inroot_configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    unsigned long long values[3];
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "configure(path_flags, open_flags, resolve)");
        return NULL;
    }
    if (configured) { /* once, at import: later code (a guest) must not drop RESOLVE_IN_ROOT */
        PyErr_SetString(PyExc_RuntimeError, "vfs.host._inroot is configured already");
        return NULL;
    }
    for (int i = 0; i < 3; i++) {
        values[i] = PyLong_AsUnsignedLongLong(args[i]);
        if (values[i] == (unsigned long long)-1 && PyErr_Occurred())
            return NULL;
    }
    path_flags = values[0];
    open_flags = values[1];
    resolve_bits = values[2];
    configured = 1;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"open", (PyCFunction)(void (*)(void))inroot_open, METH_FASTCALL,
     "open(root, fallback, path, flags, mode) -> fd resolved inside root."},
    {"stat", (PyCFunction)(void (*)(void))inroot_stat, METH_FASTCALL,
     "stat(root, fallback, path, flags) -> os.stat_result of path inside root."},
    {"configure", (PyCFunction)(void (*)(void))inroot_configure, METH_FASTCALL,
     "configure(path_flags, open_flags, resolve): the flags openat2 accepts."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "vfs.host._inroot",
    "openat2(RESOLVE_IN_ROOT) from C for the host provider.", -1, methods,
};

PyMODINIT_FUNC
PyInit__inroot(void)
{
    PyObject *posix = PyImport_ImportModule("posix");
    if (posix == NULL)
        return NULL;
    posix_fstat = PyObject_GetAttrString(posix, "fstat");
    Py_DECREF(posix);
    if (posix_fstat == NULL)
        return NULL;
    return PyModule_Create(&module_def);
}
