"""Hard links with a fallback to copies: the one way the build copies files it only reads afterwards
(the cached environment, collectstatic output, tool store entries)."""

from __future__ import annotations

import errno
import os
import shutil
from pathlib import Path

# Errors that mean "no hard link here" (another filesystem, links not allowed, too many links), not a
# fault worth reporting: the file is copied instead.
_NO_LINK = (errno.EXDEV, errno.EPERM, errno.EMLINK)


def link_or_copy(source: str | Path, target: str | Path) -> None:
    """Hard-link ``source`` at ``target``, or copy it (with its metadata) where linking is impossible.
    Usable as ``shutil.copytree``'s copy_function."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in _NO_LINK:
            raise
        shutil.copy2(source, target)
