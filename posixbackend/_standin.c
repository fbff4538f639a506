/* posixbackend._standin: the stand-ins' C type, whose calls outside every block cost next to
 * nothing over the real function's.
 *
 * A stand-in (posixbackend/switch/standins.py) asks which backend serves the caller and passes
 * the call on. Written in Python that question and the forwarding cost ~0.3-0.4 us per call
 * even when the answer is "the real os" -- every os.stat of a program the launcher pinned the
 * stand-ins for. Here the common answer is found in C: when no stand-in park is pending
 * (Installation.pending), no thread is anchored (the anchors table is empty) and the calling
 * context's ACTIVE variable holds None, the real function is vectorcalled directly with the
 * caller's arguments (its errors, messages and audit events are the real ones, raised from the
 * caller's frame as the Python stand-in's pass-through frame makes them count). Anything else
 * -- a block serving, an anchored thread anywhere, a pending park -- calls the Python fallback
 * ``serve(stand_in, *args, **kwargs)`` (StandIn.__call__), which decides as it always did.
 *
 * The contract with the Python side (posixbackend/switch/standins.py):
 * - configure(active, anchors, serve) once, before the first stand-in is made: the ContextVar
 *   posixbackend.switch.active.ACTIVE, the dict posixbackend.permissions.anchors.ANCHORS (the
 *   objects themselves: rebinding the module names later changes nothing here) and the
 *   fallback. A second call raises RuntimeError (guest code cannot point the fast path at a
 *   context variable or table of its own).
 * - set_pending(flag): Installation.pending mirrored (its property setter calls it).
 * - StandIn(native, method, name): a final, immutable type (no __init__: the three are fixed
 *   at construction); instances have a __dict__ for what functools.update_wrapper copies
 *   (__name__, __doc__, __wrapped__...) and __module__/__qualname__; _native, _method and
 *   _name read-only, as the Python StandIn's attributes of the same names.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#ifdef Py_GIL_DISABLED
#error "posixbackend._standin relies on the GIL; free-threaded builds use the Python stand-ins"
#endif

#ifndef Py_T_OBJECT_EX
#define Py_T_OBJECT_EX T_OBJECT_EX
#endif
#ifndef Py_READONLY
#define Py_READONLY READONLY
#endif

static PyObject *active = NULL;  /* ContextVar: the serving backend, None for the real os */
static PyObject *anchors = NULL; /* dict: thread id -> anchor; empty while none is anchored */
static PyObject *serve = NULL;   /* serve(stand_in, *args, **kwargs): the Python decision */
static int pending = 0;          /* Installation.pending: the next call outside parks */

typedef struct {
    PyObject_HEAD
    PyObject *native;
    PyObject *method;
    PyObject *name;
    PyObject *dict;
    PyObject *weakrefs;
    vectorcallfunc vectorcall;
} StandInObject;

/* How many argument slots fit on the stack when the fallback needs self prepended and the
 * caller gave no spare slot in front (PY_VECTORCALL_ARGUMENTS_OFFSET unset). */
#define SMALL_STACK 8

static PyObject *
call_serve(PyObject *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    Py_ssize_t total = nargs + (kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames));
    if (nargsf & PY_VECTORCALL_ARGUMENTS_OFFSET) {
        /* the caller lent the slot in front of args: self goes there for the call */
        PyObject **shifted = (PyObject **)args - 1;
        PyObject *saved = shifted[0];
        shifted[0] = self;
        PyObject *result = PyObject_Vectorcall(serve, shifted, (size_t)(nargs + 1), kwnames);
        shifted[0] = saved;
        return result;
    }
    PyObject *small[SMALL_STACK];
    PyObject **stack = small;
    if (total + 1 > SMALL_STACK) {
        stack = PyMem_Malloc((size_t)(total + 1) * sizeof(PyObject *));
        if (stack == NULL) {
            return PyErr_NoMemory();
        }
    }
    stack[0] = self;
    for (Py_ssize_t i = 0; i < total; i++) {
        stack[i + 1] = args[i];
    }
    PyObject *result = PyObject_Vectorcall(serve, stack, (size_t)(nargs + 1), kwnames);
    if (stack != small) {
        PyMem_Free(stack);
    }
    return result;
}

static PyObject *
standin_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    StandInObject *self = (StandInObject *)callable;
    if (!pending && PyDict_GET_SIZE(anchors) == 0) {
        PyObject *value = NULL;
        if (PyContextVar_Get(active, Py_None, &value) < 0) {
            return NULL;
        }
        int native = value == Py_None;
        Py_XDECREF(value);
        if (native) {
            return PyObject_Vectorcall(self->native, args, nargsf, kwnames);
        }
    }
    return call_serve(callable, args, nargsf, kwnames);
}

static PyObject *
standin_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    static char *keywords[] = {"native", "method", "name", NULL};
    PyObject *native, *method, *name;
    if (serve == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "posixbackend._standin is not configured");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OUU:StandIn", keywords, &native, &method,
                                     &name)) {
        return NULL;
    }
    if (!PyCallable_Check(native)) {
        PyErr_SetString(PyExc_TypeError, "StandIn(): native must be callable");
        return NULL;
    }
    StandInObject *self = (StandInObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->native = Py_NewRef(native);
    self->method = Py_NewRef(method);
    self->name = Py_NewRef(name);
    self->dict = NULL;
    self->weakrefs = NULL;
    self->vectorcall = standin_vectorcall;
    return (PyObject *)self;
}

static int
standin_traverse(StandInObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->native);
    Py_VISIT(self->method);
    Py_VISIT(self->name);
    Py_VISIT(self->dict);
    return 0;
}

static int
standin_clear(StandInObject *self)
{
    /* native, method and name stay until the object goes: a call during a collection must
     * still find them (they hold no reference back to it) */
    Py_CLEAR(self->dict);
    return 0;
}

static void
standin_dealloc(StandInObject *self)
{
    PyObject_GC_UnTrack(self);
    if (self->weakrefs != NULL) {
        PyObject_ClearWeakRefs((PyObject *)self);
    }
    Py_CLEAR(self->dict);
    Py_CLEAR(self->native);
    Py_CLEAR(self->method);
    Py_CLEAR(self->name);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
standin_repr(StandInObject *self)
{
    return PyObject_Repr(self->native); /* prints as the function it replaces */
}

static PyObject *
standin_reduce(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    /* pickled by reference, as <__module__>.<__qualname__>: the name this object holds */
    return PyObject_GetAttrString(self, "__qualname__");
}

static PyMethodDef standin_methods[] = {
    {"__reduce__", standin_reduce, METH_NOARGS, "Pickled by reference, as the function."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef standin_members[] = {
    {"_native", Py_T_OBJECT_EX, offsetof(StandInObject, native), Py_READONLY,
     "The real function."},
    {"_method", Py_T_OBJECT_EX, offsetof(StandInObject, method), Py_READONLY,
     "The serving backend's method name."},
    {"_name", Py_T_OBJECT_EX, offsetof(StandInObject, name), Py_READONLY,
     "The function's name (for the error of a backend that lacks it)."},
    {NULL, 0, 0, 0, NULL},
};

static PyGetSetDef standin_getset[] = {
    {"__dict__", PyObject_GenericGetDict, PyObject_GenericSetDict, NULL, NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject StandInType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "posixbackend._standin.StandIn",
    .tp_basicsize = sizeof(StandInObject),
    .tp_dealloc = (destructor)standin_dealloc,
    .tp_vectorcall_offset = offsetof(StandInObject, vectorcall),
    .tp_repr = (reprfunc)standin_repr,
    .tp_call = PyVectorcall_Call,
    .tp_getattro = PyObject_GenericGetAttr,
    .tp_setattro = PyObject_GenericSetAttr,
    /* not BASETYPE: final, so no subclass can take over __call__; static: immutable */
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A stand-in for a function: the real one natively, else the serving backend's.",
    .tp_traverse = (traverseproc)standin_traverse,
    .tp_clear = (inquiry)standin_clear,
    .tp_weaklistoffset = offsetof(StandInObject, weakrefs),
    .tp_methods = standin_methods,
    .tp_members = standin_members,
    .tp_getset = standin_getset,
    .tp_dictoffset = offsetof(StandInObject, dict),
    .tp_new = standin_new,
};

static PyObject *
configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError, "configure() takes exactly 3 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (serve != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "posixbackend._standin is configured already");
        return NULL;
    }
    if (!PyContextVar_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "configure(): active must be a ContextVar");
        return NULL;
    }
    if (!PyDict_CheckExact(args[1])) {
        PyErr_SetString(PyExc_TypeError, "configure(): anchors must be a dict");
        return NULL;
    }
    if (!PyCallable_Check(args[2])) {
        PyErr_SetString(PyExc_TypeError, "configure(): serve must be callable");
        return NULL;
    }
    active = Py_NewRef(args[0]);
    anchors = Py_NewRef(args[1]);
    serve = Py_NewRef(args[2]);
    Py_RETURN_NONE;
}

static PyObject *
set_pending(PyObject *module, PyObject *flag)
{
    int value = PyObject_IsTrue(flag);
    if (value < 0) {
        return NULL;
    }
    pending = value;
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL,
     "configure(active, anchors, serve, /)\n--\n\n"
     "Give the fast path the ACTIVE context variable, the anchors table and the Python "
     "fallback serve(stand_in, *args, **kwargs); once only."},
    {"set_pending", set_pending, METH_O,
     "set_pending(flag, /)\n--\n\n"
     "Whether a park of the stand-ins is pending (calls then take the Python fallback)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posixbackend._standin",
    .m_doc = "The stand-ins' C type: the real function straight away outside every block.",
    .m_size = -1, /* one state per process: single-phase, as the stand-ins are */
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__standin(void)
{
    if (PyType_Ready(&StandInType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_definition);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "StandIn", (PyObject *)&StandInType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
