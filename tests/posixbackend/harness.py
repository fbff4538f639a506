"""Running one scenario on real ``os`` and on an EmulatedBackend, and comparing what they saw.

The native side runs in a worker process chrooted into an empty directory (so the guest's ``/``
is that directory on both sides) with umask 0o022 (the emulated backend's starting umask); the
emulated side calls the backend in this process. A scenario calls functions by their ``os``
names on a :class:`OsRecorder`; every result and error is normalised (file descriptors become
labels, stat results the fields that must agree) and the two recordings must be equal, except
inside ``with rec.gap(GAP):`` blocks, where the emulated side must have hit that compat gap.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Callable, Iterator
from typing import Any

import compat
from tests.vfs.conftest import make_root
from tests.vfs.ops import Ops
from tests.vfs.recording import Post, Recorder
from tests.vfs.worker import Worker

FD_RESULTS = {"open", "dup", "dup2", "pipe", "pipe2"}
NATIVE_UMASK = 0o022


class NativeOs(Ops):
    """Calls the real ``os`` (inside the worker)."""

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        positional, keywords = args
        result = getattr(os, name)(*positional, **keywords)
        return _plain(result)


class EmulatedOs(Ops):
    """Calls an EmulatedBackend."""

    def __init__(self, backend: Any) -> None:
        super().__init__()
        self.backend = backend

    def call(self, name: str, args: tuple[Any, ...]) -> Any:
        positional, keywords = args
        return _plain(getattr(self.backend, name)(*positional, **keywords))


def _plain(result: Any) -> Any:
    """Results that cross a process boundary: iterators become lists of their facts."""
    if hasattr(result, "__next__") and hasattr(result, "close"):  # a scandir iterator
        with result:
            return sorted(
                (entry.name, entry.is_dir(follow_symlinks=False), entry.is_symlink())
                for entry in result
            )
    return result


class OsRecorder(Recorder):
    """A Recorder whose operations are ``os`` functions called with positional and keyword
    arguments; descriptors in results are replaced by labels."""

    def __init__(
        self,
        call: Callable[[str, tuple[Any, ...]], Any],
        name: str,
        emulated: bool,
        post: Post | None = None,
    ) -> None:
        super().__init__(call, name, post)
        self.emulated = emulated
        self._fds: dict[int, int] = {}
        self._masked: str | None = None

    def __getattr__(self, op: str) -> Callable[..., Any]:
        if op.startswith("_"):
            raise AttributeError(op)

        def run(*args: Any, **kwargs: Any) -> Any:
            return self._finish_call(op, args, kwargs, lambda: self._call(op, (args, kwargs)))

        return run

    def begin(self, op: str, *args: Any, **kwargs: Any) -> Callable[[], Any]:
        """Start ``op`` (in the worker's process when there is one) and return what finishes
        it as calling ``self.op(*args, **kwargs)`` would."""
        if self._post is None:
            return lambda: getattr(self, op)(*args, **kwargs)
        outcome = self._post(op, (args, kwargs))
        return lambda: self._finish_call(op, args, kwargs, outcome)

    def _finish_call(
        self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], produce: Callable[[], Any]
    ) -> Any:
        """Record ``produce()``'s result or error; the result (None after an error)."""
        try:
            result = produce()
        except OSError as error:
            self._record(
                op,
                args,
                kwargs,
                ("error", type(error).__name__, error.errno, error.filename, error.filename2),
            )
            return None
        except (
            TypeError,
            ValueError,
            NotImplementedError,
            OverflowError,
            BufferError,
        ) as error:
            self._record(op, args, kwargs, ("exception", type(error).__name__, str(error)))
            return None
        self._inodes.clear()
        self._devices.clear()
        if op in FD_RESULTS:
            outcome: Any = self._fd_outcome(result)
        else:
            outcome = self.normalise(result)
        self._record(op, args, kwargs, outcome)
        return result

    def _fd_outcome(self, result: Any) -> Any:
        fds = result if isinstance(result, tuple) else (result,)
        labels = tuple(("fd", self._fds.setdefault(fd, len(self._fds))) for fd in fds)
        return labels if isinstance(result, tuple) else labels[0]

    def _record(self, op: str, args: tuple[Any, ...], kwargs: dict[str, Any], outcome: Any) -> None:
        if self._masked is not None:
            outcome = ("differs", self._masked)
        self.log.append((op, (args, tuple(sorted(kwargs.items()))), outcome))

    def note(self, label: str, value: Any) -> None:
        self._record("note", (label,), {}, value)

    @contextlib.contextmanager
    def gap(self, gap_id: str) -> Iterator[None]:
        """Operations whose outcomes may differ because of ``gap_id``; the emulated side must
        hit that gap inside the block (so the divergence is the declared one)."""
        before = _hits(gap_id)
        self._masked = gap_id
        try:
            yield
        finally:
            self._masked = None
        if self.emulated:
            assert _hits(gap_id) > before, f"expected the emulated backend to hit {gap_id}"


def _hits(gap_id: str) -> int:
    entry = compat.report().get(gap_id)
    return entry.count if entry is not None else 0


def run_on_both(
    scenario: Callable[[OsRecorder], None], make_backend: Callable[[str], Any]
) -> tuple[OsRecorder, OsRecorder]:
    """Run ``scenario`` natively (chrooted worker) and on ``make_backend(directory)``."""
    native_root, emulated_root = make_root(), make_root()
    worker = Worker(NativeOs, chroot=native_root, umask=NATIVE_UMASK)
    try:
        native = OsRecorder(worker.call, "native", emulated=False)
        scenario(native)
    finally:
        worker.close()
        shutil.rmtree(native_root, ignore_errors=True)
    try:
        backend = make_backend(emulated_root)
        emulated = OsRecorder(EmulatedOs(backend).call, "emulated", emulated=True)
        scenario(emulated)
        backend.file_system.close()
    finally:
        shutil.rmtree(emulated_root, ignore_errors=True)
    return native, emulated


def assert_same(native: OsRecorder, emulated: OsRecorder) -> None:
    """Outcomes must agree step by step (arguments differ only by descriptor numbers)."""
    assert native.log, "the scenario recorded nothing"
    problems = []
    for index, (want, got) in enumerate(zip(native.log, emulated.log, strict=False)):
        if want[0] != got[0] or want[2] != got[2]:
            problems.append(
                f"#{index} {want[0]}{want[1]!r}:\n    native:   {want[2]!r}\n"
                f"    emulated: {got[2]!r}  (ran {got[0]}{got[1]!r})"
            )
    if len(native.log) != len(emulated.log):
        problems.append(f"native recorded {len(native.log)} steps, emulated {len(emulated.log)}")
    assert not problems, "\n".join(problems)
