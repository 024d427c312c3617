"""How big a tree of files is, and how a size is shown.

Every size the buildpack prints or records (the cache dir, a release's slug) comes from
``tree_size``. It counts what the tree occupies, the way ``tar`` would store it: the apparent size
of each regular file, each hard-linked inode once however many names it has inside the tree
(``tar`` stores the other names as links), symlinks and directories as nothing. A file hard-linked
from outside the tree (a release restored by hard links from the build cache) counts fully in each
tree, since each would carry it on its own.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path


def tree_size(root: Path) -> int:
    """Bytes of the regular files under ``root``, each inode once; unreadable entries are skipped."""
    seen: set[tuple[int, int]] = set()
    total = 0
    for directory, _dirs, files in os.walk(root):
        for name in files:
            try:
                info = (Path(directory) / name).lstat()
            except OSError:
                continue
            if not stat.S_ISREG(info.st_mode) or (info.st_dev, info.st_ino) in seen:
                continue
            seen.add((info.st_dev, info.st_ino))
            total += info.st_size
    return total


def human_size(size: int) -> str:
    """1536 -> "1.5 KB" (binary units, one decimal; bytes as a whole number)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{value:.1f} {unit}" if unit != "B" else f"{size} B"
        value /= 1024
    return f"{size} B"
