"""Guests of one pool are strangers: what one leaves (files, environment, descriptors, memory)
never reaches the next; limits hold under CPU oversubscription, judged by the parent; and a
guest ends as it would under run_isolated (differential)."""

from __future__ import annotations

import re
import textwrap
import time
from typing import Final

import pytest

from posixbackend.isolation import Limits, ResultKind, run_isolated
from posixbackend.permissions.policy import Permissions
from tests.isolation.helpers import printed
from tests.isolation.pooling import Traces

NATIVE = Permissions(allow_io="all", allow_native_access=True)

MESSY = """\
import os
open("/tmp/left", "w").write("by the first guest")
os.mkdir("/tmp/dir")
os.environ["LEFT"] = "by the first guest"
kept = []
try:
    while True:
        kept.append(open("/tmp/left"))
except OSError as error:
    print("files", error.errno)
hog = []
try:
    while True:
        hog.append(bytearray(16 << 20))
except MemoryError:
    print("memory")
"""

CLEAN = """\
import os
# (/tmp may hold the read-only library's own directories, when it lives below /tmp)
print("left" in os.listdir("/tmp"), os.environ.get("LEFT"), sorted(os.environ))
handles = [open(f"/tmp/f{n}", "w") for n in range(50)]
block = bytearray(200 << 20)
print("ok", len(handles), len(block) >> 20)
"""


def test_what_a_guest_leaves_never_reaches_the_next(traces: Traces) -> None:
    pool = traces.pool(workers=1, limits=Limits(memory_bytes=512 << 20))
    messy = traces.seen(pool.submit(MESSY, env={"GIVEN": "1"}).result(timeout=60))
    assert printed(messy) == ["files 24", "memory"], messy.stderr
    assert set(messy.files) == {"/tmp/left"}
    clean = traces.seen(pool.submit(CLEAN).result(timeout=60))
    assert printed(clean) == ["False None []", "ok 50 200"], clean.stderr
    assert clean.ok and clean.pid != messy.pid


def test_a_later_guest_finds_nothing_of_an_earlier_ones_inputs(traces: Traces) -> None:
    secret = "s3cret-" + "x" * 20
    pool = traces.pool(workers=1, permissions=NATIVE)
    first = pool.submit(
        "import sys; sys.stdin.read()", files={"/data/s": secret}, stdin=secret.encode(),
        env={"S": secret}, argv=[secret],
    )  # fmt: skip
    assert traces.seen(first.result(timeout=30)).ok
    search = """\
import gc
needle = "s3cret-" + "x" * 20
found = set()
for holder in gc.get_objects():
    for value in gc.get_referents(holder):
        if isinstance(value, str) and value is not needle and needle in value:
            found.add(type(holder).__name__)
        elif isinstance(value, bytes) and needle.encode() in value:
            found.add(type(holder).__name__)
print(sorted(found))
"""
    second = traces.seen(pool.submit(search).result(timeout=30))
    assert printed(second) == ["[]"], second.stderr


@pytest.mark.parametrize("kind", ["cpu", "wall"])
def test_limits_hold_with_twice_as_many_guests_as_cores(traces: Traces, kind: str) -> None:
    # four CPU-burning guests at once on (at most) two cores
    if kind == "cpu":
        limits = Limits(cpu_seconds=1, wall_seconds=20)
    else:
        limits = Limits(cpu_seconds=20, wall_seconds=1.5)
    pool = traces.pool(workers=4, limits=limits)
    futures = [pool.submit("while True: pass") for _ in range(4)]
    for future in futures:
        result = traces.seen(future.result(timeout=60))
        assert result.kind is ResultKind.GUEST
        assert result.limit_exceeded == kind, result.summary()
        if kind == "cpu":  # the kernel's count, reported by the zygote's wait4
            assert 1 <= result.cpu_seconds < 3
        else:  # the parent's clock: on time, whatever the load
            assert 1.5 <= result.wall_seconds < 3.5
            assert result.cpu_seconds < 1.5 * 1.2


PROGRAMS = {
    "prints": "print('out'); import sys; print('err', file=sys.stderr)",
    "exits": "raise SystemExit(7)",
    "raises": "raise ValueError('no')",
    "files": "import os; os.makedirs('/tmp/a/b'); open('/tmp/a/b/c', 'wb').write(b'\\0' * 9)",
    "inputs": "import os, sys; print(sys.argv, sys.stdin.read(), dict(os.environ), os.getcwd())",
    "output": "import sys\nwhile True: sys.stdout.write('y' * 5000); sys.stdout.flush()",
    "memory": "x = bytearray(1 << 40)",
    "cpu": "while True: pass",
    "kills itself": "import os, signal; os.kill(os.getpid(), signal.SIGTERM)",
    "open files": "fs = [open('/tmp/f', 'w') for _ in range(100)]",
}
LIMITS = Limits(cpu_seconds=1, output_bytes=4096, open_files=32)
KILLED_MID_WRITE = {"output"}
"""Ended by the parent at the output limit: whether the guest's own BrokenPipeError (status 1,
its traceback on stderr) or the kill (SIGKILL) comes first is a race under either runner
(both seen under load)."""


ENDING: Final = ("status", "signal", "exception")
"""How the guest ended: for a guest the parent kills at its output limit, either the kill or the
guest's own BrokenPipeError (the parent stops reading first) may come first, under either
runner; the limit hit and the output kept do not depend on it."""


def outcome(result: object, *, racing: bool = False) -> tuple[object, ...]:
    """What must be the same under run_isolated and the pool (``racing``: but how it ended)."""
    return tuple(
        getattr(result, name)
        for name in (
            "status", "stdout", "files", "links", "limit_exceeded", "signal", "exception",
            "reported_limit", "protocol_error", "confinement", "not_confined", "kind",
        )
        if not (racing and name in ENDING)
    )  # fmt: skip


def test_guests_end_as_they_do_under_run_isolated(traces: Traces) -> None:
    pool = traces.pool(workers=2, limits=LIMITS)
    arguments = {"argv": ["x"], "stdin": b"in", "env": {"E": "1"}, "cwd": "/work"}
    futures = {name: pool.submit(code, **arguments) for name, code in PROGRAMS.items()}  # type: ignore[arg-type]
    for name, code in PROGRAMS.items():
        alone = run_isolated(code, limits=LIMITS, **arguments)  # type: ignore[arg-type]
        pooled = traces.seen(futures[name].result(timeout=60))
        racing = name in KILLED_MID_WRITE
        assert outcome(pooled, racing=racing) == outcome(alone, racing=racing), name
        if racing:
            continue
        last = [re.sub(rb"[0-9]+", b"N", line) for line in (pooled.stderr, alone.stderr)]
        assert last[0].splitlines()[-1:] == last[1].splitlines()[-1:], name


def test_a_guest_holds_the_same_real_descriptors_as_under_run_isolated(traces: Traces) -> None:
    code = textwrap.dedent(
        """\
        import ctypes
        libc = ctypes.CDLL(None, use_errno=True)
        open_fds = [fd for fd in range(1024) if libc.fcntl(fd, 1) != -1]
        print(len(open_fds), sorted(libc.fcntl(fd, 3) for fd in open_fds))  # F_GETFL
        """
    )
    pool = traces.pool(workers=1, permissions=NATIVE)
    pooled = traces.seen(pool.submit(code).result(timeout=30))
    # stdin, stdout, stderr, the result channel, the guest's library directories (O_PATH):
    # the same under both (numbered otherwise: run_isolated's channel keeps the parent's
    # number); nothing of the zygote's (its control socket would be one more O_RDWR)
    assert printed(pooled) == printed(run_isolated(code, NATIVE)), pooled.stderr


def test_guests_of_one_pool_share_the_hash_seed_but_not_randomness(traces: Traces) -> None:
    """The declared gap isolation.pool_shared_hash_seed, and what it does not extend to."""
    pool = traces.pool(workers=1)
    code = "import os, random; print(hash('seed'), random.random(), os.urandom(8).hex())"
    first, second = (traces.seen(pool.submit(code).result(timeout=30)) for _ in range(2))
    (hash_1, random_1, urandom_1), (hash_2, random_2, urandom_2) = (
        printed(result)[0].split() for result in (first, second)
    )
    assert hash_1 == hash_2
    assert random_1 != random_2 and urandom_1 != urandom_2


THREADS = """\
import threading
main = threading.main_thread()
print(threading.active_count(), main is threading.current_thread(),
      main.ident == threading.get_ident(), main.native_id == threading.get_native_id())
seen = []
helper = threading.Thread(target=lambda: seen.append(threading.current_thread().name),
                          name="helper")
helper.start()
helper.join()
print(seen, helper.is_alive(), [thread.name for thread in threading.enumerate()])
"""


def test_a_guests_threads_work_though_the_zygotes_fork_handler_does_nothing(
    traces: Traces,
) -> None:
    # the zygote runs its main thread alone and makes threading's at-fork handler do nothing
    # in its children (zygote.quiet_threading_fork_handler): the state a child inherits must
    # be right as it is, for the guest's main thread and for the threads it starts
    pool = traces.pool(workers=1, permissions=Permissions(allow_create_thread=True))
    pooled = traces.seen(pool.submit(THREADS).result(timeout=30))
    assert printed(pooled) == ["1 True True True", "['helper'] False ['MainThread']"], (
        pooled.stderr
    )


LATE_IMPORTS = """\
import sys
print(sorted(name for name in ("decimal", "pathlib", "urllib.parse") if name in sys.modules))
import decimal, pathlib, sqlite3
print(decimal.Decimal("1.10") + decimal.Decimal("2.205"))
folder = pathlib.Path("/tmp/out")
folder.mkdir()
with sqlite3.connect(folder / "data.db") as db:
    db.execute("create table t (x)")
    db.execute("insert into t values (?)", (str(folder),))
again = sqlite3.connect(f"file:{folder}/data.db?mode=ro", uri=True)
print(again.execute("select x from t").fetchall())
print(sorted(path.name for path in folder.iterdir()))
"""


def test_modules_the_zygote_leaves_out_still_import_in_a_guest(traces: Traces) -> None:
    # the zygote no longer loads pathlib or urllib.parse (each fork copies what it holds): a
    # guest imports them inside its confined child, from its minimal root, and uses them
    # (sqlite3's file URIs need urllib.parse) as under run_isolated; decimal, which the
    # library no longer imports, the zygote loads for its guests
    pool = traces.pool(workers=1)
    pooled = traces.seen(pool.submit(LATE_IMPORTS).result(timeout=60))
    alone = run_isolated(LATE_IMPORTS)
    expected = ["3.305", "[('/tmp/out',)]", "['data.db']"]
    assert printed(pooled) == ["['decimal']", *expected], pooled.stderr
    assert printed(alone) == ["[]", *expected], alone.stderr
    assert set(pooled.files) == set(alone.files) == {"/tmp/out/data.db"}


STAMPS = """\
import os, time
now = time.time()
for path in ("/", "/tmp"):
    info = os.stat(path)
    print(path, all(now - 2 <= stamp <= now + 1 for stamp in
                    (info.st_atime, info.st_mtime, info.st_ctime)))
print(sorted(os.listdir("/tmp")), oct(os.stat("/tmp").st_mode))
"""
"""A guest printing whether its / and /tmp were made as it started, and what /tmp holds (the
mount points of library directories under /tmp, as a checkout there has: the same in each)."""


def test_a_guests_directories_are_made_when_it_starts(traces: Traces) -> None:
    # the zygote makes each guest's memory file system ahead (its children take their own
    # forked copy): its directories' times must still be the guest's start, as under
    # run_isolated, not the pool's
    pool = traces.pool(workers=1)
    first = traces.seen(pool.submit(STAMPS).result(timeout=60))
    time.sleep(2.5)  # (a stamp kept from the pool's start would be 2.5 s old: outside the 2 s)
    later = traces.seen(pool.submit(STAMPS).result(timeout=60))
    alone = run_isolated(STAMPS)
    assert printed(first) == printed(later) == printed(alone), later.stderr
    assert printed(alone)[:2] == ["/ True", "/tmp True"]
    assert printed(alone)[2].endswith(" 0o41777")
