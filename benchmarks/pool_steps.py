"""Where a pooled guest's time goes: each step of the child's life timed in a child forked
from a warm process (as the zygote forks them), medians over a few children.

The steps are the isolated child's, in its order (:func:`posixbackend.isolation.child.main`):
the fork, the namespaces and the minimal root (a copy of the template a pool's zygote builds
once; ``--own-root``: built by the child, as run_isolated's builds it), the confinement steps
that need no job (capabilities, no_new_privs, Landlock, the seccomp filter's assembly), the
guest's memory file system, the job's resource limits, the filter's installation, the guest
(a trivial one, in its managed backend) and the snapshot of its files, then the child's exit
as its parent sees it; each with the page faults it took. Run: ``python -m benchmarks.pool_steps
[--children N]`` (``bench_pool --steps`` too).
It warms a zygote's state up in the process that runs it (stand-ins, audit hook): run it in
a process of its own.

A pool's zygote keeps spare children that have done every step that needs no job before
their job comes, and holds each child's mount namespace (and network namespace, unless its
children share one) so that
their teardown is off the child's exit: the child here hands its namespaces to this process
as a spare does to its zygote, and the steps off a guest's path are summed apart.
"""

from __future__ import annotations

import argparse
import gc
import io
import json
import os
import resource
import socket
import statistics
import time
from collections.abc import Callable

from posixbackend.isolation import (
    capabilities,
    landlock,
    namespaces,
    rlimits,
    roottemplate,
    seccomp,
    zygote,
)
from posixbackend.isolation.child import GuestRun, save_guest_files
from posixbackend.isolation.interpreterview import isolated_view
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.minimalroot import enter_minimal_root
from posixbackend.isolation.request import Program, Request, grant
from posixbackend.isolation.roottemplate import RootTemplate

TRIVIAL = "total = sum(range(100))"


AHEAD = (
    "fork", "namespaces", "minimal root", "capabilities", "no_new_privs", "landlock",
    "seccomp assembly",
)  # fmt: skip
COPIED = "namespaces and root (template copy)"
"""The step that replaces "namespaces" and "minimal root" when the root is copied from a
template built once (as a pool's zygote builds it: :mod:`posixbackend.isolation.roottemplate`)."""
"""The steps a spare has done before its job comes."""


def _child_steps(
    request: Request,
    write: int,
    holder: socket.socket,
    ruleset: landlock.Ruleset,
    template: RootTemplate | None,
) -> None:
    """In the forked child: every step, timed, with the page faults it took (copy-on-write
    copies of the warm process's pages, mostly); the numbers go to ``write`` as JSON."""
    view = isolated_view()  # (computed before the fork, as the zygote has it)
    times: dict[str, float] = {}
    last = time.perf_counter()

    def step(name: str, action: Callable[[], object]) -> object:
        nonlocal last
        before = resource.getrusage(resource.RUSAGE_SELF)
        value = action()
        now = time.perf_counter()
        after = resource.getrusage(resource.RUSAGE_SELF)
        times[name] = (now - last) * 1000
        # CPU time too (getrusage: the guest's backend stands in for the time module's
        # clocks): a step's wall clock counts the other work of a loaded machine
        cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        times[f"{name} {CPU}"] = cpu * 1000
        times[f"{name} {FAULTS}"] = after.ru_minflt - before.ru_minflt
        last = now
        return value

    limits = request.limits
    own = os.open("/proc/self/ns", os.O_RDONLY | os.O_DIRECTORY)
    if template is None:  # the root built here, as run_isolated's child builds it
        step("namespaces", namespaces.enter_namespaces)
        step("minimal root", lambda: enter_minimal_root(view.root or ()))
    else:
        step(COPIED, template.enter)
        template.close()
    shared = template is not None and template.network is not None  # (the zygote holds it)
    held = [os.open(name, os.O_RDONLY, dir_fd=own) for name in ("mnt",) + ("net",) * (not shared)]
    socket.send_fds(holder, [b"H"], held)  # as a spare hands them to its zygote
    for fd in [own, *held]:
        os.close(fd)
    last = time.perf_counter()  # (handing them over is no step of the child's)
    step("capabilities", capabilities.drop_capabilities)
    step("no_new_privs", seccomp.set_no_new_privs)
    step("landlock", ruleset.enforce)  # (the ruleset the zygote made)
    ruleset.close()
    program = step("seccomp assembly", lambda: seccomp.isolated_filters().program(os.getpid()))
    assert isinstance(program, bytes)
    run = step("guest file system", lambda: GuestRun(request))
    assert isinstance(run, GuestRun)
    step("rlimits", lambda: rlimits.set_resource_limits(limits))
    step("seccomp", lambda: seccomp.install_program(program))
    step("guest", run.run)
    step(
        "snapshot",
        lambda: save_guest_files(run.files.memory, io.BytesIO()),
    )
    os.write(write, json.dumps(times).encode())
    os._exit(0)


FAULTS = "(page faults)"
CPU = "(cpu ms)"


def measure(children: int, own_root: bool = False) -> dict[str, float]:
    """Median milliseconds of each step over ``children`` forked children (``own_root``: each
    builds its minimal root, instead of copying the template a zygote builds once)."""
    ruleset = zygote.view_ruleset(isolated_view().to_json())
    assert ruleset is not None, "Landlock is missing"
    template = None if own_root else roottemplate.build(
        isolated_view(), shared_network=roottemplate.guests_have_no_sockets()
    )  # (as a pool's zygote builds it)
    zygote.warm_up()
    zygote.fill_allocator_pools()  # (as the zygote does before it serves)
    zygote.give_back_free_heap()  # (and gives its free C heap back)
    given = grant(None, Limits())
    request = Request(Program("code", TRIVIAL), (), {}, "/tmp", {}, given.data, Limits())
    samples: dict[str, list[float]] = {}
    for _ in range(children):
        read, write = os.pipe()
        holder, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        gc.freeze()
        started = time.perf_counter()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(read)
                holder.close()
                samples_fork = (time.perf_counter() - started) * 1000
                # the child's CPU and page faults so far: Python's at-fork handlers (threading,
                # random, logging, the library's), each first write to a page of the parent's
                usage = resource.getrusage(resource.RUSAGE_SELF)
                forked = {
                    "fork": samples_fork,
                    f"fork {CPU}": (usage.ru_utime + usage.ru_stime) * 1000,
                    f"fork {FAULTS}": usage.ru_minflt,
                }
                os.write(write, json.dumps(forked).encode() + b"\n")
                _child_steps(request, write, theirs, ruleset, template)
            finally:
                os._exit(1)
        os.close(write)
        theirs.close()
        data = b""
        while chunk := os.read(read, 1 << 16):
            data += chunk
        os.close(read)
        _, status, usage = os.wait4(pid, 0)
        total = (time.perf_counter() - started) * 1000
        dropped = time.perf_counter()
        holder.close()  # the namespaces' last reference (the zygote's janitor closes it)
        teardown = (time.perf_counter() - dropped) * 1000
        assert status == 0, f"the child failed: {status}"
        first, _, rest = data.partition(b"\n")
        timings = {**json.loads(first), **json.loads(rest)}
        steps = sum(value for name, value in timings.items() if not name.endswith((FAULTS, CPU)))
        timings["exit and reap"] = total - steps
        timings["total (wall)"] = total
        ahead = sum(timings.get(name, 0.0) for name in (*AHEAD, COPIED))
        timings["on a pooled job's path"] = total - ahead
        timings["namespace teardown (off the path)"] = teardown
        timings["child cpu"] = (usage.ru_utime + usage.ru_stime) * 1000
        for name, value in timings.items():
            samples.setdefault(name, []).append(value)
    return {name: statistics.median(values) for name, values in samples.items()}


def main(argv: list[str] | None = None) -> dict[str, float]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.pool_steps")
    parser.add_argument("--children", type=int, default=15, help="children timed (default 15)")
    parser.add_argument(
        "--own-root", action="store_true",
        help="each child builds its minimal root (as run_isolated's does) instead of copying "
        "the template a pool's zygote builds once",
    )  # fmt: skip
    args = parser.parse_args(argv)
    steps = measure(args.children, args.own_root)
    print(f"a pooled guest's steps over {args.children} children, medians")
    print(f"  {'step':<36}{'wall ms':>8}{'cpu ms':>8}{'faults':>8}")
    for name, value in steps.items():
        if name.endswith((FAULTS, CPU)):
            continue
        cpu = steps.get(f"{name} {CPU}")
        faults = steps.get(f"{name} {FAULTS}")
        shown = ("" if cpu is None else f"{cpu:>8.2f}") + (
            "" if faults is None else f"{faults:>8.0f}"
        )
        print(f"  {name:<36}{value:>8.2f}{shown}")
    return steps


if __name__ == "__main__":
    main()
