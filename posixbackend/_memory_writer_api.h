/* What posixbackend/_speedups.c offers posixbackend/_sqlitevfs.c without Python objects in
 * between: a MemoryWriter's write of a C buffer (SQLite's page, not copied into a bytes
 * object first), its reservation of room to grow (SQLite's size hint), an existence check of
 * a plain path on a memory file system (SQLite's of its journals), and a journal's creation
 * and unlinking there (in the file system's common case), in a capsule
 * named MEMORY_WRITER_API_NAME (PyCapsule_Import).
 */

#ifndef POSIXBACKEND_MEMORY_WRITER_API_H
#define POSIXBACKEND_MEMORY_WRITER_API_H

#include <Python.h>

/* The capsule's attribute of posixbackend._speedups, and its import name. Its number moves
 * whenever MemoryWriterApi changes: a _sqlitevfs built against another layout then finds no
 * capsule (and serves through Python) instead of calling through the wrong one. */
#define MEMORY_WRITER_API_ATTRIBUTE "memory_writer_api_2"
#define MEMORY_WRITER_API_NAME "posixbackend._speedups." MEMORY_WRITER_API_ATTRIBUTE

typedef struct {
    /* Write ``length`` bytes at ``data`` at ``offset`` through ``writer`` (with the GIL):
     * 1 when done (all of it), 0 when ``writer`` is no MemoryWriter or the case is its
     * handle's Python pwrite's (nothing changed: call the writer with bytes instead), -1 with
     * an exception. */
    int (*write)(PyObject *writer, const char *data, Py_ssize_t length, long long offset);
    /* Room for ``writer``'s file to grow to ``size`` bytes without a copy of its content per
     * write; nothing a reader can see changes (size, space counted, times). 1 when done, 0
     * when there was nothing to do or it does not apply, -1 with an exception. */
    int (*reserve)(PyObject *writer, long long size);
    /* SQLite's existence check (a directory, or a regular file that is not empty) of the
     * absolute str ``path`` on the MemoryFileSystem ``fs`` (the caller makes sure of its type),
     * from its caches or plain lookups: 1 or 0, -2 where the file system itself must be asked
     * (links, sparse files, refusals, a busy lock...), -1 with an exception. */
    int (*exists)(PyObject *fs, PyObject *path);
    /* A new journal's creation: MemoryFileSystem.open(path, O_RDWR | O_CREAT) of a name not
     * there yet, the file getting exactly ``mode`` & 0o777, in the file system's common case
     * (see memory_create in _speedups.c): the open MemoryHandle, or NULL where the file system
     * itself must be asked (the name exists, anything unusual; an exception set then is the
     * caller's to clear: nothing was made). */
    PyObject *(*create)(PyObject *fs, PyObject *path, int mode);
    /* MemoryFileSystem.unlink(path) of a dense regular file with one link, in the common case:
     * 1 when done, 0 when the name is missing (ENOENT), -2 where the file system itself must
     * be asked, -1 with an exception (nothing changed). */
    int (*unlink)(PyObject *fs, PyObject *path);
    /* MemoryWriter(handle): the writer of a handle ``create`` gave (new reference, or NULL
     * with an exception). */
    PyObject *(*writer)(PyObject *handle);
    /* The permission bits (st_mode & 0o7777) of what the absolute ``path`` names on ``fs`` (a
     * dense regular file or a directory): -1 when it is missing, -2 where the file system
     * itself must be asked, -3 with an exception. */
    int (*mode)(PyObject *fs, PyObject *path);
    /* The size of the writer's file (its handle's size()), or -2 where the handle's own
     * method must answer (closed, sparse or mapped...). */
    long long (*size)(PyObject *writer);
    /* The writer's handle's sync() (nothing to write back in memory): 1 when done, 0 where
     * the handle's own method must answer (its EBADF). */
    int (*sync)(PyObject *writer);
    /* MemoryHandle.close() of a handle ``create`` gave while its file is linked: 1 when done,
     * 0 where the handle's own close must do it (nothing changed), -1 with an exception. */
    int (*close)(PyObject *handle);
    /* The writer's handle's pread(length, offset) into ``buffer`` in its common case (a dense
     * file, 1 to 65536 bytes): the bytes copied (fewer at the end), atime moved as a read
     * moves it; -2 where the handle's own method must read (nothing changed), -1 with an
     * exception. */
    Py_ssize_t (*read)(PyObject *writer, char *buffer, Py_ssize_t length, long long offset);
} MemoryWriterApi;

#endif /* POSIXBACKEND_MEMORY_WRITER_API_H */
