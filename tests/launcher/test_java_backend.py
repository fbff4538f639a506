"""What a program sees of the java backend the launcher sets up: umask, --cwd, time resolution,
and each --fs and --mount; and that nothing reaches the disk that should not.

Where Linux gives the reference (read-only mounts), the same program runs natively on a real
read-only bind mount in a private mount namespace and both must fail alike.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import pytest

from tests.launcher.running import (
    JAVA_HOST,
    JAVA_MEMORY,
    MODES,
    PYTHON,
    Mode,
    console_script,
    launch,
    printed_json,
    python,
    run,
    snapshot,
    write,
)
from tests.vfs.native_mounts import needs_mounts

UMASK = """\
import json, os
first = os.umask(0o027)
open("file", "w").close()
os.mkdir("directory")
print(json.dumps([first, os.umask(first), os.stat("file").st_mode & 0o777,
                  os.stat("directory").st_mode & 0o777]))
"""


@pytest.mark.parametrize("mode", MODES, ids=lambda mode: mode.name)
def test_umask_starts_at_0022_on_java(mode: Mode, tmp_path: Path) -> None:
    """The process's umask is 0o077; natively the program sees it, on java 0o022 (as GraalPy's
    Java backend: gap emulated.umask.initial), and the umask it sets applies either way."""
    done = launch(*mode.options, "-c", UMASK, cwd=tmp_path, umask=0o077)
    first = 0o022 if mode.java else 0o077
    assert printed_json(done) == [first, 0o027, 0o640, 0o750]


CWD = """\
import json, os
seen = [os.getcwd()]
with open("relative.txt", "w") as stream:
    stream.write("here")
os.chdir("/")
seen += [os.getcwd(), os.readlink("/proc/self/cwd")]
print(json.dumps(seen))
"""


def test_cwd_moves_the_program_not_the_process(tmp_path: Path) -> None:
    start = tmp_path / "start"
    start.mkdir()
    done = launch("--posix-backend=java", f"--cwd={start}", "-c", CWD, cwd=tmp_path)
    assert printed_json(done) == [str(start), "/", str(tmp_path)]  # the real cwd never moved
    assert (start / "relative.txt").read_text() == "here"


@pytest.mark.parametrize("mode", [JAVA_HOST, JAVA_MEMORY], ids=lambda mode: mode.name)
def test_relative_script_is_found_from_cwd(mode: Mode, tmp_path: Path) -> None:
    """``--cwd=DIR script.py`` runs DIR/script.py, as ``cd DIR; python script.py`` would, on
    every file system (a memory one gets DIR made and the script copied in)."""
    program = "import json, os\nprint(json.dumps([__file__, os.getcwd(), open(__file__).read()]))\n"
    write(tmp_path, {"start/deeper/script.py": program, "script.py": "raise SystemExit('decoy')"})
    start = tmp_path / "start"
    done = launch(*mode.options, f"--cwd={start}", "deeper/script.py", cwd=tmp_path)
    assert printed_json(done) == [f"{start}/deeper/script.py", str(start), program]


def test_memory_cwd_is_made(tmp_path: Path) -> None:
    nowhere = tmp_path / "not" / "on" / "disk"
    program = "import os\nopen('here', 'w')\nprint(repr([os.getcwd(), os.listdir()]))"
    done = launch(*JAVA_MEMORY.options, f"--cwd={nowhere}", "-c", program, cwd=tmp_path)
    assert done.stdout == repr([str(nowhere), ["here"]]) + "\n"
    assert not (tmp_path / "not").exists()


TIMES = """\
import json, os
open("stamped", "w").close()
os.utime("stamped", ns=(1_700_000_000_123_456_789, 1_700_000_000_987_654_321))
st = os.stat("stamped")
print(json.dumps([st.st_atime_ns, st.st_mtime_ns, st.st_mtime]))
"""


@pytest.mark.parametrize(
    ("option", "resolution"),
    [(None, 10**9), ("--time-resolution=1ms", 10**6), ("--time-resolution=250us", 250_000),
     ("--time-resolution=1", 1)],
)  # fmt: skip
def test_time_resolution(option: str | None, resolution: int, tmp_path: Path) -> None:
    """Times are truncated to the resolution (one second by default, as GraalPy's Java
    backend: gap emulated.times.resolution); natively (the reference) they are kept whole."""
    atime, mtime = 1_700_000_000_123_456_789, 1_700_000_000_987_654_321
    assert printed_json(python("-c", TIMES, cwd=tmp_path))[:2] == [atime, mtime]
    options = [*JAVA_MEMORY.options, *([option] if option else [])]
    seen = printed_json(launch(*options, "-c", TIMES, cwd=tmp_path))
    truncated = mtime // resolution * resolution
    assert seen == [atime // resolution * resolution, truncated, truncated / 1e9]


def test_java_default_fs_is_the_host(tmp_path: Path) -> None:
    """posixbackend-managed: java, on the host's files (GraalPy's default)."""
    program = "import posixbackend\nopen('made', 'w').write(posixbackend.current().value)\n"
    done = run([console_script("posixbackend-managed"), "-c", program], tmp_path)
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "made").read_text() == "java"


MEMORY = """\
import json, os, sys
name = sys.argv[1]
places = [os.path.join(os.getcwd(), name), "/tmp/" + name, os.path.expanduser("~/" + name)]
for place in places:
    with open(place, "w") as stream:
        stream.write(place)
os.mkdir(name + ".d")
os.remove(os.path.basename(__file__))
print(json.dumps([sorted(os.listdir(".")), [open(place).read() for place in places]]))
"""


def test_memory_writes_never_reach_the_disk(tmp_path: Path) -> None:
    """Everything the program writes, anywhere, stays in memory; it still sees its writes and
    may even delete its own script (the copy)."""
    write(tmp_path, {"memory.py": MEMORY})
    before = snapshot(tmp_path)
    name = f"launcher-memory-{uuid.uuid4().hex}"
    listing, contents = printed_json(launch(*JAVA_MEMORY.options, "memory.py", name, cwd=tmp_path))
    assert listing == [name, f"{name}.d"]
    assert contents == [f"{tmp_path}/{name}", f"/tmp/{name}", os.path.expanduser(f"~/{name}")]
    assert snapshot(tmp_path) == before
    assert not os.path.exists(f"/tmp/{name}")
    assert not os.path.exists(os.path.expanduser(f"~/{name}"))


ROOTED = """\
import json, os
seen = {"cwd": os.getcwd(), "root": sorted(os.listdir("/")),
        "climbed": open("/../../../../a.txt").read()}
try:
    os.listdir("/escape")
except OSError as error:
    seen["escape"] = [type(error).__name__, error.errno, error.filename]
with open("/written.txt", "w") as stream:
    stream.write("in the root")
print(json.dumps(seen))
"""


@pytest.mark.parametrize("start", ["root/d", "root", "."])
def test_host_root_is_shown_as_slash(start: str, tmp_path: Path) -> None:
    """``--fs=host:ROOT``: ROOT is /, ``..`` and absolute symlinks stay inside, writes reach
    ROOT on disk; the program starts where the launcher was started if that is inside ROOT."""
    root = tmp_path / "root"
    write(tmp_path, {"root/a.txt": "A", "root/d/b.txt": "B"})
    (root / "escape").symlink_to("/etc")
    done = launch("--posix-backend=java", f"--fs=host:{root}", "-c", ROOTED, cwd=tmp_path / start)
    guest_cwd = {"root/d": "/d", "root": "/", ".": "/"}[start]
    assert printed_json(done) == {
        "cwd": guest_cwd, "root": ["a.txt", "d", "escape"], "climbed": "A",
        "escape": ["FileNotFoundError", 2, "/escape"],
    }  # fmt: skip
    assert (root / "written.txt").read_text() == "in the root"


OVERLAY = """\
import atexit, json, os, shutil
with open("new.txt", "w") as stream:
    stream.write("new")
with open("changed.txt", "a") as stream:
    stream.write(" and more")
os.remove("deleted.txt")
shutil.rmtree("gone")
os.mkdir("made")
atexit.register(os.rename, "kept.txt", "renamed.txt")
print(json.dumps([sorted(os.listdir(".")), open("changed.txt").read()]))
"""


def test_overlay_leaves_the_disk_unchanged_and_lists_changes(tmp_path: Path) -> None:
    write(tmp_path, {"changed.txt": "old", "deleted.txt": "x", "kept.txt": "k",
                     "gone/inner.txt": "i", "untouched/file": "u"})  # fmt: skip
    before = snapshot(tmp_path)
    done = launch("--posix-backend=java", "--fs=overlay", "--changes", "-c", OVERLAY, cwd=tmp_path)
    assert printed_json(done) == [
        ["changed.txt", "kept.txt", "made", "new.txt", "untouched"],
        "old and more",
    ]
    assert snapshot(tmp_path) == before
    assert done.stderr.splitlines() == [  # the rename at exit is listed too
        "posixbackend: 8 changes in the overlay (not on disk)",
        f"  modified directory {tmp_path}",
        f"  modified file {tmp_path}/changed.txt",
        f"  deleted file {tmp_path}/deleted.txt",
        f"  deleted directory {tmp_path}/gone",
        f"  deleted file {tmp_path}/kept.txt",
        f"  created directory {tmp_path}/made",
        f"  created file {tmp_path}/new.txt",
        f"  created file {tmp_path}/renamed.txt",
    ]


def test_overlay_without_changes(tmp_path: Path) -> None:
    done = launch("--posix-backend=java", "--fs=overlay", "--changes", "-c", "pass", cwd=tmp_path)
    assert done.returncode == 0
    assert done.stderr == "posixbackend: 0 changes in the overlay (not on disk)\n"


WRITES = """\
import json, os, sys
here = sys.argv[1]
def attempt(name, function, *args):
    try:
        result = function(*args)
        return [name, "ok", result if isinstance(result, (bool, str)) else None]
    except OSError as error:
        names = [None if f is None else str(f).replace(here, "DIR")
                 for f in (error.filename, error.filename2)]
        return [name, type(error).__name__, error.errno, error.strerror, *names]
steps = [
    attempt("read", lambda: open(here + "/x").read()),
    attempt("create", open, here + "/y", "w"),
    attempt("append", open, here + "/x", "a"),
    attempt("update", open, here + "/x", "r+"),
    attempt("remove", os.remove, here + "/x"),
    attempt("mkdir-new", os.mkdir, here + "/n"),
    attempt("mkdir-existing", os.mkdir, here + "/sub"),
    attempt("rmdir", os.rmdir, here + "/sub"),
    attempt("rename", os.rename, here + "/x", here + "/z"),
    attempt("chmod", os.chmod, here + "/x", 0o600),
    attempt("utime", os.utime, here + "/x", (1, 1)),
    attempt("symlink", os.symlink, "x", here + "/l"),
    attempt("link", os.link, here + "/x", here + "/h"),
    attempt("truncate", os.truncate, here + "/x", 0),
    attempt("access-w", os.access, here + "/x", os.W_OK),
    attempt("access-r", os.access, here + "/x", os.R_OK),
]
print(json.dumps(steps))
"""

NATIVE_READ_ONLY = """\
import ctypes, runpy, sys
from tests.vfs.native_mounts import CLONE_NEWNS, MS_PRIVATE, MS_REC, mount, read_only
if ctypes.CDLL(None, use_errno=True).unshare(CLONE_NEWNS) != 0:
    raise OSError(ctypes.get_errno(), "unshare")
mount(None, "/", None, MS_REC | MS_PRIVATE)
read_only(sys.argv[2])
sys.argv = sys.argv[1:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""


@needs_mounts
def test_read_only_mount_fails_as_linux_does(tmp_path: Path) -> None:
    """``--mount /data=host:DIR:ro``: reads work, every write fails with the error (class,
    errno, message, file names) a real read-only bind mount gives, and DIR is unchanged."""
    write(tmp_path, {"writes.py": WRITES, "data/x": "content", "data/sub/keep": ""})
    data = tmp_path / "data"
    before = snapshot(data)
    repository = Path(__file__).resolve().parents[2]
    native = run(
        [PYTHON, "-c", NATIVE_READ_ONLY, "writes.py", str(data)], tmp_path,
        env={"PYTHONPATH": str(repository)},
    )  # fmt: skip
    emulated = launch(
        *JAVA_MEMORY.options, f"--mount=/data=host:{data}:ro", "writes.py", "/data", cwd=tmp_path
    )
    expected = printed_json(native)
    assert printed_json(emulated) == expected
    assert snapshot(data) == before
    steps = dict((step[0], step[1:]) for step in expected)
    assert steps["read"] == ["ok", "content"] and steps["access-w"] == ["ok", False]
    assert steps["create"] == ["OSError", 30, "Read-only file system", "DIR/y", None]


SCRATCH = """\
import json, os, sys
where = sys.argv[1]
with open(where + "/note", "w") as stream:
    stream.write("noted")
os.mkdir(where + "/dir")
print(json.dumps([sorted(os.listdir(where)), open(where + "/note").read()]))
"""


def test_memory_mount_on_a_memory_file_system(tmp_path: Path) -> None:
    done = launch(*JAVA_MEMORY.options, "--mount", "/scratch=memory", "-c", SCRATCH, "/scratch",
                  cwd=tmp_path)  # fmt: skip
    assert printed_json(done) == [["dir", "note"], "noted"]
    assert not os.path.exists("/scratch")


def test_memory_mount_over_a_host_directory(tmp_path: Path) -> None:
    """On --fs=host a memory mount hides the directory below it and nothing reaches it."""
    write(tmp_path, {"mnt/hidden": "on disk"})
    before = snapshot(tmp_path)
    done = launch("--posix-backend=java", f"--mount={tmp_path}/mnt=memory", "-c", SCRATCH,
                  f"{tmp_path}/mnt", cwd=tmp_path)  # fmt: skip
    assert printed_json(done) == [["dir", "note"], "noted"]
    assert snapshot(tmp_path) == before


def test_writable_host_mount_spelled_as_a_directory(tmp_path: Path) -> None:
    (tmp_path / "outside").mkdir()
    done = launch(*JAVA_MEMORY.options, f"--mount=/out={tmp_path}/outside", "-c", SCRATCH, "/out",
                  cwd=tmp_path)  # fmt: skip
    assert printed_json(done) == [["dir", "note"], "noted"]
    assert (tmp_path / "outside" / "note").read_text() == "noted"  # the mount reaches the disk
