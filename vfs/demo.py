"""A tour of the providers: ``python -m vfs.demo``.

Builds a MemoryFileSystem and a HostFileSystem confined to a temporary directory, and shows
what they do the way Linux does: files and links, permissions for an unprivileged identity,
a byte limit, and a confined root that a symbolic link cannot climb out of.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tempfile

from vfs import HostFileSystem, Identity, MemoryFileSystem


def show(label: str, value: object) -> None:
    print(f"  {label:<44} {value}")


def failure(call: object) -> str:
    """Run ``call`` and describe the OSError it raises (the demo expects one)."""
    try:
        result = call()  # type: ignore[operator]
    except OSError as error:
        return f"{type(error).__name__}: [{errno.errorcode[error.errno or 0]}] {error.filename}"
    return f"succeeded: {result!r}"


def memory_tour() -> None:
    print("MemoryFileSystem")
    fs = MemoryFileSystem(identity=Identity.root(), max_bytes=64 * 1024)
    fs.mkdir("/srv", 0o755)
    fs.mkdir("/srv/data", 0o700)
    with fs.open("/srv/data/report.txt", os.O_CREAT | os.O_WRONLY, 0o640) as h:
        h.pwrite(b"quarterly numbers\n", 0)
    fs.symlink("data/report.txt", "/srv/latest")
    fs.link("/srv/data/report.txt", "/srv/data/backup.txt")
    st = fs.stat("/srv/latest")
    show(
        "stat /srv/latest (through the link)",
        f"{stat.filemode(st.st_mode)} size={st.st_size} nlink={st.st_nlink}",
    )
    show("readlink /srv/latest", fs.readlink("/srv/latest"))
    with fs.open("/srv/latest", os.O_RDONLY) as h:
        show("read through the link", h.pread(100, 0))
    show("listdir /srv/data", sorted(fs.listdir("/srv/data")))
    show("rmdir of a non-empty directory", failure(lambda: fs.rmdir("/srv/data")))
    show("stat of a file as a directory", failure(lambda: fs.stat("/srv/data/report.txt/")))
    fs.identity = Identity(65534, 65534)
    show(
        "as nobody: stat inside a 0700 directory", failure(lambda: fs.stat("/srv/data/report.txt"))
    )
    fs.identity = Identity.root()
    with fs.open("/srv/big", os.O_CREAT | os.O_WRONLY, 0o644) as h:
        show("100 KB written, 64 KiB limit", failure(lambda: h.pwrite(b"x" * 100_000, 0)))
        show("one byte more", failure(lambda: h.pwrite(b"x", h.size())))
        show("ftruncate to 1 GiB (a hole)", failure(lambda: h.truncate(1 << 30)))
        st = h.stat()
        show("size, and bytes allocated", f"{st.st_size}, {st.st_blocks * 512}")


def host_tour() -> None:
    print("HostFileSystem(root=...)")
    base = tempfile.mkdtemp(prefix="vfs-demo-")
    root = os.path.join(base, "root")
    os.mkdir(root)
    with open(os.path.join(base, "outside.txt"), "w") as f:
        f.write("not for the guest\n")
    os.symlink(os.path.join(base, "outside.txt"), os.path.join(root, "escape"))
    try:
        with HostFileSystem(root) as fs:
            show("resolver", fs.resolver)
            fs.mkdir("/inbox", 0o755)
            with fs.open("/inbox/hello.txt", os.O_CREAT | os.O_WRONLY, 0o600) as h:
                h.pwrite(b"written through the provider\n", 0)
            show("on the host, below the root", sorted(os.listdir(os.path.join(root, "inbox"))))
            show("a link to a host file outside the root", failure(lambda: fs.stat("/escape")))
            show("climbing with ..", failure(lambda: fs.stat("/../../outside.txt")))
    finally:
        shutil.rmtree(base)


def main() -> None:
    memory_tour()
    print()
    host_tour()


if __name__ == "__main__":
    main()
