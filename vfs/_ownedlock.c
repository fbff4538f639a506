/* OwnedLock: a threading.Lock that knows its holder, so the holder's own thread cannot wait on it.
 *
 * A file system runs Python code under its lock, and Python lets foreign code run in the
 * middle of it in the same thread: a trace function (sys.settrace, a debugger, Hypothesis's
 * explain phase), a signal handler, a finalizer. When that code calls back into the file
 * system, a plain lock waits forever for its own thread (a signal handler's wait is
 * interrupted by the next signal and recurses instead). Natively a system call is atomic to
 * such code, so there is no right answer short of finishing the interrupted operation first;
 * this lock refuses the re-entered call at once instead of hanging: a blocking acquire by the
 * holder's thread raises the exception that `configure(reentered)`'s callable returns (vfs/
 * ownedlock.py: OSError(EDEADLK), a declared gap). A non-blocking one returns False, as
 * threading.Lock's does for any held lock.
 *
 * A signal handler can do better: vfs/ownedlock.py's defer() queues it (held_here() says the
 * thread is inside such an operation, mark_pending() asks for the queue to be run) and the
 * release that lets go of this thread's last OwnedLock runs it, the operation's state complete.
 *
 * Otherwise it is threading.Lock: acquire(blocking=True, timeout=-1), release() (by the
 * holder's thread only, as an RLock: the count above is per thread), locked(), a context manager; a wait releases the GIL and runs signal handlers when
 * a signal interrupts it, as _thread's does. The holder is set only with the GIL held, right
 * after the underlying lock is taken, and cleared before it is let go: C code that holds the
 * GIL and sees locked() false may do one step of the lock's work without taking it, as
 * posixbackend's accelerator does with threading.Lock.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "pythread.h"

#include <time.h>

typedef struct {
    PyObject_HEAD
    PyThread_type_lock mutex;
    unsigned long owner; /* the holder's thread ident, when held */
    char held;           /* set and cleared with the GIL held */
} OwnedLock;

static PyObject *reentered_factory; /* configure()'s callable: the exception to raise */
static PyObject *run_pending;       /* configure()'s other callable: runs what defer() queued */

/* How many OwnedLocks this thread holds, and whether a call was queued for the moment it lets
 * go of the last one (vfs/ownedlock.py's defer: a signal handler waiting for the end of the
 * operation its thread was in). A lock is let go by its holder only, so the count is exact. */
static _Thread_local Py_ssize_t held_here;
static _Thread_local char pending_here;

static PyObject *
raise_reentered(void)
{
    if (reentered_factory == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "vfs._ownedlock: the lock is held by this thread (not configured)");
        return NULL;
    }
    PyObject *error = PyObject_CallNoArgs(reentered_factory);
    if (error != NULL) {
        PyErr_SetObject((PyObject *)Py_TYPE(error), error);
        Py_DECREF(error);
    }
    return NULL;
}

static PyObject *
lock_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    if (PyTuple_GET_SIZE(args) != 0 || (kwargs != NULL && PyDict_GET_SIZE(kwargs) != 0)) {
        PyErr_SetString(PyExc_TypeError, "OwnedLock() takes no arguments");
        return NULL;
    }
    OwnedLock *self = (OwnedLock *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->mutex = PyThread_allocate_lock();
    if (self->mutex == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static void
lock_dealloc(OwnedLock *self)
{
    if (self->mutex != NULL) {
        if (self->held) {
            PyThread_release_lock(self->mutex); /* as _thread's: freeing a held lock is allowed */
            if (self->owner == PyThread_get_thread_ident() && held_here > 0) {
                held_here--;
            }
        }
        PyThread_free_lock(self->mutex);
    }
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static double
monotonic(void)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)now.tv_sec + (double)now.tv_nsec / 1e9;
}

/* Wait for the mutex: 1 when taken, 0 when the time ran out, -1 with an exception set (a
 * signal handler raised while waiting). `timeout` < 0 waits for ever. */
static int
wait_for(OwnedLock *self, double timeout)
{
    double deadline = timeout < 0 ? 0 : monotonic() + timeout;
    for (;;) {
        PY_TIMEOUT_T micros = -1;
        if (timeout >= 0) {
            double left = deadline - monotonic();
            micros = left > 0 ? (PY_TIMEOUT_T)(left * 1e6) : 0;
        }
        PyLockStatus status;
        Py_BEGIN_ALLOW_THREADS
        status = PyThread_acquire_lock_timed(self->mutex, micros, 1);
        Py_END_ALLOW_THREADS
        if (status == PY_LOCK_ACQUIRED) {
            return 1;
        }
        if (status == PY_LOCK_FAILURE) {
            return 0;
        }
        /* PY_LOCK_INTR: a signal arrived; its Python handler runs now, as in _thread */
        if (Py_MakePendingCalls() < 0) {
            return -1;
        }
    }
}

/* Take the lock for this thread: True, False (not taken), or NULL with an exception set. */
static PyObject *
take(OwnedLock *self, int blocking, double timeout)
{
    unsigned long me = PyThread_get_thread_ident();
    if (self->held && self->owner == me) {
        if (!blocking) {
            Py_RETURN_FALSE;
        }
        return raise_reentered();
    }
    if (PyThread_acquire_lock_timed(self->mutex, 0, 0) != PY_LOCK_ACQUIRED) {
        if (!blocking) {
            Py_RETURN_FALSE;
        }
        int taken = wait_for(self, timeout);
        if (taken < 0) {
            return NULL;
        }
        if (!taken) {
            Py_RETURN_FALSE;
        }
    }
    self->owner = me;
    self->held = 1;
    held_here++;
    Py_RETURN_TRUE;
}

static PyObject *
lock_acquire(OwnedLock *self, PyObject *args, PyObject *kwargs)
{
    static char *names[] = {"blocking", "timeout", NULL};
    int blocking = 1;
    double timeout = -1;
#if PY_VERSION_HEX >= 0x030C0000
    const char *format = "|pd:acquire"; /* 3.12's threading.Lock takes any object's truth */
#else
    const char *format = "|id:acquire"; /* 3.11's wants an int */
#endif
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, format, names, &blocking, &timeout)) {
        return NULL;
    }
    if (!blocking && timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "can't specify a timeout for a non-blocking call");
        return NULL;
    }
    if (timeout < 0 && timeout != -1) {
        PyErr_SetString(PyExc_ValueError, "timeout value must be positive");
        return NULL;
    }
    if (timeout > (double)PY_TIMEOUT_MAX / 1e6) {
        PyErr_SetString(PyExc_OverflowError, "timeout value is too large");
        return NULL;
    }
    return take(self, blocking, timeout);
}

static PyObject *
lock_enter(OwnedLock *self, PyObject *Py_UNUSED(ignored))
{
    return take(self, 1, -1);
}

static PyObject *
lock_release(OwnedLock *self, PyObject *Py_UNUSED(ignored))
{
    if (!self->held) {
        PyErr_SetString(PyExc_RuntimeError, "release unlocked lock");
        return NULL;
    }
    if (self->owner != PyThread_get_thread_ident()) { /* an RLock's rule: the count is the holder's */
        PyErr_SetString(PyExc_RuntimeError, "cannot release un-acquired lock");
        return NULL;
    }
    self->held = 0;
    self->owner = 0;
    PyThread_release_lock(self->mutex);
    if (--held_here == 0 && pending_here) {
        pending_here = 0; /* what waited for the end of the operation runs now, lock let go */
        PyObject *done = PyObject_CallNoArgs(run_pending);
        if (done == NULL) {
            return NULL;
        }
        Py_DECREF(done);
    }
    Py_RETURN_NONE;
}

static PyObject *
lock_exit(OwnedLock *self, PyObject *Py_UNUSED(args))
{
    return lock_release(self, NULL);
}

static PyObject *
lock_locked(OwnedLock *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->held);
}

static PyObject *
lock_is_owned(OwnedLock *self, PyObject *Py_UNUSED(ignored))
{
    return PyBool_FromLong(self->held && self->owner == PyThread_get_thread_ident());
}

static PyObject *
lock_repr(OwnedLock *self)
{
    return PyUnicode_FromFormat("<%s %s object at %p>", self->held ? "locked" : "unlocked",
                                Py_TYPE(self)->tp_name, self);
}

static PyMethodDef lock_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))lock_acquire, METH_VARARGS | METH_KEYWORDS,
     "Take the lock (see threading.Lock.acquire); the holder's thread is refused."},
    {"release", (PyCFunction)lock_release, METH_NOARGS, "Let the lock go."},
    {"locked", (PyCFunction)lock_locked, METH_NOARGS, "Whether a thread holds the lock."},
    {"_is_owned", (PyCFunction)lock_is_owned, METH_NOARGS, "Whether this thread holds it."},
    {"__enter__", (PyCFunction)lock_enter, METH_NOARGS, "acquire()"},
    {"__exit__", (PyCFunction)lock_exit, METH_VARARGS, "release()"},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject OwnedLockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "vfs._ownedlock.OwnedLock",
    .tp_basicsize = sizeof(OwnedLock),
    .tp_dealloc = (destructor)lock_dealloc,
    .tp_repr = (reprfunc)lock_repr,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "A lock its holder's thread cannot wait on (re-entry raises at once).",
    .tp_methods = lock_methods,
    .tp_new = lock_new,
};

static PyObject *
configure(PyObject *Py_UNUSED(module), PyObject *args)
{
    PyObject *factory, *runner;
    if (!PyArg_ParseTuple(args, "OO:configure", &factory, &runner)) {
        return NULL;
    }
    if (!PyCallable_Check(factory) || !PyCallable_Check(runner)) {
        PyErr_SetString(PyExc_TypeError, "configure() needs two callables");
        return NULL;
    }
    if (reentered_factory != NULL) { /* once, by vfs/ownedlock.py: no one replaces them later */
        PyErr_SetString(PyExc_RuntimeError, "vfs._ownedlock is configured already");
        return NULL;
    }
    reentered_factory = Py_NewRef(factory);
    run_pending = Py_NewRef(runner);
    Py_RETURN_NONE;
}

static PyObject *
get_held_here(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    return PyLong_FromSsize_t(held_here);
}

static PyObject *
mark_pending(PyObject *Py_UNUSED(module), PyObject *Py_UNUSED(ignored))
{
    pending_here = 1;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"configure", configure, METH_VARARGS,
     "configure(reentered, run_pending): the callable that makes the exception a re-entered "
     "acquire raises, and the one that runs what was deferred (once)."},
    {"held_here", get_held_here, METH_NOARGS, "How many OwnedLocks this thread holds."},
    {"mark_pending", mark_pending, METH_NOARGS,
     "Have run_pending called when this thread lets go of the last OwnedLock it holds."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "vfs._ownedlock",
    "A threading.Lock that refuses its holder's thread instead of waiting for ever.", -1,
    module_methods,
};

PyMODINIT_FUNC
PyInit__ownedlock(void)
{
    if (PyType_Ready(&OwnedLockType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_def);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "OwnedLock", (PyObject *)&OwnedLockType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
