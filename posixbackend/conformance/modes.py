"""The runs a conformance module gets: native, and the java backend over each file system."""

from __future__ import annotations

import enum

DEFAULT_MODULES = (
    "test_os", "test_posix", "test_posixpath", "test_genericpath", "test_shutil",
    "test_tempfile", "test_pathlib", "test_glob", "test_fileio", "test_fileinput",
    "test_filecmp", "test_zipfile", "test_tarfile",
    "test_sqlite3", "test_mmap", "test_py_compile", "test_compileall", "test_zipimport",
    "test_fcntl",
)  # fmt: skip
"""CPython's test modules that exercise files and the os module (issue 7's), and those of C
code on files (issue 18's)."""


class Mode(enum.Enum):
    """One way to run a module: the native backend, or the java backend with a ``--fs``."""

    NATIVE = "native"
    HOST = "host"
    MEMORY = "memory"

    @property
    def launcher_options(self) -> tuple[str, ...]:
        """The launcher options (``python -m posixbackend ...``) for this mode."""
        if self is Mode.NATIVE:
            return ("--posix-backend=native",)
        return ("--posix-backend=java", f"--fs={self.value}")

    @property
    def label(self) -> str:
        """How tables and progress lines name the mode."""
        return "native" if self is Mode.NATIVE else f"java --fs={self.value}"

    @property
    def target_percent(self) -> float:
        """The share of natively passing tests that must pass in this mode (issue 18's)."""
        targets = {Mode.NATIVE: 100.0, Mode.HOST: 97.0, Mode.MEMORY: 95.0}
        return targets[self]


JAVA_MODES = (Mode.HOST, Mode.MEMORY)
"""The modes ``--fs`` chooses from, in table order."""


def parse_java_modes(text: str) -> tuple[Mode, ...]:
    """``--fs host,memory``: the java modes named, in table order (ValueError if unknown)."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ValueError("--fs: name at least one of host, memory")
    unknown = [name for name in names if name not in {mode.value for mode in JAVA_MODES}]
    if unknown:
        raise ValueError(f"--fs: expected host or memory, not {', '.join(map(repr, unknown))}")
    return tuple(mode for mode in JAVA_MODES if mode.value in names)
