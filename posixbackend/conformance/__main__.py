"""``python -m posixbackend.conformance``: see :mod:`posixbackend.conformance.cli`."""

import sys

from posixbackend.conformance.cli import main

sys.exit(main())
