"""tree_size: the one way sizes are counted (hard links inside the tree once, symlinks as nothing)."""

from __future__ import annotations

import os
from pathlib import Path

from pybuildpack.sizes import human_size, tree_size


def test_hard_links_inside_the_tree_count_once_and_symlinks_not_at_all(tmp_path: Path) -> None:
    outside = tmp_path / "cache-file"
    outside.write_bytes(b"c" * 300)
    tree = tmp_path / "tree"
    (tree / "sub").mkdir(parents=True)
    (tree / "a").write_bytes(b"a" * 1000)
    os.link(tree / "a", tree / "sub" / "a-again")
    os.link(outside, tree / "from-cache")
    (tree / "link").symlink_to(tree / "a")
    (tree / "dangling").symlink_to(tmp_path / "missing")
    assert tree_size(tree) == 1000 + 300
    assert tree_size(tmp_path) == 1000 + 300  # the cache file and its link in the tree: one inode


def test_human_size() -> None:
    assert [human_size(n) for n in (0, 1023, 1536, 5 * 1024**2, 3 * 1024**4)] == [
        "0 B",
        "1023 B",
        "1.5 KB",
        "5.0 MB",
        "3072.0 GB",
    ]
