"""``python -m posixbackend``: the launcher (see :mod:`posixbackend.launcher`)."""

import sys

from posixbackend.launcher import main

# Python's messages name python as it was started (sys.orig_argv[0]): so do the launcher's.
status = main(program_name=sys.orig_argv[0])
if status is not None:  # None: the program ran and python's -i prompt follows
    sys.exit(status)
