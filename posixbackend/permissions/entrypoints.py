"""Where guest code may enter the library: the audit hook's idea of trusted library code.

The library reaches the host for the backends it serves (a host provider opens real files),
so the audit hook lets library code through -- but only library code entered through one of
the *entry points* registered here: the stand-ins, the file and directory objects they hand
out, blocks, the thread stand-ins. Library code that guest code called directly (a provider
it built or found, a helper) is judged as the guest's own. *Boundaries* are library functions
that call whatever their caller hands them (a thread's body, a pool job): what runs below one
is judged by who called it, not by the library frame in between.

*Pass-throughs* are entry points that may call a real function themselves (a stand-in serving
the native backend): an event raised right there is the call of whoever called the stand-in.

Modules register their objects when they are imported; the hook turns them into code objects
when it looks (every method of a class, nested functions included).
"""

from __future__ import annotations

from typing import Final

ENTRY_POINTS: Final[list[object]] = []
"""Classes (every method counts) and functions guest code may call to reach the library."""
BOUNDARIES: Final[list[object]] = []
"""Library functions that run a callable their caller chose."""
PASS_THROUGHS: Final[list[object]] = []
"""Entry points that call the real function for the native backend."""


def entry_points(*objects: object) -> None:
    """Register ``objects`` (classes or functions) as entry points."""
    ENTRY_POINTS.extend(objects)


def boundaries(*objects: object) -> None:
    """Register ``objects`` (functions) as boundaries."""
    BOUNDARIES.extend(objects)


def pass_throughs(*objects: object) -> None:
    """Register ``objects`` (functions) as pass-throughs."""
    PASS_THROUGHS.extend(objects)
