"""The isolated guest sees no host: a minimal root holds the interpreter's view and nothing
else, and what the kernel offers beyond files (memory files, shared memory, watches, a
socketpair end aimed at a host socket) is refused.

The guests get every in-process permission they can have (native access, threads), and
reach the kernel through ctypes and the real posix module, so that only the child's
confinement stands in the way; every verdict is the host's (the test's own listener, files,
paths), never the guest's word alone.
"""

from __future__ import annotations

import _ssl
import json
import os
import posixpath
import socket
import textwrap
from pathlib import Path
from typing import Any

import pytest

from posixbackend.isolation import IsolatedResult, run_isolated
from posixbackend.isolation.elf import read_elf
from posixbackend.isolation.interpreterview import isolated_view, package_directories
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import assert_nothing_left

OPEN = Permissions(allow_io="all", allow_native_access=True, allow_create_thread=True)
PROJECT = Path(__file__).resolve().parents[2]

PRELUDE = """\
import ctypes, errno, json, os, posix
libc = ctypes.CDLL(None, use_errno=True)
O_PATH, O_DIRECTORY = 0o10000000, 0o200000
answers = {}

def kernel(what, result):
    answers[what] = "ok" if result >= 0 else errno.errorcode[ctypes.get_errno()]

def python(what, call):
    try:
        call()
    except OSError as error:
        answers[what] = errno.errorcode[error.errno]
    else:
        answers[what] = "ok"
"""


def guest(code: str, **options: Any) -> tuple[dict[str, str], IsolatedResult]:
    """Run ``code`` after the prelude with every in-process permission: its answers."""
    program = PRELUDE + textwrap.dedent(code) + "\nprint(json.dumps(answers))\n"
    result = run_isolated(program, OPEN, **options)
    assert result.status == 0, result.stderr.decode()
    assert_nothing_left(result)
    answers: dict[str, str] = json.loads(result.stdout.decode().splitlines()[-1])
    return answers, result


def test_the_minimal_root_is_entered() -> None:
    _, result = guest("")
    assert {"mount_namespace", "minimal_root", "landlock", "seccomp"} <= set(result.confinement)


def test_host_paths_are_not_there(tmp_path: Path) -> None:
    made = tmp_path / "made-by-the-test"
    made.write_text("secret")
    paths = {
        "git": str(PROJECT / ".git"), "tests": str(PROJECT / "tests"),
        "passwd": "/etc/passwd", "made": str(made), "proc": "/proc/self/exe",
        "home": "/home", "host tmp": str(tmp_path),
    }  # fmt: skip
    answers, _ = guest(
        f"""\
        for name, path in {paths!r}.items():
            kernel("open " + name, libc.open(path.encode(), O_PATH))
            python("stat " + name, lambda: posix.stat(path))
            buffer = ctypes.create_string_buffer(256)
            kernel("readlink " + name, libc.readlink(path.encode(), buffer, 256))
        """
    )
    for name in paths:
        assert answers[f"open {name}"] == "ENOENT", name
        assert answers[f"stat {name}"] == "ENOENT", name
        assert answers[f"readlink {name}"] == "ENOENT", name


def test_only_the_way_to_the_interpreters_files_is_there() -> None:
    """Of the host's top-level directories and of /root, the guest finds only those on the
    way to its view (the interpreter may live in /root), and may list none of them."""
    view = isolated_view()
    ways = [*view.paths(), *(posixpath.realpath(path) for path in view.paths())]
    on_the_way = {path.split("/")[1] for path in ways}
    in_root = {path.split("/")[2] for path in ways if path.startswith("/root/")}
    names = {"/" + name: name in on_the_way for name in os.listdir("/")}
    if os.path.isdir("/root"):
        names |= {f"/root/{name}": name in in_root for name in os.listdir("/root")}
    answers, _ = guest(
        f"""\
        for path in {sorted(names)!r}:
            kernel(path, libc.open(path.encode(), O_PATH))
        kernel("list /", libc.open(b"/", O_DIRECTORY))
        kernel("list /root", libc.open(b"/root", O_DIRECTORY))
        """
    )
    for path, expected in names.items():
        assert answers[path] == ("ok" if expected else "ENOENT"), path
    assert answers["list /"] == "EACCES"
    assert answers["list /root"] in ("EACCES", "ENOENT")


def test_the_library_is_shown_package_by_package_never_the_checkout() -> None:
    packages = package_directories()
    checkout = str(PROJECT)
    answers, _ = guest(
        f"""\
        for path in {packages!r}:
            kernel("package " + path, libc.open(path.encode(), O_DIRECTORY))
        kernel("checkout", libc.open({checkout!r}.encode(), O_DIRECTORY))
        kernel("checkout pyproject", libc.open({checkout + "/pyproject.toml"!r}.encode(), 0))
        """
    )
    assert all(answers[f"package {path}"] == "ok" for path in packages), answers
    if not any(path.startswith(checkout + "/") for path in packages):
        return  # an installed library: the checkout is no concern of the child's
    assert answers["checkout"] == "EACCES"  # a directory made on the way, not listable
    assert answers["checkout pyproject"] == "ENOENT"


def test_no_descriptor_leads_into_the_host_tree() -> None:
    """Every directory the guest's process holds open (its file system's mounts) climbs up
    to the new root, never to the host's (asked of the kernel: the guest's own descriptor
    numbers are the managed backend's)."""
    answers, _ = guest(
        """\
        def identity(fd, name=b""):
            buffer = ctypes.create_string_buffer(256)
            if libc.statx(fd, name, 0x1000, 0x7FF, buffer) < 0:  # AT_EMPTY_PATH
                return None
            mode = int.from_bytes(buffer[28:30], "little")
            major, minor = (int.from_bytes(buffer[at:at + 4], "little") for at in (136, 140))
            return mode, int.from_bytes(buffer[32:40], "little"), major, minor

        root = identity(-100, b"/")  # AT_FDCWD
        for fd in range(1024):
            found = identity(fd)
            if found is None:
                continue
            if found[0] & 0o170000 == 0o100000:
                answers[f"fd {fd}"] = "a regular file"
            if found[0] & 0o170000 != 0o040000:
                continue
            top = libc.openat(fd, b".", O_PATH | O_DIRECTORY)
            for _ in range(64):
                up = libc.openat(top, b"..", O_PATH | O_DIRECTORY)
                same = identity(up) == identity(top)
                libc.close(top)
                top = up
                if same:
                    break
            here = identity(top) == root
            libc.close(top)
            answers[f"fd {fd}"] = "the new root" if here else "the host's root"
        """
    )
    assert "the new root" in answers.values()
    assert set(answers.values()) == {"the new root"}, answers


def test_the_interpreters_imports_still_work() -> None:
    answers, _ = guest(
        """\
        import decimal, hashlib, json, sqlite3, ssl, zlib
        answers["json"] = json.dumps([1])
        answers["sqlite3"] = str(sqlite3.connect(":memory:").execute("select 2").fetchone())
        answers["ssl"] = hashlib.sha256(b"x").hexdigest()[:8] + " " + ssl.OPENSSL_VERSION[:7]
        answers["decimal"] = str(decimal.Decimal(1) / 4)
        answers["ctypes"] = str(ctypes.c_int(5).value)
        answers["zlib"] = str(len(zlib.compress(b"x" * 100)))
        """
    )
    assert answers["json"] == "[1]" and answers["sqlite3"] == "(2,)"
    assert answers["ssl"] == "2d711642 OpenSSL" and answers["decimal"] == "0.25"
    assert answers["ctypes"] == "5" and int(answers["zlib"]) < 100


def test_memory_files_shared_memory_and_watches_are_refused() -> None:
    answers, _ = guest(
        """\
        kernel("memfd_create", libc.memfd_create(b"parked", 0))
        kernel("shmget", libc.shmget(0, 1 << 20, 0o1000 | 0o600))
        kernel("msgget", libc.msgget(0, 0o1000 | 0o600))
        kernel("semget", libc.semget(0, 1, 0o1000 | 0o600))
        kernel("inotify_init1", libc.inotify_init1(0))
        answers["managed memfd"] = str(os.memfd_create("kept in the guest") >= 0)
        """
    )
    assert answers == {
        "memfd_create": "EPERM", "shmget": "EPERM",
        "msgget": "EPERM", "semget": "EPERM", "inotify_init1": "EPERM",
        "managed memfd": "True",
    }  # fmt: skip


def test_a_datagram_socketpair_end_cannot_reach_a_host_socket(tmp_path: Path) -> None:
    address = str(tmp_path / "host.sock")
    host = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    host.bind(address)
    host.setblocking(False)
    try:
        answers, _ = guest(
            f"""\
            import socket
            path = {address!r}.encode()
            class sockaddr_un(ctypes.Structure):
                _fields_ = [("family", ctypes.c_ushort), ("path", ctypes.c_char * 108)]
            target = sockaddr_un(socket.AF_UNIX, path)
            size = ctypes.sizeof(target)
            a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM)
            kernel("sendto", libc.sendto(a.fileno(), b"escaped", 7, 0, ctypes.byref(target), size))
            kernel("connect", libc.connect(a.fileno(), ctypes.byref(target), size))
            kernel("bind", libc.bind(a.fileno(), ctypes.byref(target), size))
            header = (ctypes.c_char * 56)()
            kernel("sendmsg", libc.sendmsg(a.fileno(), header, 0))
            kernel("send to the pair", libc.send(a.fileno(), b"kept", 4, 0))
            answers["received by the pair"] = b.recv(16).decode()
            """
        )
        with pytest.raises(BlockingIOError):
            host.recv(64)  # nothing reached the host's socket
    finally:
        host.close()
    assert answers == {
        "sendto": "EACCES", "connect": "EACCES", "bind": "EACCES", "sendmsg": "EACCES",
        "send to the pair": "ok", "received by the pair": "kept",
    }  # fmt: skip


def test_the_view_holds_the_interpreter_and_its_libraries_only() -> None:
    view = isolated_view()
    paths = view.paths()
    assert not any(path == str(PROJECT) or path.endswith("/.git") for path in paths)
    for package in package_directories():  # each shown, itself or in its site-packages
        assert any(package == path or package.startswith(path + "/") for path in paths)
    libraries = {posixpath.basename(path) for path in view.files}
    ssl_module = read_elf(_ssl.__file__)
    assert ssl_module is not None
    assert {"libc.so.6", "libgcc_s.so.1", *ssl_module.needed} <= libraries
    assert not {"/lib", "/usr/lib", "/lib64", "/usr", "/etc"} & set(paths)
    assert all(os.path.exists(path) for path in paths)
