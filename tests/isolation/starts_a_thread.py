"""A module that leaves a thread running when imported: a zygote must refuse to preload it
(tests/isolation/test_pool_preload.py)."""

from __future__ import annotations

import threading

_STOP = threading.Event()
threading.Thread(target=_STOP.wait, name="left-by-an-import", daemon=True).start()
