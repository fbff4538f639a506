"""multiprocessing's default start method for a program the launcher runs on the emulated
backend with processes allowed: spawn, since a fork is never emulated.

Nothing is imported at start-up: a finder first on ``sys.meta_path`` lets the import system
find ``multiprocessing.context`` as usual and, once that module has run, makes spawn its
default (what ``set_start_method`` has not chosen). ``get_context("fork")`` asked for by name
stays refused (gap ``emulated.process.fork_exec``). The finder and its loader have the import
protocols' methods without ``importlib.abc``'s bases: importing that module imports
``importlib.resources`` (with ``tempfile`` and ``shutil``), which no start-up needs.
"""

from __future__ import annotations

import sys
import types
from collections.abc import Sequence
from importlib.machinery import ModuleSpec
from typing import TYPE_CHECKING, Any, cast

import compat

if TYPE_CHECKING:
    from importlib.abc import Loader

SPAWN_BY_DEFAULT = compat.declare(
    id="launcher.spawn_start_method",
    function="multiprocessing.get_start_method",
    aspect="the default start method",
    level=compat.Level.INFO,
    explanation="a program the launcher runs on the java backend with processes allowed gets "
    "'spawn' as multiprocessing's default start method, where Linux's Python uses 'fork' "
    "(never emulated): pools and processes started without naming a method re-import their "
    "program instead of inheriting its memory",
)
CONTEXT_MODULE = "multiprocessing.context"


class SpawnByDefault:
    """Finds ``multiprocessing.context`` through the finders after it, with a loader that
    makes spawn the default once the module has run."""

    def find_spec(
        self,
        fullname: str,
        path: Sequence[str] | None = None,
        target: types.ModuleType | None = None,
    ) -> ModuleSpec | None:
        if fullname != CONTEXT_MODULE:
            return None
        for finder in sys.meta_path:
            find = getattr(finder, "find_spec", None)
            if finder is self or find is None:
                continue
            spec: ModuleSpec | None = find(fullname, path, target)
            if spec is not None:
                if spec.loader is not None:
                    spec.loader = cast("Loader", _SpawnSettingLoader(spec.loader))
                return spec
        return None


class _SpawnSettingLoader:
    """The module's own loader, then spawn made the default."""

    def __init__(self, loader: Any) -> None:
        self._loader = loader

    def create_module(self, spec: ModuleSpec) -> types.ModuleType | None:
        module: types.ModuleType | None = self._loader.create_module(spec)
        return module

    def exec_module(self, module: types.ModuleType) -> None:
        self._loader.exec_module(module)
        spawn_by_default(module)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._loader, name)  # get_source, get_filename... as the module's own


def spawn_by_default(context: Any) -> None:
    """Make spawn the default context of the ``multiprocessing.context`` module given, unless
    a start method was chosen already."""
    default = context._default_context
    if default._actual_context is None and default._default_context._name != "spawn":
        default._default_context = context._concrete_contexts["spawn"]
        SPAWN_BY_DEFAULT.hit()


def install() -> None:
    """From now on (or now, if it is imported already) spawn is multiprocessing's default."""
    context = sys.modules.get(CONTEXT_MODULE)
    if context is not None:
        spawn_by_default(context)
    elif not any(isinstance(finder, SpawnByDefault) for finder in sys.meta_path):
        sys.meta_path.insert(0, SpawnByDefault())
