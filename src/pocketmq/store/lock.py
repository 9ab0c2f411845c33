"""StoreLock: the `lock` file that keeps a second process off a store directory.

Java takes a FileChannel lock on `<root>/lock`; on Linux that is a POSIX record lock, which is what
`fcntl.lockf` takes, so pocketmq and a Java broker exclude each other. POSIX locks are per process,
so a second open in the same process is refused through a registry here.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from pocketmq.common.errors import StoreLockedError

__all__ = ["StoreLock"]

_HELD: set[Path] = set()


class StoreLock:
    def __init__(self, root: Path) -> None:
        self.path = root / "lock"
        self._fd = -1

    def acquire(self) -> None:
        key = self.path.resolve()
        if key in _HELD:
            raise StoreLockedError(
                f"store directory {self.path.parent} is already open in this process; "
                "close it first or open it with read_only=True"
            )
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise StoreLockedError(
                f"store directory {self.path.parent} is in use by another process (it holds "
                f"{self.path}); stop that broker first, or use a read-only tool "
                "(`pocketmq store dump|verify`)"
            ) from None
        self._fd = fd
        _HELD.add(key)

    def release(self) -> None:
        if self._fd >= 0:
            _HELD.discard(self.path.resolve())
            os.close(self._fd)  # closing drops the POSIX lock
            self._fd = -1
