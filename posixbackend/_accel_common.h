/* What posixbackend/_speedups.c and posixbackend/_direntry.c share: the build guards, the way
 * they reach a Python class's __slots__ by offset, and the contract that names those slots.
 *
 * The contract: each module lists the slots it reads in a table of SlotRead (class role, slot
 * name, where the offset goes), learns the offsets from that table in its configure(), and
 * exports the same table as ``SLOT_READS`` ({role: (slot, ...)}). The classes declare the
 * same names in ``__accelerated_slots__``; posixbackend/emulated/accelerator_contract.py
 * compares the two before configuring, and leaves the accelerator out on a mismatch.
 */

#ifndef POSIXBACKEND_ACCEL_COMMON_H
#define POSIXBACKEND_ACCEL_COMMON_H

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stddef.h>
#include <structmember.h>

#ifdef Py_GIL_DISABLED
#error "posixbackend's C accelerator relies on the GIL; free-threaded builds use the Python code"
#endif

/* The names these took in 3.12; the old ones on 3.11. */
#ifndef Py_T_OBJECT_EX
#define Py_T_OBJECT_EX T_OBJECT_EX
#endif
#ifndef Py_T_PYSSIZET
#define Py_T_PYSSIZET T_PYSSIZET
#endif
#ifndef Py_READONLY
#define Py_READONLY READONLY
#endif

/* The object in ``obj``'s slot at ``offset`` (borrowed; NULL when the slot is empty). */
#define SLOT(obj, offset) (*(PyObject **)((char *)(obj) + (offset)))

/* One slot a module reads by offset: the class's role (the keyword its configure() takes the
 * class by), the slot's name, and where in the module's layout struct the class and the
 * offset are kept. */
typedef struct {
    const char *role;
    const char *name;
    size_t type_field;   /* offsetof(layout, the PyTypeObject * of the class) */
    size_t offset_field; /* offsetof(layout, the Py_ssize_t offset of the slot) */
} SlotRead;

/* A SlotRead row for ``layout_type``, whose member ``role`` holds the class (named as the role)
 * and member ``field`` the offset: each module writes its rows as READ(role, "slot", field). */
#define SLOT_READ(layout_type, role, slot, field) \
    {#role, slot, offsetof(layout_type, role), offsetof(layout_type, field)}

#define FIELD(layout, member) (*(Py_ssize_t *)((char *)(layout) + (member)))
#define TYPE_FIELD(layout, member) (*(PyTypeObject **)((char *)(layout) + (member)))

/* The offset of the __slots__ member ``name`` of ``type`` (a writable object slot). */
static int
slot_offset(PyTypeObject *type, const char *name, Py_ssize_t *offset)
{
    PyObject *descriptor = PyObject_GetAttrString((PyObject *)type, name);
    if (descriptor == NULL) {
        return -1;
    }
    if (!Py_IS_TYPE(descriptor, &PyMemberDescr_Type)) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a __slots__ member", type->tp_name, name);
        Py_DECREF(descriptor);
        return -1;
    }
    PyMemberDef *member = ((PyMemberDescrObject *)descriptor)->d_member;
    if (member->type != Py_T_OBJECT_EX || member->flags & Py_READONLY) {
        PyErr_Format(PyExc_TypeError, "%s.%s is not a writable object slot", type->tp_name, name);
        Py_DECREF(descriptor);
        return -1;
    }
    *offset = member->offset;
    Py_DECREF(descriptor);
    return 0;
}

/* Fill the offsets of ``layout`` (whose classes are already in place) from ``reads``. */
static int
read_slot_offsets(const SlotRead *reads, size_t count, void *layout)
{
    for (size_t i = 0; i < count; i++) {
        PyTypeObject *type = TYPE_FIELD(layout, reads[i].type_field);
        if (slot_offset(type, reads[i].name, &FIELD(layout, reads[i].offset_field)) < 0) {
            return -1;
        }
    }
    return 0;
}

/* Add ``reads`` to ``by_role`` ({role: (slot name, ...)}, in table order): a module's
 * SLOT_READS; -1 on error. */
static int
collect_slot_reads(PyObject *by_role, const SlotRead *reads, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        PyObject *names = PyDict_GetItemString(by_role, reads[i].role); /* borrowed */
        Py_ssize_t size = names == NULL ? 0 : PyTuple_GET_SIZE(names);
        PyObject *longer = PyTuple_New(size + 1);
        PyObject *name = PyUnicode_FromString(reads[i].name);
        if (longer == NULL || name == NULL) {
            Py_XDECREF(longer);
            Py_XDECREF(name);
            return -1;
        }
        for (Py_ssize_t j = 0; j < size; j++) {
            PyTuple_SET_ITEM(longer, j, Py_NewRef(PyTuple_GET_ITEM(names, j)));
        }
        PyTuple_SET_ITEM(longer, size, name);
        int stored = PyDict_SetItemString(by_role, reads[i].role, longer);
        Py_DECREF(longer);
        if (stored < 0) {
            return -1;
        }
    }
    return 0;
}

/* An interned string for each of ``count`` pairs (where it goes, its text); -1 on error. */
typedef struct {
    PyObject **slot;
    const char *text;
} InternedString;

static int
intern_strings(const InternedString *strings, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        *strings[i].slot = PyUnicode_InternFromString(strings[i].text);
        if (*strings[i].slot == NULL) {
            return -1;
        }
    }
    return 0;
}

/* Add ``object`` (a new reference, stolen; NULL after an error) to ``module`` as ``name``;
 * -1 on error. */
static int
add_object(PyObject *module, const char *name, PyObject *object)
{
    if (object == NULL) {
        return -1;
    }
    if (PyModule_AddObject(module, name, object) < 0) {
        Py_DECREF(object);
        return -1;
    }
    return 0;
}

#endif /* POSIXBACKEND_ACCEL_COMMON_H */
