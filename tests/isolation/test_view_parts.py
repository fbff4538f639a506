"""The parts that compute and build the minimal root: the ELF reader, the loader's search, the
root's layout, and the read-only fallback for kernels without mount_setattr."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from posixbackend.isolation import minimalroot
from posixbackend.isolation.elf import MAGIC, read_elf
from posixbackend.isolation.libraries import Resolver, loader_cache, real_path
from tests.isolation.test_confinement import confined


def test_the_interpreter_is_read_as_the_loader_reads_it() -> None:
    elf = read_elf(os.path.realpath(sys.executable))
    assert elf is not None
    assert "libc.so.6" in elf.needed
    assert elf.interpreter is not None and os.path.exists(elf.interpreter)
    assert read_elf(__file__) is None  # not an ELF object
    assert read_elf("/nonexistent/library.so") is None


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([b"", MAGIC, MAGIC + b"\x02\x01"]))
def test_any_bytes_are_an_object_or_none_never_an_error(data: bytes, prefix: bytes) -> None:
    path = Path(os.environ.get("TMPDIR", "/tmp")) / f"elf-fuzz-{os.getpid()}"
    path.write_bytes(prefix + data)
    try:
        found = read_elf(str(path))
    finally:
        path.unlink()
    assert found is None or isinstance(found.needed, tuple)


def test_the_loaders_cache_and_search_find_the_c_library() -> None:
    cache = loader_cache()
    executable = os.path.realpath(sys.executable)
    elf = read_elf(executable)
    assert elf is not None
    found = Resolver(elf.machine, cache).find("libc.so.6", executable, elf)
    assert found is not None and os.path.exists(found)
    if cache:  # a system with a loader cache names the C library in it
        assert "libc.so.6" in cache
    assert loader_cache("/nonexistent") == {}


def test_real_path_resolves_every_link(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "link").symlink_to("real")
    assert real_path(str(tmp_path / "link")) == str(tmp_path / "real")
    assert real_path(str(tmp_path / "missing")) == str(tmp_path / "missing")


def test_the_layout_makes_links_again_and_binds_their_targets(tmp_path: Path) -> None:
    (tmp_path / "lib" / "deep").mkdir(parents=True)
    (tmp_path / "lib" / "deep" / "libx.so.1.2").write_bytes(b"x")
    (tmp_path / "lib" / "deep" / "libx.so.1").symlink_to("libx.so.1.2")
    (tmp_path / "short").symlink_to("lib")
    (tmp_path / "absolute").symlink_to(tmp_path / "lib" / "deep")
    (tmp_path / "tree").mkdir()
    (tmp_path / "tree" / "inside").write_bytes(b"y")
    paths = [
        str(tmp_path / "short" / "deep" / "libx.so.1"),
        str(tmp_path / "absolute" / "libx.so.1.2"),
        str(tmp_path / "tree"),
        str(tmp_path / "tree" / "inside"),  # below a bound directory: shown through it
        str(tmp_path / "short" / ".." / "missing"),
    ]
    entries = minimalroot.layout(paths)
    found = {entry.path: entry for entry in entries}
    kinds = {path[len(str(tmp_path)) :]: entry.kind for path, entry in found.items()}
    assert {key: value for key, value in kinds.items() if key} == {
        "/short": "symlink", "/absolute": "symlink", "/lib": "directory",
        "/lib/deep": "directory", "/lib/deep/libx.so.1": "symlink",
        "/lib/deep/libx.so.1.2": "bind", "/tree": "bind",
    }  # fmt: skip
    assert found[str(tmp_path / "short")].target == "lib"
    assert found[str(tmp_path / "tree")].directory
    depths = [entry.path.count("/") for entry in entries]
    assert depths == sorted(depths)  # parents first


def test_without_mount_setattr_each_mount_is_made_read_only() -> None:
    answers = confined(
        """\
        from posixbackend.isolation import minimalroot, namespaces
        from posixbackend.isolation.interpreterview import isolated_view
        real_syscall = minimalroot.syscall
        def old_kernel(number, *arguments):
            if number == minimalroot.SYS_MOUNT_SETATTR:
                raise OSError(errno.ENOSYS, "Function not implemented")
            return real_syscall(number, *arguments)
        minimalroot.syscall = old_kernel
        view = isolated_view()
        answers["namespaces"] = " ".join(namespaces.enter_namespaces()[0])
        minimalroot.enter_minimal_root(view.root)
        library = next(path for path in view.files if path.endswith("/libc.so.6"))
        attempt("write a library", lambda: open(library, "ab"))
        attempt("make a file in the root", lambda: open("/new", "w"))
        attempt("read a library", lambda: open(library, "rb").read(4))
        attempt("the host's /etc/passwd", lambda: os.stat("/etc/passwd"))
        """
    )
    assert answers == {
        "namespaces": "user_namespace network_namespace mount_namespace",
        "write a library": "EROFS", "make a file in the root": "EROFS",
        "read a library": "ok", "the host's /etc/passwd": "ENOENT",
    }  # fmt: skip


def test_a_copy_of_the_root_template_is_locked_and_leaves_the_template_as_it_was() -> None:
    """A pool's spares copy a minimal root built once (roottemplate). With every capability
    in its own namespaces and no seccomp filter, a copy can neither be made writable nor
    taken apart (the kernel locks a copy made for a less privileged user namespace), and what
    one copy did is not seen by the next copy."""
    answers = confined(
        """\
        from posixbackend.isolation import minimalroot, roottemplate
        from posixbackend.isolation.interpreterview import isolated_view
        view = isolated_view()
        template = roottemplate.build(view)
        answers["built"] = str(template is not None)
        library = next(path for path in view.files if path.endswith("/libc.so.6"))
        remount = minimalroot.MS_REMOUNT | minimalroot.MS_BIND
        attacks = {
            "make a file in the root": lambda: open("/new", "w"),
            "write a library": lambda: open(library, "ab"),
            "remount / writable": lambda: minimalroot.mount(None, "/", None, remount),
            "unmount a library": lambda: minimalroot.umount2(library, 0),
            "detach /": lambda: minimalroot.umount2("/", minimalroot.MNT_DETACH),
            "mount below /": lambda: minimalroot.mount(
                "tmpfs", os.path.dirname(library), "tmpfs", 0),
        }
        def copy(name, attack):
            read, write = os.pipe()
            pid = os.fork()
            if pid == 0:
                try:
                    answers.clear()
                    answers["steps"] = " ".join(template.enter())
                    answers["root"] = " ".join(sorted(os.listdir("/")))
                    answers["library"] = str(os.path.isfile(library))
                    attempt("the host's /etc/passwd", lambda: os.stat("/etc/passwd"))
                    attempt("the host's /proc", lambda: os.stat("/proc/self"))
                    if attack:
                        for what, call in attacks.items():
                            attempt(what, call)
                    os.write(write, json.dumps(answers).encode())
                finally:
                    os._exit(0)
            os.close(write)
            os.waitpid(pid, 0)
            for key, value in json.loads(os.read(read, 1 << 16)).items():
                answers[f"{name}: {key}"] = value
        copy("attacker", True)
        copy("next", False)
        """
    )
    assert answers.pop("built") == "True"
    for name in ("attacker", "next"):
        steps = answers.pop(f"{name}: steps")
        assert steps == "user_namespace network_namespace mount_namespace minimal_root"
        assert answers.pop(f"{name}: library") == "True"
        assert answers.pop(f"{name}: the host's /etc/passwd") == "ENOENT"
        assert answers.pop(f"{name}: the host's /proc") == "ENOENT"
    assert answers.pop("attacker: root") == answers.pop("next: root")  # nothing new in it
    assert answers == {
        "attacker: make a file in the root": "EROFS", "attacker: write a library": "EROFS",
        "attacker: remount / writable": "EPERM", "attacker: unmount a library": "EINVAL",
        "attacker: detach /": "EINVAL",
        # its own mount on top (seccomp refuses it a guest): the next copy still finds the
        # library there (mounts are private)
        "attacker: mount below /": "ok",
    }  # fmt: skip
