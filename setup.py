"""Installs ``posixbackend-startup.pth`` beside the packages (pyproject.toml holds the rest).

The .pth file lets child Python processes pick up the backend their parent launcher chose
(see ``posixbackend/launcher/startup.py``). setuptools has no option for a file at the top of
site-packages, so both the regular build (build_py) and the editable one (editable_wheel) are
told to add it.
"""

import os

from setuptools import setup
from setuptools.command.build_py import build_py
from setuptools.command.editable_wheel import editable_wheel

PTH = "posixbackend-startup.pth"


class BuildPyWithStartup(build_py):
    """The regular build: the .pth goes into the wheel's root with the packages."""

    def run(self):
        super().run()
        self.copy_file(PTH, os.path.join(self.build_lib, PTH), preserve_mode=False)

    def get_outputs(self, include_bytecode=True):
        return [*super().get_outputs(include_bytecode), os.path.join(self.build_lib, PTH)]


class EditableWheelWithStartup(editable_wheel):
    """The editable build: the .pth goes into the wheel beside setuptools' own .pth files."""

    def _install_namespaces(self, installation_dir, pth_prefix):
        super()._install_namespaces(installation_dir, pth_prefix)
        self.copy_file(PTH, os.path.join(installation_dir, PTH), preserve_mode=False)


setup(cmdclass={"build_py": BuildPyWithStartup, "editable_wheel": EditableWheelWithStartup})
