"""What every build step needs to know, gathered once by the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Future
from dataclasses import dataclass, field
from pathlib import Path

from pybuildpack.build_data import BuildData
from pybuildpack.layout import Layout
from pybuildpack.output import Console


@dataclass
class BuildContext:
    layout: Layout
    env_dir: Path | None
    environ: Mapping[str, str]
    config: Mapping[str, str]
    console: Console
    data: BuildData
    build_env: dict[str, str] = field(default_factory=dict)
    install_test: bool = False
    env_restored: bool = False  # the cached environment was linked in (reused or updated in place)
    # the uv wheel being fetched beside the runtime, and where to (package_managers/uv.py)
    uv_fetch: tuple[Future[None], Path] | None = None

    @property
    def build_dir(self) -> Path:
        """The app's directory (the classic BUILD_DIR, the CNB workspace)."""
        return self.layout.app_dir

    @property
    def cache_dir(self) -> Path:
        """What hooks see as CACHE_DIR, and where tool installs run."""
        return self.layout.cache_root

    @property
    def python_home(self) -> Path:
        return self.layout.python_home

    @property
    def python(self) -> Path:
        return self.layout.python
