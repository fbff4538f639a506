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
 * caller's frame as the Python stand-in's pass-through frame makes them count). When the
 * context's ACTIVE holds a backend instead (a block serving the caller) and no harness prefix is
 * registered (posixbackend.switch.harness.PREFIXES empty: no frame walk to do), the backend's
 * method of the stand-in's name is looked up and vectorcalled here, as StandIn.__call__ would
 * (a backend lacking it goes to the fallback, which raises the "not supported" error): ~0.3-0.5
 * us less per os call inside a block. Anything else -- an anchored thread anywhere, a pending
 * park, a registered harness -- calls the Python fallback ``serve(stand_in, *args, **kwargs)``
 * (StandIn.__call__), which decides as it always did.
 *
 * The contract with the Python side (posixbackend/switch/standins.py):
 * - configure(active, anchors, serve, prefixes) once, before the first stand-in is made: the
 *   ContextVar posixbackend.switch.active.ACTIVE, the dict posixbackend.permissions.anchors.
 *   ANCHORS, the list posixbackend.switch.harness.PREFIXES (the objects themselves, changed in
 *   place only: rebinding the module names later changes nothing here) and the fallback. A second call raises RuntimeError (guest code cannot point the fast path at a
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
static PyObject *prefixes = NULL; /* list: the harness's module prefixes; non-empty: the caller's
                                   * frames decide (the Python fallback walks them) */
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

/* Who serves a stand-in's call, in C's terms. The hot path of every os call: short. */
enum serving { SERVED_FAILED, SERVED_NATIVELY, SERVED_BY_BLOCK, SERVED_BY_FALLBACK };

/* SERVED_NATIVELY: no block serves (no park pending, no anchored thread, the context's ACTIVE
 * None); SERVED_BY_BLOCK: a block does and no harness prefix asks for a frame walk, *backend
 * its backend (a new reference); SERVED_BY_FALLBACK: the Python fallback decides;
 * SERVED_FAILED: an exception is set. */
static inline enum serving
who_serves(PyObject **backend)
{
    if (pending || PyDict_GET_SIZE(anchors) != 0) {
        return SERVED_BY_FALLBACK;
    }
    PyObject *value = NULL;
    if (PyContextVar_Get(active, Py_None, &value) < 0) {
        return SERVED_FAILED;
    }
    if (value == Py_None) {
        Py_DECREF(value);
        return SERVED_NATIVELY;
    }
    if (PyList_GET_SIZE(prefixes) != 0) {
        Py_DECREF(value);
        return SERVED_BY_FALLBACK;
    }
    *backend = value;
    return SERVED_BY_BLOCK;
}

/* A block serves the caller (``backend``: its backend, a reference this takes): getattr(backend,
 * method) called with the arguments, as StandIn.__call__ does. *lacking is set (and NULL
 * returned, no exception) when the backend has no such method: the Python fallback then raises
 * the error that says so. Shared by the StandIn type and the builtin stand-ins. */
static PyObject *
call_in_block(PyObject *backend, PyObject *method, PyObject *const *args, size_t nargsf,
              PyObject *kwnames, int *lacking)
{
    PyObject *implementation = PyObject_GetAttr(backend, method);
    Py_DECREF(backend);
    *lacking = 0;
    if (implementation != NULL) {
        PyObject *result = PyObject_Vectorcall(implementation, args, nargsf, kwnames);
        Py_DECREF(implementation);
        return result;
    }
    if (PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
        *lacking = 1;
    }
    return NULL;
}

static PyObject *
standin_vectorcall(PyObject *callable, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    StandInObject *self = (StandInObject *)callable;
    PyObject *backend;
    switch (who_serves(&backend)) {
    case SERVED_NATIVELY:
        return PyObject_Vectorcall(self->native, args, nargsf, kwnames);
    case SERVED_BY_BLOCK: {
        int lacking;
        PyObject *result = call_in_block(backend, self->method, args, nargsf, kwnames, &lacking);
        if (!lacking) {
            return result;
        }
        break;
    }
    case SERVED_FAILED:
        return NULL;
    default: /* SERVED_BY_FALLBACK */
        break;
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

/* -- the builtin stand-ins: os's functions as builtin_function_or_method objects -----------
 *
 * A call of an object of any type but builtin_function_or_method takes the interpreter's generic
 * CALL path, and the real function then costs its own generic call again: ~220 instructions
 * more than the specialized call of posix.stat (CALL_BUILTIN_FAST_WITH_KEYWORDS calls the C
 * function straight away) -- callgrind's count of os.stat through a StandIn object. So the
 * stand-in of a builtin whose self is a module (every os function written in C) is itself a
 * builtin function: its C function is standin_function_call (METH_FASTCALL | METH_KEYWORDS, so
 * the interpreter specializes its calls), its self a module object of its own made from
 * state_definition, whose per-module state (StandInState, invisible to Python code) holds the
 * method definition it was made from, the real function and the StandIn object the slow
 * paths hand to the Python fallback. Its self being a module, it prints, pickles (by
 * reference, as <__module__>.<__name__>) and signs (inspect strips $module) as the real one;
 * __doc__ and __text_signature__ are the real one's. Outside every block the real function's
 * own C function is called directly, as the specialized interpreter calls it.
 *
 * Nothing of it can be forged from Python: no Python code makes a builtin function, the state
 * is set once when the stand-in is made, and the module's __dict__ is read by nobody here. */

/* how the real function's C function takes its arguments (its ml_flags, narrowed) */
enum native_kind { NATIVE_OTHER, NATIVE_FASTCALL_KEYWORDS, NATIVE_FASTCALL, NATIVE_O, NATIVE_NOARGS };

typedef struct {
    PyMethodDef definition; /* the stand-in's: ml_name points into name's UTF-8 */
    PyObject *inner;        /* the StandIn object of (native, method, name): the slow paths' */
    PyObject *native;       /* the real function */
    PyObject *method;       /* the serving backend's method name */
    PyObject *name;         /* the function's name (str) */
    PyCFunction function;   /* native's C function and self (a borrowed reference: native */
    PyObject *native_self;  /* holds it), called directly as kind says */
    enum native_kind kind;
} StandInState;

static int
state_traverse(PyObject *module, visitproc visit, void *arg)
{
    StandInState *state = PyModule_GetState(module);
    if (state != NULL) {
        Py_VISIT(state->inner);
        Py_VISIT(state->native);
        Py_VISIT(state->method);
        Py_VISIT(state->name);
    }
    return 0;
}

static void
state_free(void *module)
{
    /* no m_clear: a call during a collection must still find them (none refers back) */
    StandInState *state = PyModule_GetState((PyObject *)module);
    if (state != NULL) {
        Py_CLEAR(state->inner);
        Py_CLEAR(state->native);
        Py_CLEAR(state->method);
        Py_CLEAR(state->name);
    }
}

static struct PyModuleDef state_definition = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posixbackend._standin.state",
    .m_doc = "The state of one builtin stand-in (its __self__).",
    .m_size = sizeof(StandInState),
    .m_traverse = state_traverse,
    .m_free = state_free,
};

/* The real function, called as the specialized interpreter calls a builtin (an argument count
 * its kind refuses: through vectorcall, for the real error). */
static inline PyObject *
call_native(StandInState *state, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    int plain = kwnames == NULL || PyTuple_GET_SIZE(kwnames) == 0;
    switch (state->kind) {
    case NATIVE_FASTCALL_KEYWORDS:
        return ((_PyCFunctionFastWithKeywords)(void (*)(void))state->function)(
            state->native_self, args, nargs, kwnames);
    case NATIVE_FASTCALL:
        if (plain) {
            return ((_PyCFunctionFast)(void (*)(void))state->function)(
                state->native_self, args, nargs);
        }
        break;
    case NATIVE_O:
        if (plain && nargs == 1) {
            if (Py_EnterRecursiveCall(" while calling a Python object")) {
                return NULL;
            }
            PyObject *result = state->function(state->native_self, args[0]);
            Py_LeaveRecursiveCall();
            return result;
        }
        break;
    case NATIVE_NOARGS:
        if (plain && nargs == 0) {
            if (Py_EnterRecursiveCall(" while calling a Python object")) {
                return NULL;
            }
            PyObject *result = state->function(state->native_self, NULL);
            Py_LeaveRecursiveCall();
            return result;
        }
        break;
    default:
        break;
    }
    return PyObject_Vectorcall(state->native, args, (size_t)nargs, kwnames);
}

static PyObject *
standin_function_call(PyObject *module, PyObject *const *args, Py_ssize_t nargs,
                      PyObject *kwnames)
{
    StandInState *state = PyModule_GetState(module);
    if (state == NULL) {
        return NULL;
    }
    PyObject *backend;
    switch (who_serves(&backend)) {
    case SERVED_NATIVELY:
        return call_native(state, args, nargs, kwnames);
    case SERVED_BY_BLOCK: {
        int lacking;
        PyObject *result =
            call_in_block(backend, state->method, args, (size_t)nargs, kwnames, &lacking);
        if (!lacking) {
            return result;
        }
        break;
    }
    case SERVED_FAILED:
        return NULL;
    default: /* SERVED_BY_FALLBACK */
        break;
    }
    return call_serve(state->inner, args, (size_t)nargs, kwnames);
}

/* native's kind, or NATIVE_OTHER when it is not a builtin whose self is a module (or none) */
static enum native_kind
kind_of(PyObject *native)
{
    if (!PyCFunction_CheckExact(native)) {
        return NATIVE_OTHER;
    }
    PyObject *self = PyCFunction_GET_SELF(native);
    if (self != NULL && !PyModule_Check(self)) {
        return NATIVE_OTHER;
    }
    switch (PyCFunction_GET_FLAGS(native) & (METH_VARARGS | METH_FASTCALL | METH_NOARGS |
                                             METH_O | METH_KEYWORDS | METH_METHOD)) {
    case METH_FASTCALL | METH_KEYWORDS:
        return NATIVE_FASTCALL_KEYWORDS;
    case METH_FASTCALL:
        return NATIVE_FASTCALL;
    case METH_O:
        return NATIVE_O;
    case METH_NOARGS:
        return NATIVE_NOARGS;
    default:
        return NATIVE_OTHER;
    }
}

static PyObject *
builtin_stand_in(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (serve == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "posixbackend._standin is not configured");
        return NULL;
    }
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "builtin_stand_in() takes exactly 4 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    PyObject *module_name = args[0], *name = args[1], *native = args[2], *method = args[3];
    if (!PyUnicode_CheckExact(module_name) || !PyUnicode_CheckExact(name) ||
        !PyUnicode_CheckExact(method)) {
        PyErr_SetString(PyExc_TypeError, "builtin_stand_in(): names must be str");
        return NULL;
    }
    if (!PyCFunction_CheckExact(native) ||
        (PyCFunction_GET_SELF(native) != NULL && !PyModule_Check(PyCFunction_GET_SELF(native))) ||
        (PyCFunction_GET_FLAGS(native) & METH_METHOD)) {
        Py_RETURN_NONE; /* not a module's builtin: the StandIn type serves it */
    }
    const char *utf8 = PyUnicode_AsUTF8(name);
    if (utf8 == NULL) {
        return NULL;
    }
    PyObject *inner = PyObject_CallFunctionObjArgs((PyObject *)&StandInType, native, method,
                                                   name, NULL);
    if (inner == NULL) {
        return NULL;
    }
    PyObject *self = PyModule_Create(&state_definition);
    if (self == NULL) {
        Py_DECREF(inner);
        return NULL;
    }
    StandInState *state = PyModule_GetState(self);
    state->inner = inner;
    state->native = Py_NewRef(native);
    state->method = Py_NewRef(method);
    state->name = Py_NewRef(name);
    state->definition.ml_name = utf8; /* name's own buffer: state->name keeps it */
    state->definition.ml_meth = (PyCFunction)(void (*)(void))standin_function_call;
    state->definition.ml_flags = METH_FASTCALL | METH_KEYWORDS;
    /* the real definition's doc (static): __doc__ and __text_signature__ are the real ones */
    state->definition.ml_doc = ((PyCFunctionObject *)native)->m_ml->ml_doc;
    state->function = PyCFunction_GET_FUNCTION(native);
    state->native_self = PyCFunction_GET_SELF(native);
    state->kind = kind_of(native);
    PyObject *function = PyCFunction_NewEx(&state->definition, self, module_name);
    Py_DECREF(self);
    return function;
}

/* the state of a builtin stand-in, or NULL (no error) for any other object */
static StandInState *
state_of(PyObject *object)
{
    if (!PyCFunction_CheckExact(object)) {
        return NULL;
    }
    PyObject *self = PyCFunction_GET_SELF(object);
    if (self == NULL || !PyModule_CheckExact(self) || PyModule_GetDef(self) != &state_definition ||
        PyCFunction_GET_FUNCTION(object) != (PyCFunction)(void (*)(void))standin_function_call) {
        return NULL;
    }
    return PyModule_GetState(self);
}

static PyObject *
stand_in_parts(PyObject *module, PyObject *object)
{
    StandInState *state = state_of(object);
    if (state == NULL) {
        if (PyErr_Occurred()) {
            return NULL;
        }
        Py_RETURN_NONE;
    }
    return PyTuple_Pack(3, state->native, state->method, state->name);
}

static PyObject *
configure(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (serve != NULL) { /* whatever the arguments: nothing may point it elsewhere */
        PyErr_SetString(PyExc_RuntimeError, "posixbackend._standin is configured already");
        return NULL;
    }
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "configure() takes exactly 4 arguments (%zd given)",
                     nargs);
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
    if (!PyList_CheckExact(args[3])) {
        PyErr_SetString(PyExc_TypeError, "configure(): prefixes must be a list");
        return NULL;
    }
    active = Py_NewRef(args[0]);
    anchors = Py_NewRef(args[1]);
    serve = Py_NewRef(args[2]);
    prefixes = Py_NewRef(args[3]);
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

/* -- the copy scan's filter (Installation._copies, posixbackend/switch/installation.py) -----
 *
 * copy_candidates(modules, wanted) gives the (name, module) pairs of ``modules`` that may hold a
 * copy of an object whose id is a key of the dict ``wanted``: the same answer as the Python
 * _may_hold -- the module's values, the members of the classes it defines (the functions of
 * their static and class methods too), the defaults and keyword defaults of the functions it
 * defines and of those classes' functions -- in ~1/10 of the instructions (the first install
 * asks it of every loaded module). Never false where the exact scan finds a copy: whatever it
 * cannot decide without calling Python code (a module that is not a plain module, a name that
 * is not a str, a class whose __module__ is not a str, a subclass of staticmethod, classmethod
 * or dict) counts as "may hold", and the exact scan decides.
 *
 * It calls no Python code: types are read from the objects (no __class__ lookup), __module__
 * from a function's field or a class's own dict, and it only compares str and int objects.
 * Every dict is walked over a snapshot of its values (PyDict_Values: strong references), so
 * even a deallocation running a finalizer could not invalidate what is being walked. */

static PyObject *module_key = NULL; /* "__module__", interned at import */
static PyObject *func_key = NULL;   /* "__func__" */

typedef struct {
    void **slots;  /* open addressing, NULL for empty; size a power of two */
    size_t mask;
} PointerSet;

static size_t
pointer_hash(void *pointer)
{
    uintptr_t value = (uintptr_t)pointer >> 4; /* objects are 16-byte aligned */
    return (size_t)(value * (uintptr_t)0x9E3779B97F4A7C15ULL);
}

static int
pointer_set_init(PointerSet *set, PyObject *wanted)
{
    Py_ssize_t count = PyDict_GET_SIZE(wanted);
    size_t size = 16;
    while (size < (size_t)count * 4) {
        size <<= 1;
    }
    set->slots = PyMem_Calloc(size, sizeof(void *));
    if (set->slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    set->mask = size - 1;
    Py_ssize_t position = 0;
    PyObject *key, *value;
    /* borrowed references: nothing below runs Python code (the keys are exact ints) */
    while (PyDict_Next(wanted, &position, &key, &value)) {
        if (!PyLong_CheckExact(key)) {
            PyErr_SetString(PyExc_TypeError, "copy_candidates(): wanted's keys must be ids");
            return -1;
        }
        void *pointer = PyLong_AsVoidPtr(key);
        if (pointer == NULL) {
            if (PyErr_Occurred()) {
                return -1;
            }
            continue; /* id 0: no object has it */
        }
        size_t slot = pointer_hash(pointer) & set->mask;
        while (set->slots[slot] != NULL && set->slots[slot] != pointer) {
            slot = (slot + 1) & set->mask;
        }
        set->slots[slot] = pointer;
    }
    return 0;
}

static int
pointer_set_has(const PointerSet *set, PyObject *object)
{
    size_t slot = pointer_hash(object) & set->mask;
    void *present;
    while ((present = set->slots[slot]) != NULL) {
        if (present == (void *)object) {
            return 1;
        }
        slot = (slot + 1) & set->mask;
    }
    return 0;
}

/* 1 when the class ``type`` counts as defined by the module named ``name`` (its __module__ is
 * that name, or is not a str: the exact scan compares it with ==), 0 when not, -1 on error. */
static int
defined_in(PyTypeObject *type, PyObject *type_dict, PyObject *name)
{
    if (type->tp_flags & Py_TPFLAGS_HEAPTYPE) {
        /* type.__module__ of a class: its dict's entry (the lookup type.__module__ makes) */
        PyObject *module = PyDict_GetItemWithError(type_dict, module_key);
        if (module == NULL) {
            return PyErr_Occurred() ? -1 : 1;
        }
        if (!PyUnicode_CheckExact(module)) {
            return 1;
        }
        return PyUnicode_Compare(module, name) == 0;
    }
    /* a static type: its name up to the last dot, else builtins (as type.__module__) */
    const char *full = type->tp_name;
    const char *dot = strrchr(full, '.');
    Py_ssize_t length;
    const char *wanted = PyUnicode_AsUTF8AndSize(name, &length);
    if (wanted == NULL) {
        PyErr_Clear(); /* a lone surrogate: no static type's module is called that */
        return 0;
    }
    if (dot == NULL) {
        return strcmp(wanted, "builtins") == 0 && length == 8;
    }
    return (Py_ssize_t)(dot - full) == length && memcmp(full, wanted, (size_t)length) == 0;
}

/* 1 when a function's defaults or keyword defaults hold a wanted object (or cannot be read
 * without Python code), 0 when not, -1 on error. */
static int
defaults_hold(const PointerSet *set, PyObject *function)
{
    PyObject *defaults = PyFunction_GetDefaults(function);
    if (defaults != NULL && PyTuple_Check(defaults)) {
        Py_INCREF(defaults);
        int found = 0;
        for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(defaults) && !found; i++) {
            found = pointer_set_has(set, PyTuple_GET_ITEM(defaults, i));
        }
        Py_DECREF(defaults);
        if (found) {
            return 1;
        }
    }
    PyObject *keywords = PyFunction_GetKwDefaults(function);
    if (keywords == NULL || keywords == Py_None) {
        return 0;
    }
    if (!PyDict_CheckExact(keywords)) {
        return 1; /* a dict subclass: its values() is Python code; the exact scan decides */
    }
    PyObject *values = PyDict_Values(keywords);
    if (values == NULL) {
        return -1;
    }
    int found = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(values) && !found; i++) {
        found = pointer_set_has(set, PyList_GET_ITEM(values, i));
    }
    Py_DECREF(values);
    return found;
}

static PyObject *
type_dict_of(PyTypeObject *type)
{
#if PY_VERSION_HEX >= 0x030C0000
    return PyType_GetDict(type); /* a static builtin type's dict is per interpreter */
#else
    return Py_XNewRef(type->tp_dict);
#endif
}

/* 1 when one of the members of the class (its own dict) is wanted, or the function of one of
 * its static or class methods, or a default of one of its functions; 0 when not; -1 on error */
static int
class_holds(const PointerSet *set, PyObject *type_dict)
{
    PyObject *members = PyDict_Values(type_dict);
    if (members == NULL) {
        return -1;
    }
    int found = 0;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(members) && found == 0; i++) {
        PyObject *member = PyList_GET_ITEM(members, i);
        if (pointer_set_has(set, member)) {
            found = 1;
        }
        else if (PyFunction_Check(member)) {
            found = defaults_hold(set, member);
        }
        else if (Py_IS_TYPE(member, &PyStaticMethod_Type) ||
                 Py_IS_TYPE(member, &PyClassMethod_Type)) {
            /* __func__ is a member of the exact types: read without Python code */
            PyObject *function = PyObject_GetAttr(member, func_key);
            if (function == NULL) {
                found = -1;
                break;
            }
            if (pointer_set_has(set, function)) {
                found = 1;
            }
            else if (PyFunction_Check(function)) {
                found = defaults_hold(set, function);
            }
            Py_DECREF(function);
        }
        else if (PyObject_TypeCheck(member, &PyStaticMethod_Type) ||
                 PyObject_TypeCheck(member, &PyClassMethod_Type)) {
            found = 1; /* a subclass may make __func__ Python code: the exact scan decides */
        }
    }
    Py_DECREF(members);
    return found;
}

/* 1 when the module may hold a wanted object (see copy_candidates), 0 when not, -1 on error */
static int
module_may_hold(const PointerSet *set, PyObject *name, PyObject *module)
{
    if (!PyUnicode_CheckExact(name) || !PyModule_CheckExact(module)) {
        return 1; /* the exact scan decides (its == and vars() may be Python code here) */
    }
    PyObject *values = PyDict_Values(PyModule_GetDict(module));
    if (values == NULL) {
        return -1;
    }
    int found = 0;
    Py_ssize_t count = PyList_GET_SIZE(values);
    for (Py_ssize_t i = 0; i < count && found == 0; i++) {
        found = pointer_set_has(set, PyList_GET_ITEM(values, i));
    }
    for (Py_ssize_t i = 0; i < count && found == 0; i++) {
        PyObject *value = PyList_GET_ITEM(values, i);
        if (PyFunction_Check(value)) {
            PyObject *owner = PyFunction_GetModule(value);
            int own = owner == NULL || !PyUnicode_CheckExact(owner) ||
                      PyUnicode_Compare(owner, name) == 0;
            if (own) {
                found = defaults_hold(set, value);
            }
        }
        else if (PyType_Check(value)) {
            PyTypeObject *type = (PyTypeObject *)value;
            PyObject *type_dict = type_dict_of(type);
            if (type_dict == NULL) {
                if (PyErr_Occurred()) {
                    found = -1;
                }
                continue;
            }
            found = defined_in(type, type_dict, name);
            if (found == 1) {
                found = class_holds(set, type_dict);
            }
            Py_DECREF(type_dict);
        }
    }
    Py_DECREF(values);
    return found;
}

static PyObject *
copy_candidates(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_Format(PyExc_TypeError, "copy_candidates() takes exactly 2 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    PyObject *modules = args[0], *wanted = args[1];
    if (!PyList_CheckExact(modules) || !PyDict_CheckExact(wanted)) {
        PyErr_SetString(PyExc_TypeError, "copy_candidates(): expected a list and a dict");
        return NULL;
    }
    PointerSet set;
    if (pointer_set_init(&set, wanted) < 0) {
        PyMem_Free(set.slots);
        return NULL;
    }
    PyObject *result = PyList_New(0);
    /* a copy of the list: its items stay referenced whatever happens to the caller's */
    PyObject *entries = PyList_GetSlice(modules, 0, PyList_GET_SIZE(modules));
    if (result == NULL || entries == NULL) {
        goto error;
    }
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(entries); i++) {
        PyObject *entry = PyList_GET_ITEM(entries, i);
        if (!PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 2) {
            PyErr_SetString(PyExc_TypeError, "copy_candidates(): expected (name, module) pairs");
            goto error;
        }
        int may = module_may_hold(&set, PyTuple_GET_ITEM(entry, 0), PyTuple_GET_ITEM(entry, 1));
        if (may < 0 || (may && PyList_Append(result, entry) < 0)) {
            goto error;
        }
    }
    Py_DECREF(entries);
    PyMem_Free(set.slots);
    return result;
error:
    Py_XDECREF(entries);
    Py_XDECREF(result);
    PyMem_Free(set.slots);
    return NULL;
}



/* -- CountedLock: the installation's lock, whose holders the block methods can see ----------
 *
 * CountedLock(rlock) is ``rlock`` (a threading.RLock) with a count of the acquisitions held
 * now, by any thread: the Installation's lock. Its acquire, release, __enter__ and __exit__
 * pass to the RLock's and count in the same C call (an interrupt lands before or after both).
 * While the count is 0 no thread is inside one of the Installation's locked sections, so the
 * block methods below, holding the GIL and running no Python code, may read and change its
 * state without taking the lock (two RLock calls less each, ~1.3k instructions a block); and
 * while no acquisition was made since they last read that state (``taken``), it is what they
 * read, but for what they changed themselves (the Installation changes it under its lock
 * only). */

typedef struct {
    PyObject_HEAD
    PyObject *rlock;
    Py_ssize_t holders;
    unsigned long long taken; /* acquisitions ever: what the block methods read is still
                               * the installation's state while this has not moved */
} CountedLockObject;

static PyObject *s_acquire_name, *s_release_name;

static PyObject *
counted_acquire(CountedLockObject *self, PyObject *args, PyObject *kwargs)
{
    PyObject *method = PyObject_GetAttr(self->rlock, s_acquire_name);
    if (method == NULL) {
        return NULL;
    }
    PyObject *taken = PyObject_Call(method, args, kwargs);
    Py_DECREF(method);
    if (taken == NULL) {
        return NULL;
    }
    int held = PyObject_IsTrue(taken);
    if (held < 0) { /* (an RLock gives a bool) */
        Py_DECREF(taken);
        return NULL;
    }
    self->holders += held;
    self->taken += held;
    return taken;
}

static PyObject *
counted_enter(CountedLockObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *taken = PyObject_CallMethodNoArgs(self->rlock, s_acquire_name);
    if (taken == NULL) {
        return NULL;
    }
    self->holders += 1;
    self->taken += 1;
    return taken;
}

static PyObject *
counted_release(CountedLockObject *self, PyObject *Py_UNUSED(ignored))
{
    PyObject *done = PyObject_CallMethodNoArgs(self->rlock, s_release_name);
    if (done == NULL) {
        return NULL; /* (not held by this thread: RuntimeError, nothing released) */
    }
    self->holders -= 1;
    return done;
}

static PyObject *
counted_exit(CountedLockObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    return counted_release(self, NULL);
}

static PyObject *
counted_new(PyTypeObject *type, PyObject *args, PyObject *kwargs)
{
    PyObject *rlock;
    if (!PyArg_ParseTuple(args, "O:CountedLock", &rlock)) {
        return NULL;
    }
    CountedLockObject *self = (CountedLockObject *)type->tp_alloc(type, 0);
    if (self == NULL) {
        return NULL;
    }
    self->rlock = Py_NewRef(rlock);
    self->holders = 0;
    self->taken = 0;
    return (PyObject *)self;
}

static int
counted_traverse(CountedLockObject *self, visitproc visit, void *arg)
{
    Py_VISIT(self->rlock);
    return 0;
}

static void
counted_dealloc(CountedLockObject *self)
{
    PyObject_GC_UnTrack(self);
    Py_CLEAR(self->rlock);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *
counted_holders(CountedLockObject *self, void *Py_UNUSED(closure))
{
    return PyLong_FromSsize_t(self->holders);
}

static PyMethodDef counted_methods[] = {
    {"acquire", (PyCFunction)(void (*)(void))counted_acquire, METH_VARARGS | METH_KEYWORDS,
     "The RLock's acquire, counted."},
    {"release", (PyCFunction)counted_release, METH_NOARGS, "The RLock's release, counted."},
    {"__enter__", (PyCFunction)counted_enter, METH_NOARGS, "acquire()"},
    {"__exit__", (PyCFunction)(void (*)(void))counted_exit, METH_FASTCALL, "release()"},
    {NULL, NULL, 0, NULL},
};

static PyGetSetDef counted_getset[] = {
    {"holders", (getter)counted_holders, NULL, "Acquisitions held now, by any thread.", NULL},
    {NULL, NULL, NULL, NULL, NULL},
};

static PyTypeObject CountedLockType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "posixbackend._standin.CountedLock",
    .tp_basicsize = sizeof(CountedLockObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "CountedLock(rlock): rlock with a count of the acquisitions held now.",
    .tp_new = counted_new,
    .tp_traverse = (traverseproc)counted_traverse,
    .tp_dealloc = (destructor)counted_dealloc,
    .tp_methods = counted_methods,
    .tp_getset = counted_getset,
};

/* -- blocks (posixbackend/switch/block.py) ------------------------------------------------
 *
 * block_enter(block) and block_exit(block, exc_type, exc, traceback) are BackendBlock's
 * __enter__ and __exit__ when this module is built (bound by as_method: an instance method
 * descriptor, so ``with`` binds them as it binds a Python method). They do the common block
 * -- no permissions in it or around it, no thread anchored, the stand-ins in place -- in C,
 * ~60% fewer instructions than the Python methods, and whole: no Python code runs between
 * their first change and their last, so an asynchronous exception (KeyboardInterrupt, a time
 * limit's) lands before or after them, never between ACTIVE and POLICY, or between those and
 * the installation's count of users. Anything else calls the Python methods
 * (block._enter_python(), block._exit_python(...)) before changing anything.
 *
 * The installation's state (posixbackend/switch/installation.py, its attributes in its
 * __dict__) is read and changed here only while no thread holds its lock (CountedLock above):
 * then no thread is in the middle of a park, an unpark, a build; the Python methods, which
 * wait for the lock, serve otherwise. An entry is the Python methods' tuple (ACTIVE's token,
 * POLICY's token or None, time limit, anchor): either may leave what the other entered.
 * The block's permissions, emulated and _entries are slots, read at their offsets (a block of
 * a subclass takes the Python methods). configure_blocks(policy, installation, state, lock,
 * libraries, eager, sys_dict, block_type) gives the objects, once (a second call raises
 * RuntimeError, as configure). */

static PyObject *policy_var = NULL;     /* ContextVar: POLICY */
static PyObject *installation = NULL;   /* Installation: INSTALLATION */
static PyObject *installation_state = NULL; /* its __dict__: its attributes, read directly */
static PyObject *installation_lock = NULL; /* its CountedLock */
static PyObject *sys_dict = NULL;       /* sys.__dict__: sys.meta_path and sys.modules */
static PyTypeObject *block_type = NULL; /* BackendBlock: its slots read at their offsets */
static Py_ssize_t permissions_at, emulated_at, entries_at;
static PyObject *libraries = NULL;      /* libraries.HOOK: its ``installed`` */
static PyObject *eager = NULL;          /* installation.py's globals: its EAGER_PARKING */
static PyObject *s_permissions, *s_emulated, *s_entries, *s_installed, *s_users, *s_pending,
    *s_parked, *s_pinned, *s_kept, *s_replacements, *s_finder,
    *s_enter_python, *s_exit_python, *s_meta_path, *s_modules, *s_eager_parking;

/* Whether no thread holds the installation's lock (see CountedLock): the block methods'
 * common case, which then needs no lock. */
static inline int
lock_free(void)
{
    return ((CountedLockObject *)installation_lock)->holders == 0;
}

/* The installation's attribute ``name`` (from its __dict__: instance attributes all of them),
 * borrowed; NULL with AttributeError when missing (which the Python methods never leave). */
static PyObject *
state_item(PyObject *name)
{
    PyObject *value = PyDict_GetItemWithError(installation_state, name);
    if (value == NULL && !PyErr_Occurred()) {
        PyErr_SetObject(PyExc_AttributeError, name);
    }
    return value;
}

/* The installation's attribute ``name`` as a truth value: 1, 0, or -1 (error). */
static int
flag_of(PyObject *name)
{
    PyObject *value = state_item(name);
    return value == NULL ? -1 : PyObject_IsTrue(value);
}

/* The installation's state as the block methods last read it, valid while its lock was not
 * taken since (``taken``): they keep _users and _pending in step as they write them. */
static struct {
    int valid;
    unsigned long long taken;
    int parked, built, pinned, kept, pending;
    Py_ssize_t users;
    PyObject *finder; /* strong */
} seen = {0};

/* ``seen`` current while nobody holds the installation's lock (read again if it was taken
 * since): 1, 0 when the lock is held (the Python methods serve), or -1 (error; ``seen``
 * invalid). */
static int
seen_while_free(void)
{
    if (!lock_free()) {
        return 0;
    }
    unsigned long long taken = ((CountedLockObject *)installation_lock)->taken;
    if (seen.valid && seen.taken == taken) {
        return 1;
    }
    seen.valid = 0;
    int parked = flag_of(s_parked), pinned = flag_of(s_pinned), kept = flag_of(s_kept);
    int pending_now = flag_of(s_pending), built = flag_of(s_replacements);
    if (parked < 0 || pinned < 0 || kept < 0 || pending_now < 0 || built < 0) {
        return -1;
    }
    PyObject *users = state_item(s_users);
    Py_ssize_t count = users == NULL ? -1 : PyLong_AsSsize_t(users);
    if (count == -1 && PyErr_Occurred()) {
        return -1;
    }
    PyObject *finder = state_item(s_finder);
    if (finder == NULL) {
        return -1;
    }
    Py_XSETREF(seen.finder, Py_NewRef(finder));
    seen.parked = parked;
    seen.pinned = pinned;
    seen.kept = kept;
    seen.pending = pending_now;
    seen.built = built;
    seen.users = count;
    seen.taken = taken;
    seen.valid = 1;
    return 1;
}

/* The installation's _users set to ``count`` (and ``seen``): 0, or -1 (error, nothing set). */
static int
store_users(Py_ssize_t count)
{
    PyObject *now = PyLong_FromSsize_t(count);
    if (now == NULL) {
        return -1;
    }
    int failed = PyDict_SetItem(installation_state, s_users, now);
    Py_DECREF(now);
    if (failed) {
        seen.valid = 0;
        return -1;
    }
    seen.users = count;
    return 0;
}

/* The installation's _pending set to ``flag`` (and ``seen``, and the stand-ins' copy). */
static int
store_pending(int flag)
{
    if (PyDict_SetItem(installation_state, s_pending, flag ? Py_True : Py_False) < 0) {
        seen.valid = 0;
        return -1;
    }
    seen.pending = flag;
    pending = flag;
    return 0;
}

/* Installation.enter's common case, while nobody holds its lock: the stand-ins in place and
 * their finder in sys.meta_path (a pending park is called off). 1 done, 0 not the common case
 * (nothing done), -1 error (nothing done). */
static int
installation_enter(void)
{
    int free = seen_while_free();
    if (free <= 0) {
        return free;
    }
    if (seen.parked || !seen.built) {
        return 0;
    }
    PyObject *meta_path = PyDict_GetItemWithError(sys_dict, s_meta_path); /* borrowed */
    int present = 0;
    if (meta_path != NULL && PyList_CheckExact(meta_path)) {
        for (Py_ssize_t i = 0; i < PyList_GET_SIZE(meta_path); i++) {
            if (PyList_GET_ITEM(meta_path, i) == seen.finder) { /* identity, as _add_finder */
                present = 1;
                break;
            }
        }
    }
    if (!present) {
        return PyErr_Occurred() ? -1 : 0;
    }
    if (store_users(seen.users + 1) < 0) {
        return -1;
    }
    if (seen.pending && store_pending(0) < 0) {
        /* (MemoryError only) the park stays pending, which a stand-in's settle() finds
         * with this block counted: it parks nothing */
        PyErr_Clear();
    }
    return 1;
}

/* Installation.leave's common case, while nobody holds its lock: one user less; after the
 * last one a park is pending (unless pinned, kept, parked). 1 done, 0 not the common case (a
 * module in EAGER_PARKING loaded: the Python leave parks at once; nothing done), -1 error. */
static int
installation_leave(void)
{
    int free = seen_while_free();
    if (free <= 0) {
        return free;
    }
    Py_ssize_t count = seen.users;
    int to_park = count == 1 && !(seen.pinned || seen.kept || seen.parked) && seen.built;
    if (to_park) { /* any module of EAGER_PARKING (read now: a test may change it) */
        PyObject *modules = PyDict_GetItemWithError(sys_dict, s_modules); /* borrowed */
        PyObject *names = PyDict_GetItemWithError(eager, s_eager_parking); /* borrowed */
        if (modules == NULL || names == NULL || !PyAnySet_CheckExact(names)) {
            return PyErr_Occurred() ? -1 : 0; /* (the Python method decides) */
        }
        PyObject *each = PyObject_GetIter(names), *name; /* (public API: 3.11-3.13) */
        if (each == NULL) {
            return -1;
        }
        while ((name = PyIter_Next(each)) != NULL) {
            int loaded = PyDict_Contains(modules, name);
            Py_DECREF(name);
            if (loaded != 0) {
                Py_DECREF(each);
                return loaded < 0 ? -1 : 0;
            }
        }
        Py_DECREF(each);
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    if (store_users(count - 1) < 0) {
        return -1;
    }
    if (to_park && store_pending(1) < 0) {
        /* (MemoryError only) counted out, no park pending: the next block's leave decides */
        PyErr_Clear();
    }
    return 1;
}

/* A slot of a BackendBlock (exactly: a subclass may put a property over it), borrowed; NULL
 * when unset. */
static inline PyObject *
slot_at(PyObject *block, Py_ssize_t offset)
{
    return *(PyObject **)((char *)block + offset);
}

static PyObject *
block_enter(PyObject *module, PyObject *block)
{
    if (installation == NULL || PyDict_GET_SIZE(anchors) != 0 || Py_TYPE(block) != block_type) {
        return PyObject_CallMethodNoArgs(block, s_enter_python);
    }
    PyObject *emulated = slot_at(block, emulated_at), *entries = slot_at(block, entries_at);
    if (slot_at(block, permissions_at) != Py_None || emulated == NULL || entries == NULL
        || !PyList_CheckExact(entries)) {
        return PyObject_CallMethodNoArgs(block, s_enter_python);
    }
    PyObject *policy;
    if (PyContextVar_Get(policy_var, NULL, &policy) < 0) {
        return NULL;
    }
    Py_XDECREF(policy);
    if (policy != NULL && policy != Py_None) {
        return PyObject_CallMethodNoArgs(block, s_enter_python);
    }
    if (emulated != Py_None) {
        PyObject *installed = PyObject_GetAttr(libraries, s_installed);
        if (installed == NULL) {
            return NULL;
        }
        int ready = PyObject_IsTrue(installed);
        Py_DECREF(installed);
        if (ready <= 0) { /* sqlite3's hook to install first: the Python method does it */
            return ready < 0 ? NULL : PyObject_CallMethodNoArgs(block, s_enter_python);
        }
    }
    Py_INCREF(emulated); /* (held across the steps below, as entries) */
    Py_INCREF(entries);
    int entered = installation_enter();
    if (entered <= 0) {
        Py_DECREF(emulated);
        Py_DECREF(entries);
        return entered < 0 ? NULL : PyObject_CallMethodNoArgs(block, s_enter_python);
    }
    /* From here on the installation counts this block: a failure below (MemoryError only)
     * undoes it with the Python Installation.leave(), as the Python __enter__ does. POLICY
     * holds None and is left as it is (the entry's None: see BackendBlock._exit_python). */
    PyObject *active_token = PyContextVar_Set(active, emulated);
    Py_DECREF(emulated);
    PyObject *entry = NULL;
    if (active_token == NULL) {
        goto failed;
    }
    entry = PyTuple_Pack(4, active_token, Py_None, Py_None, Py_None);
    if (entry == NULL || PyList_Append(entries, entry) < 0) {
        goto failed;
    }
    Py_DECREF(entry);
    Py_DECREF(active_token);
    Py_DECREF(entries);
    return Py_NewRef(block);
failed:;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (active_token != NULL && PyContextVar_Reset(active, active_token) < 0) {
        PyErr_Clear();
    }
    Py_XDECREF(entry);
    Py_XDECREF(active_token);
    Py_DECREF(entries);
    PyObject *left = PyObject_CallMethod(installation, "leave", NULL);
    Py_XDECREF(left);
    if (left == NULL) {
        PyErr_Clear();
    }
    PyErr_Restore(type, value, tb);
    return NULL;
}

/* POLICY as an entry found it: its token reset, or for an entry that left it (None: it held
 * None) None again if something in the block set it and left it set. */
static int
restore_policy(PyObject *token)
{
    if (token != Py_None) {
        return PyContextVar_Reset(policy_var, token);
    }
    PyObject *policy;
    if (PyContextVar_Get(policy_var, NULL, &policy) < 0) {
        return -1;
    }
    Py_XDECREF(policy);
    if (policy == NULL || policy == Py_None) {
        return 0;
    }
    PyObject *set = PyContextVar_Set(policy_var, Py_None);
    Py_XDECREF(set);
    return set == NULL ? -1 : 0;
}

static PyObject *
block_exit(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_Format(PyExc_TypeError, "__exit__() takes 3 arguments (%zd given)", nargs - 1);
        return NULL;
    }
    PyObject *block = args[0];
    if (installation == NULL || Py_TYPE(block) != block_type) {
        goto python;
    }
    PyObject *entries = slot_at(block, entries_at);
    if (entries == NULL) {
        goto python;
    }
    Py_INCREF(entries);
    Py_ssize_t count = PyList_CheckExact(entries) ? PyList_GET_SIZE(entries) : 0;
    PyObject *entry = count ? PyList_GET_ITEM(entries, count - 1) : NULL;
    if (entry == NULL || !PyTuple_CheckExact(entry) || PyTuple_GET_SIZE(entry) != 4
        || PyTuple_GET_ITEM(entry, 2) != Py_None || PyTuple_GET_ITEM(entry, 3) != Py_None) {
        Py_DECREF(entries); /* no entry (the Python method raises), a time limit, an anchor */
        goto python;
    }
    Py_INCREF(entry);
    if (PyList_SetSlice(entries, count - 1, count, NULL) < 0) {
        Py_DECREF(entry);
        Py_DECREF(entries);
        return NULL;
    }
    Py_DECREF(entries);
    /* As the Python method: POLICY, then ACTIVE, then the installation, which counts the
     * block out even when a token of another context raised ValueError before (the entry
     * popped, the block left; the error raised after). */
    int failed = restore_policy(PyTuple_GET_ITEM(entry, 1)) < 0
                 || PyContextVar_Reset(active, PyTuple_GET_ITEM(entry, 0)) < 0;
    Py_DECREF(entry);
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    if (failed) {
        PyErr_Fetch(&type, &value, &tb);
    }
    int left = installation_leave();
    if (left == 0) {
        PyObject *done = PyObject_CallMethod(installation, "leave", NULL);
        left = done == NULL ? -1 : 1;
        Py_XDECREF(done);
    }
    if (failed) {
        if (left < 0) { /* (the first error is the one that matters) */
            PyErr_Clear();
        }
        PyErr_Restore(type, value, tb);
        return NULL;
    }
    if (left < 0) {
        return NULL;
    }
    Py_RETURN_NONE;
python:
    return PyObject_VectorcallMethod(s_exit_python, args, 4, NULL);
}

static PyObject *
configure_blocks(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (installation != NULL) {
        PyErr_SetString(PyExc_RuntimeError, "posixbackend._standin's blocks are configured already");
        return NULL;
    }
    if (nargs != 8) {
        PyErr_Format(PyExc_TypeError, "configure_blocks() takes exactly 8 arguments (%zd given)",
                     nargs);
        return NULL;
    }
    if (active == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "configure_blocks(): configure() first");
        return NULL;
    }
    if (!PyContextVar_CheckExact(args[0])) {
        PyErr_SetString(PyExc_TypeError, "configure_blocks(): policy must be a ContextVar");
        return NULL;
    }
    if (!PyDict_CheckExact(args[2]) || !PyDict_CheckExact(args[6])) {
        PyErr_SetString(PyExc_TypeError, "configure_blocks(): state and sys_dict must be dicts");
        return NULL;
    }
    if (!Py_IS_TYPE(args[3], &CountedLockType)) {
        PyErr_SetString(PyExc_TypeError, "configure_blocks(): lock must be a CountedLock");
        return NULL;
    }
    if (!PyDict_CheckExact(args[5])) {
        PyErr_SetString(PyExc_TypeError, "configure_blocks(): eager must be a module's dict");
        return NULL;
    }
    Py_ssize_t offsets[3];
    PyObject *const slots[] = {s_permissions, s_emulated, s_entries};
    if (!PyType_Check(args[7])) {
        PyErr_SetString(PyExc_TypeError, "configure_blocks(): block_type must be a class");
        return NULL;
    }
    for (size_t i = 0; i < 3; i++) { /* each a slot of an object (a member descriptor) */
        PyObject *descriptor = PyDict_GetItemWithError(((PyTypeObject *)args[7])->tp_dict,
                                                       slots[i]);
        if (descriptor == NULL || !Py_IS_TYPE(descriptor, &PyMemberDescr_Type)
            || ((PyMemberDescrObject *)descriptor)->d_member->type != Py_T_OBJECT_EX) {
            if (!PyErr_Occurred()) {
                PyErr_Format(PyExc_TypeError, "configure_blocks(): %R is not a slot", slots[i]);
            }
            return NULL;
        }
        offsets[i] = ((PyMemberDescrObject *)descriptor)->d_member->offset;
    }
    permissions_at = offsets[0];
    emulated_at = offsets[1];
    entries_at = offsets[2];
    block_type = (PyTypeObject *)Py_NewRef(args[7]);
    policy_var = Py_NewRef(args[0]);
    installation_state = Py_NewRef(args[2]);
    installation_lock = Py_NewRef(args[3]);
    libraries = Py_NewRef(args[4]);
    eager = Py_NewRef(args[5]);
    sys_dict = Py_NewRef(args[6]);
    installation = Py_NewRef(args[1]); /* last: the fast path starts with it */
    Py_RETURN_NONE;
}

/* until_done(function, *args): function(*args) run again after each exception until a run
 * returns (at most UNTIL_DONE_RUNS runs); then the last exception is raised, if any run raised.
 * For clean-up code that is idempotent (each step done at most once however often it runs):
 * a second asynchronous exception landing in a rerun of Python clean-up would cut it short, and
 * here nothing runs between the runs where one could land (BackendBlock's Python methods). */
#define UNTIL_DONE_RUNS 64

static PyObject *
until_done(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1) {
        PyErr_SetString(PyExc_TypeError, "until_done() takes a function and its arguments");
        return NULL;
    }
    PyObject *type = NULL, *value = NULL, *tb = NULL;
    int raised = 0;
    for (int run = 0; run < UNTIL_DONE_RUNS; run++) {
        PyObject *result = PyObject_Vectorcall(args[0], args + 1, (size_t)(nargs - 1), NULL);
        if (result != NULL) {
            if (!raised) {
                return result;
            }
            Py_DECREF(result);
            break;
        }
        Py_XDECREF(type);
        Py_XDECREF(value);
        Py_XDECREF(tb);
        PyErr_Fetch(&type, &value, &tb); /* the last one is kept */
        raised = 1;
    }
    PyErr_Restore(type, value, tb);
    return NULL;
}

static PyObject *
as_method(PyObject *module, PyObject *function)
{
    return PyInstanceMethod_New(function);
}

static PyMethodDef methods[] = {
    {"configure", (PyCFunction)(void (*)(void))configure, METH_FASTCALL,
     "configure(active, anchors, serve, /)\n--\n\n"
     "Give the fast path the ACTIVE context variable, the anchors table and the Python "
     "fallback serve(stand_in, *args, **kwargs); once only."},
    {"set_pending", set_pending, METH_O,
     "set_pending(flag, /)\n--\n\n"
     "Whether a park of the stand-ins is pending (calls then take the Python fallback)."},
    {"builtin_stand_in", (PyCFunction)(void (*)(void))builtin_stand_in, METH_FASTCALL,
     "builtin_stand_in(module_name, name, native, method, /)\n--\n\n"
     "The stand-in of module_name.name as a builtin function (see the comment in _standin.c), "
     "or None when native is not a builtin function of a module."},
    {"stand_in_parts", stand_in_parts, METH_O,
     "stand_in_parts(object, /)\n--\n\n"
     "(native, method, name) of a builtin stand-in, None for any other object."},
    {"copy_candidates", (PyCFunction)(void (*)(void))copy_candidates, METH_FASTCALL,
     "copy_candidates(modules, wanted, /)\n--\n\n"
     "The (name, module) pairs of modules that may hold a copy of an object whose id is a key "
     "of the dict wanted (the switch's scan for copies; see Installation._copies)."},
    {"block_enter", block_enter, METH_O,
     "block_enter(block, /)\n--\n\nBackendBlock.__enter__ (see the comment in _standin.c)."},
    {"block_exit", (PyCFunction)(void (*)(void))block_exit, METH_FASTCALL,
     "block_exit(block, exc_type, exc, traceback, /)\n--\n\nBackendBlock.__exit__."},
    {"configure_blocks", (PyCFunction)(void (*)(void))configure_blocks, METH_FASTCALL,
     "configure_blocks(policy, installation, state, lock, libraries, eager, sys_dict, "
     "block_type, /)\n--\n\n"
     "Give the block methods POLICY, INSTALLATION, its __dict__, its CountedLock, the C "
     "libraries' hook, installation.py's globals (EAGER_PARKING), sys.__dict__ and BackendBlock (whose slots "
     "permissions, emulated and _entries they read); once only."},
    {"until_done", (PyCFunction)(void (*)(void))until_done, METH_FASTCALL,
     "until_done(function, /, *args)\n--\n\n"
     "function(*args) run again after each exception until a run returns (at most 64 runs), "
     "then the last exception raised, if any run raised: idempotent clean-up that an "
     "asynchronous exception cannot cut short between its runs."},
    {"as_method", as_method, METH_O,
     "as_method(function, /)\n--\n\nfunction bound as a method by attribute look-up."},
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
    module_key = PyUnicode_InternFromString("__module__");
    func_key = PyUnicode_InternFromString("__func__");
    if (module_key == NULL || func_key == NULL) {
        return NULL;
    }
    struct { PyObject **slot; const char *text; } names[] = {
        {&s_permissions, "permissions"}, {&s_emulated, "emulated"}, {&s_entries, "_entries"},
        {&s_installed, "installed"}, {&s_users, "_users"}, {&s_pending, "_pending"},
        {&s_parked, "_parked"}, {&s_pinned, "_pinned"}, {&s_kept, "_kept"},
        {&s_replacements, "_replacements"}, {&s_finder, "_finder"},
        {&s_enter_python, "_enter_python"},
        {&s_exit_python, "_exit_python"}, {&s_meta_path, "meta_path"},
        {&s_modules, "modules"}, {&s_eager_parking, "EAGER_PARKING"},
        {&s_acquire_name, "acquire"}, {&s_release_name, "release"},
    };
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        *names[i].slot = PyUnicode_InternFromString(names[i].text);
        if (*names[i].slot == NULL) {
            return NULL;
        }
    }
    if (PyType_Ready(&StandInType) < 0 || PyType_Ready(&CountedLockType) < 0) {
        return NULL;
    }
    PyObject *module = PyModule_Create(&module_definition);
    if (module == NULL) {
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "CountedLock", (PyObject *)&CountedLockType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    if (PyModule_AddObjectRef(module, "StandIn", (PyObject *)&StandInType) < 0) {
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
