"""multiprocessing's spawn start method under the emulated backend: a queue's pipe shared
with a spawned child is one kernel pipe (issue 18), so what the child puts reaches the
parent's get, and a process pool maps."""

from __future__ import annotations

from pathlib import Path

from tests.launcher.running import JAVA_HOST, launch, printed_json

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
