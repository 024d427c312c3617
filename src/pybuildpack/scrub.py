"""Credentials the installers write into what they install, removed before the slug or cache keeps
them: an editable VCS requirement (`-e git+https://user:token@...`) is a git checkout in
.heroku/python/src whose .git/config (and FETCH_HEAD) record the URL with its password or token.
The URLs stay (without the credentials), so the checkout still says where it came from.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from pathlib import Path

_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#@\s]+)@")
_GIT_FILES = ("config", "FETCH_HEAD", "ORIG_HEAD", "packed-refs")
_MAX_CHECKOUTS = 10_000


def without_credentials(text: str) -> str:
    """URLs in `text` without their userinfo (an SSH login name stays: it is not a secret)."""

    def strip(match: re.Match[str]) -> str:
        scheme = match["scheme"]
        if "ssh" in scheme.lower() and ":" not in match["userinfo"]:
            return match[0]
        return scheme

    return _USERINFO.sub(strip, text)


def _git_texts(git_dir: Path) -> Iterator[Path]:
    for name in _GIT_FILES:
        path = git_dir / name
        if path.is_file() and not path.is_symlink():
            yield path
    logs = git_dir / "logs"
    if logs.is_dir():
        yield from (path for path in logs.rglob("*") if path.is_file() and not path.is_symlink())


def git_checkouts(src: Path) -> None:
    """Remove URL credentials from the git metadata of every checkout under `src`."""
    if not src.is_dir():
        return
    for count, git_dir in enumerate(src.glob("*/.git")):
        if count >= _MAX_CHECKOUTS:
            break
        if git_dir.is_symlink() or not git_dir.is_dir():
            continue
        for path in _git_texts(git_dir):
            text = path.read_text(encoding="utf-8", errors="surrogateescape")
            clean = without_credentials(text)
            if clean != text:
                path.write_text(clean, encoding="utf-8", errors="surrogateescape")


@contextlib.contextmanager
def afterwards(src: Path) -> Iterator[None]:
    """Around the dependency install: scrub the checkouts in `src` when it ends, even on failure."""
    try:
        yield
    finally:
        git_checkouts(src)
