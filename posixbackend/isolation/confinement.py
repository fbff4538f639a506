"""Confining the isolated child before the guest runs: each step the kernel allows, and why
not the rest.

In two parts. First, before anything of the guest's is built (:func:`isolate`): new user,
network and mount namespaces, and the minimal root holding only the child's view of the host.
Then, once the guest's file system is built (:func:`confine`): every capability dropped;
no_new_privs; Landlock (reading exactly the view, writing nothing); the resource limits; the
seccomp filter. A pool's spare child takes the steps that need no job (:func:`restrict`)
before its job comes and builds the guest's file system under them, then the rest
(:func:`finish`). Each step that fails is recorded with its reason instead of stopping the run,
so an older kernel degrades to what it has, and the result says exactly what was applied.
All of it happens while the child has a single thread: unshare needs that, and Landlock
confines only the calling thread and the threads it starts afterwards.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import attrs

import compat
from posixbackend.isolation import capabilities, landlock, namespaces, rlimits, seccomp
from posixbackend.isolation.hostview import HostView
from posixbackend.isolation.limits import Limits
from posixbackend.isolation.minimalroot import enter_minimal_root, layout
from posixbackend.isolation.roottemplate import RootTemplate

HOST_PATHS_VISIBLE = compat.declare(
    id="isolation.host_paths_visible",
    function="os.stat",
    aspect="isolated mode without a mount namespace",
    level=compat.Level.INFO,
    explanation="where the kernel refuses the child a mount namespace (a non-root user "
    "without unprivileged user namespaces), Landlock alone confines it: it reads only its "
    "view of the host, but stat, readlink and inotify of other host paths, and connecting "
    "to host socket files through a socketpair end's peer, are not stopped by it "
    "(IsolatedResult.not_confined names 'minimal_root')",
)


@attrs.frozen
class Confinement:
    """What was applied, and for each step that was not, why."""

    applied: tuple[str, ...]
    not_applied: dict[str, str]

    def to_data(self) -> dict[str, Any]:
        """Plain data for the confined frame."""
        return {"applied": list(self.applied), "not_applied": dict(self.not_applied)}

    def then(self, later: Confinement) -> Confinement:
        """These steps followed by ``later``'s."""
        return Confinement(
            (*self.applied, *later.applied), {**self.not_applied, **later.not_applied}
        )


class Steps:
    """Runs confinement steps, noting each as applied or, with its error, not."""

    def __init__(self) -> None:
        self.applied: list[str] = []
        self.missing: dict[str, str] = {}

    def run(self, name: str, action: Callable[[], object]) -> bool:
        """Apply one step; whether it was."""
        try:
            action()
        except (OSError, ValueError) as error:  # ValueError: setrlimit above the hard limit
            self.missing[name] = str(error)
            return False
        self.applied.append(name)
        return True

    def note(self, applied: Iterable[str], missing: dict[str, str]) -> None:
        """Record steps applied elsewhere (several at once)."""
        self.applied += applied
        self.missing.update(missing)

    def result(self) -> Confinement:
        return Confinement(tuple(self.applied), dict(self.missing))


def isolate(view: HostView, template: RootTemplate | None = None) -> Confinement:
    """Enter the namespaces and the minimal root of ``view`` (this single-threaded process);
    ``template``: that root built once, by a pool's zygote, copied here (OSError if that
    fails: see :meth:`RootTemplate.enter`)."""
    _check_single_threaded()
    if template is not None:
        return Confinement(template.enter(), {})
    steps = Steps()
    entered, refused = namespaces.enter_namespaces()
    steps.note(entered, refused)
    if "mount_namespace" in entered:
        root = view.root or layout(view.paths())
        steps.run("minimal_root", lambda: enter_minimal_root(root))
    else:
        HOST_PATHS_VISIBLE.hit()
        steps.missing["minimal_root"] = "no mount namespace"
    return steps.result()


def confine(limits: Limits, view: HostView, isolated: Confinement | None = None) -> Confinement:
    """Apply the remaining steps to this (single-threaded) process: what was applied, after
    what :func:`isolate` applied. The steps that need no job first (:func:`restrict`), then
    the job's (:func:`finish`), in the order a pool's child takes them."""
    done = restrict(view).then(finish(limits, None))
    return done if isolated is None else isolated.then(done)


def restrict(view: HostView, ruleset: landlock.Ruleset | None = None) -> Confinement:
    """The steps of :func:`confine` that depend on no job, which a pool's spare child takes
    before its job comes (see :class:`~posixbackend.isolation.child.Ahead`): every
    capability dropped, no_new_privs, Landlock reading exactly ``view`` (``ruleset``: the
    ruleset of :func:`landlock_rules`, made ahead, as a pool's zygote makes it once for its
    children; enforced here and left open; None: made now)."""
    _check_single_threaded()
    steps = Steps()
    steps.run("capabilities", capabilities.drop_capabilities)
    steps.run("no_new_privs", seccomp.set_no_new_privs)
    try:
        if ruleset is None:
            steps.note(*landlock.restrict(landlock_rules(view)))
        else:
            steps.note(*ruleset.enforce())
    except OSError as error:
        steps.missing["landlock"] = str(error)
    return steps.result()


def landlock_rules(view: HostView) -> landlock.Rules:
    """The child's Landlock rules: reading exactly ``view``, writing nothing."""
    return landlock.Rules(readable=view.paths())


def finish(limits: Limits, program: bytes | None) -> Confinement:
    """The steps of :func:`confine` left after :func:`restrict`: the job's resource limits,
    then the seccomp filter (``program``: the filter assembled ahead for this process; None:
    assemble it now)."""
    _check_single_threaded()
    steps = Steps()
    steps.run("rlimits", lambda: rlimits.set_resource_limits(limits))
    if program is None:
        steps.run("seccomp", seccomp.install_filter)
    else:
        steps.run("seccomp", lambda: seccomp.install_program(program))
    return steps.result()


def _check_single_threaded() -> None:
    if not namespaces.single_threaded():
        raise RuntimeError("the child must confine itself before it starts any thread")
