"""A module that ends the process while it is imported, before any test starts."""

import os

os._exit(4)
