/* posixbackend._audithook: an audit hook that calls its Python function only for the events
 * it names.
 *
 * A hook added with sys.addaudithook is called, as a Python function, for every audit event
 * of the interpreter: id(), sys._getframe(), compile(), exec(), object.__setattr__ on some
 * types... The library's hooks care about a few dozen events (posixbackend/switch/
 * libraries.py: two; posixbackend/permissions/hook.py: its table of checks and the ctypes.*
 * events), so a Python call for every other event is pure cost: pytest alone raises ~15
 * events per test that no hook of ours reads. Here the event's name is looked up in C, in the
 * live dict or set the caller gives (its later additions count), and the Python function is
 * called only on a match.
 *
 * The hook is a runtime hook (PySys_AddAuditHook): CPython calls it before the Python-level
 * hooks, and clears it at finalization before the modules are torn down, as it does those.
 * It answers only in the interpreter that added it (runtime hooks are called in every
 * interpreter; a subinterpreter never had the Python-level hook either). Adding it raises the
 * audit event sys.addaudithook first, as sys.addaudithook does, and a refusal is raised to
 * the caller (PySys_AddAuditHook itself would drop it silently).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <string.h>

typedef struct {
    PyInterpreterState *interpreter;
    PyObject *hook;     /* the Python function: hook(event: str, args: tuple) */
    PyObject *events;   /* a dict or a set of event names (str) */
    PyObject *prefixes; /* a tuple of str: every event starting with one of them */
} Filter;
/* A Filter is never freed: CPython keeps no way to remove a runtime hook, so it may be
 * called until finalization clears the hooks (its references are kept alive with it). */

static int
prefix_matches(Filter *filter, const char *event)
{
    Py_ssize_t count = PyTuple_GET_SIZE(filter->prefixes);
    for (Py_ssize_t i = 0; i < count; i++) {
        Py_ssize_t size;
        const char *prefix = PyUnicode_AsUTF8AndSize(
            PyTuple_GET_ITEM(filter->prefixes, i), &size);
        if (prefix == NULL) {
            return -1;
        }
        if (strncmp(event, prefix, (size_t)size) == 0) {
            return 1;
        }
    }
    return 0;
}

static int
filtered_hook(const char *event, PyObject *args, void *data)
{
    Filter *filter = (Filter *)data;
    if (PyInterpreterState_Get() != filter->interpreter) {
        return 0;
    }
    int wanted = prefix_matches(filter, event);
    if (wanted < 0) {
        return -1;
    }
    PyObject *name = PyUnicode_FromString(event);
    if (name == NULL) {
        return -1;
    }
    if (!wanted) {
        wanted = PyDict_Check(filter->events) ? PyDict_Contains(filter->events, name)
                                              : PySet_Contains(filter->events, name);
    }
    if (wanted <= 0) {
        Py_DECREF(name);
        return wanted; /* 0: not asked for; -1: the look-up failed (MemoryError) */
    }
    PyObject *result = PyObject_CallFunctionObjArgs(filter->hook, name, args, NULL);
    Py_DECREF(name);
    if (result == NULL) {
        return -1;
    }
    Py_DECREF(result);
    return 0;
}

static PyObject *
add_filtered_hook(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_Format(PyExc_TypeError,
                     "add_filtered_hook() takes exactly 3 arguments (%zd given)", nargs);
        return NULL;
    }
    PyObject *hook = args[0], *events = args[1], *prefixes = args[2];
    if (!PyCallable_Check(hook)) {
        PyErr_SetString(PyExc_TypeError, "add_filtered_hook(): the hook must be callable");
        return NULL;
    }
    if (!PyDict_Check(events) && !PyAnySet_Check(events)) {
        PyErr_SetString(PyExc_TypeError,
                        "add_filtered_hook(): events must be a dict or a set of names");
        return NULL;
    }
    if (!PyTuple_Check(prefixes)) {
        PyErr_SetString(PyExc_TypeError, "add_filtered_hook(): prefixes must be a tuple");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < PyTuple_GET_SIZE(prefixes); i++) {
        if (!PyUnicode_Check(PyTuple_GET_ITEM(prefixes, i))) {
            PyErr_SetString(PyExc_TypeError, "add_filtered_hook(): a prefix must be a str");
            return NULL;
        }
    }
    /* the hooks in place may refuse a new one: raised here, not dropped */
    if (PySys_Audit("sys.addaudithook", NULL) < 0) {
        return NULL;
    }
    Filter *filter = PyMem_RawMalloc(sizeof(Filter));
    if (filter == NULL) {
        return PyErr_NoMemory();
    }
    filter->interpreter = PyInterpreterState_Get();
    filter->hook = Py_NewRef(hook);
    filter->events = Py_NewRef(events);
    filter->prefixes = Py_NewRef(prefixes);
    if (PySys_AddAuditHook(filtered_hook, filter) < 0) {
        Py_DECREF(filter->hook);
        Py_DECREF(filter->events);
        Py_DECREF(filter->prefixes);
        PyMem_RawFree(filter);
        return NULL;
    }
    Py_RETURN_NONE;
}

static PyMethodDef methods[] = {
    {"add_filtered_hook", (PyCFunction)(void (*)(void))add_filtered_hook, METH_FASTCALL,
     "add_filtered_hook(hook, events, prefixes, /)\n--\n\n"
     "Add an audit hook calling hook(event, args) only for an event named in events (a dict "
     "or set, looked up at each event) or starting with one of prefixes (a tuple of str)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module_definition = {
    PyModuleDef_HEAD_INIT,
    .m_name = "posixbackend._audithook",
    .m_doc = "An audit hook that calls its Python function only for the events it names.",
    .m_size = 0,
    .m_methods = methods,
};

PyMODINIT_FUNC
PyInit__audithook(void)
{
    return PyModuleDef_Init(&module_definition);
}
