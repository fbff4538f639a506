"""``python -m posixbackend``: the launcher (see :mod:`posixbackend.launcher`)."""

import sys

from posixbackend.launcher import main

sys.exit(main())
