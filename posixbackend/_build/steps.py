"""Build steps setuptools runs for this project (named in pyproject.toml's cmdclass).

They put ``posixbackend-startup.pth`` at the top of site-packages, beside the packages: the
file that lets child Python processes pick up the backend their parent launcher chose (see
``posixbackend/launcher/startup.py``). setuptools has no option for a file there, so both the
regular build (build_py) and the editable one (editable_wheel) are told to add it.

setuptools loads this file by its path, without importing the package. Its directory has no
``__init__.py``, so it is not part of the installed package and no walk over the package's
modules (compat.docs imports them all) ever imports it where setuptools is missing.
"""

from __future__ import annotations

import os

from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "posixbackend-startup.pth"
SOURCE = os.path.join("posixbackend", PTH)


class BuildPyWithStartup(build_py):
    """The regular build: the .pth goes into the wheel's root with the packages."""

    def run(self) -> None:
        super().run()
        self.copy_file(SOURCE, os.path.join(self.build_lib, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


class EditableWheelWithStartup(editable_wheel):
    """The editable build: the .pth goes into the wheel beside setuptools' own .pth files
    (``_install_namespaces`` is the step that writes those; the type stubs leave it out)."""

    def _install_namespaces(self, installation_dir: str, pth_prefix: str) -> None:
        super()._install_namespaces(installation_dir, pth_prefix)  # type: ignore[misc]
        self.copy_file(SOURCE, os.path.join(installation_dir, PTH), preserve_mode=False)
