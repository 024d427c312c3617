"""What every build step needs to know, gathered once by the pipeline."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from pybuildpack.build_data import BuildData
from pybuildpack.output import Console


@dataclass
class BuildContext:
    build_dir: Path
    cache_dir: Path
    env_dir: Path | None
    environ: Mapping[str, str]
    config: Mapping[str, str]
    console: Console
    data: BuildData
    build_env: dict[str, str] = field(default_factory=dict)
    install_test: bool = False
    env_restored: bool = False  # the cached environment was linked in (reused or updated in place)

    @property
    def python_home(self) -> Path:
        return self.build_dir / ".heroku" / "python"

    @property
    def python(self) -> Path:
        return self.python_home / "bin" / "python"
