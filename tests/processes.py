"""What /proc says about a process, for tests that check that processes ended."""

from __future__ import annotations


def alive(pid: int) -> bool:
    """Whether ``pid`` runs: a zombie waiting for its parent does not, and neither does a
    process that ends while its status is read (the read then fails with ESRCH)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rpartition(b")")[2].split()
    except OSError:  # (FileNotFoundError: gone; ProcessLookupError: it ended mid-read)
        return False
    return bool(fields) and fields[0] != b"Z"
