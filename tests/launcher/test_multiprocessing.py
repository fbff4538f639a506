"""multiprocessing's spawn start method under the emulated backend: a queue's pipe shared
with a spawned child is one kernel pipe (issue 18), so what the child puts reaches the
parent's get, and a process pool maps."""

from __future__ import annotations

import sys
from pathlib import Path

from tests.launcher.running import JAVA_HOST, JAVA_MEMORY, launch, printed_json

WORKER = """\
def put(queue):
    queue.put("from child")


def square(n):
    return n * n
"""

QUEUE = """\
import json, multiprocessing, sys
sys.path.insert(0, ".")
import worker
ctx = multiprocessing.get_context("spawn")
queue = ctx.SimpleQueue()
child = ctx.Process(target=worker.put, args=(queue,))
child.start()
got = queue.get()
child.join()
print(json.dumps([got, child.exitcode]))
"""

POOL = """\
import json, multiprocessing, sys
from concurrent.futures import ProcessPoolExecutor
sys.path.insert(0, ".")
import worker
with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as pool:
    print(json.dumps(list(pool.map(worker.square, range(6)))))
"""


def test_simple_queue_reaches_the_parent(tmp_path: Path) -> None:
    """The child's put arrives at the parent's get (before, a pump took it to the child)."""
    (tmp_path / "worker.py").write_text(WORKER)
    done = launch(*JAVA_HOST.options, "-c", QUEUE, cwd=tmp_path)
    assert printed_json(done) == ["from child", 0]


def test_process_pool_maps_with_spawn(tmp_path: Path) -> None:
    (tmp_path / "worker.py").write_text(WORKER)
    done = launch(*JAVA_HOST.options, "-c", POOL, cwd=tmp_path)
    assert printed_json(done) == [0, 1, 4, 9, 16, 25]


WORKERS = """\
import compileall, json, multiprocessing, os
os.makedirs("tree", exist_ok=True)
for name in ("a", "b", "c"):
    with open(os.path.join("tree", name + ".py"), "w") as source:
        source.write(f"{name.upper()} = 1\\n")
compiled = compileall.compile_dir("tree", quiet=1, workers=2)
try:
    multiprocessing.get_context("fork").Process(target=print).start()
    fork = "started"
except PermissionError as error:
    fork = "refused"
print(json.dumps([multiprocessing.get_start_method(), compiled,
                  sorted(os.listdir(os.path.join("tree", "__pycache__"))), fork]))
"""


def test_compileall_workers_spawn_by_default_on_host_and_memory(tmp_path: Path) -> None:
    """With processes allowed, the launcher makes spawn multiprocessing's default (gap
    launcher.spawn_start_method): compileall's workers= compiles the program's files, on the
    host and on its memory file system; fork asked for by name stays refused."""
    expected_pycs = [f"{name}.cpython-{sys.version_info[0]}{sys.version_info[1]}.pyc"
                     for name in ("a", "b", "c")]  # fmt: skip
    for mode in (JAVA_HOST, JAVA_MEMORY):
        done = launch(*mode.options, "-c", WORKERS, cwd=tmp_path)
        assert printed_json(done) == ["spawn", True, expected_pycs, "refused"], mode.name
    assert (tmp_path / "tree" / "__pycache__").is_dir()  # the host run's; memory's stayed there
