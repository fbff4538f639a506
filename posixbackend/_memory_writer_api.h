/* What posixbackend/_speedups.c offers posixbackend/_sqlitevfs.c without Python objects in
 * between: a MemoryWriter's write of a C buffer (SQLite's page, not copied into a bytes
 * object first), in a capsule named MEMORY_WRITER_API_NAME (PyCapsule_Import).
 */

#ifndef POSIXBACKEND_MEMORY_WRITER_API_H
#define POSIXBACKEND_MEMORY_WRITER_API_H

#include <Python.h>

#define MEMORY_WRITER_API_NAME "posixbackend._speedups.memory_writer_api"

typedef struct {
    /* Write ``length`` bytes at ``data`` at ``offset`` through ``writer`` (with the GIL):
     * 1 when done (all of it), 0 when ``writer`` is no MemoryWriter or the case is its
     * handle's Python pwrite's (nothing changed: call the writer with bytes instead), -1 with
     * an exception. */
    int (*write)(PyObject *writer, const char *data, Py_ssize_t length, long long offset);
} MemoryWriterApi;

#endif /* POSIXBACKEND_MEMORY_WRITER_API_H */
