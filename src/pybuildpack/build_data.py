"""The build report behind `bin/report`: CACHE_DIR/build-data/python.json, written as the build goes.

It is written after every change so that `bin/report` has something true to print even when the
build failed half-way. If the file disappears during the build (a hook deleted CACHE_DIR), the build
fails saying so rather than silently recreating it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pybuildpack.errors import BuildError

MAX_STRING = 200


class BuildData:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, object] = {}

    @classmethod
    def start(cls, path: Path) -> BuildData:
        """Keep the last build's data as python-prev.json and start an empty record."""
        data = cls(path)
        data.path.parent.mkdir(parents=True, exist_ok=True)
        if data.path.exists():
            data.path.replace(data.path.with_name("python-prev.json"))
        for legacy in ("python", "python-prev"):
            (data.path.parent / legacy).unlink(missing_ok=True)
        data._write()
        return data

    def previous(self) -> dict[str, object]:
        try:
            loaded = json.loads(self.path.with_name("python-prev.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return loaded if isinstance(loaded, dict) else {}

    def set(self, key: str, value: object) -> None:
        if isinstance(value, str) and len(value) > MAX_STRING:
            value = value[:MAX_STRING]
        self.values[key] = value
        self.ensure_present()
        self._write()

    def update(self, values: dict[str, object]) -> None:
        for key, value in values.items():
            self.set(key, value)

    @contextmanager
    def timed(self, key: str) -> Iterator[None]:
        started = time.monotonic()
        try:
            yield
        finally:
            if self.path.exists():
                self.set(key, round(time.monotonic() - started, 3))

    def ensure_present(self) -> None:
        if not self.path.exists():
            raise BuildError(
                f"The build data file {self.path} was deleted during the build.",
                "pybuildpack records the build in this file while it runs, and platforms read it "
                "afterwards. Something (usually a bin/pre_compile or bin/post_compile hook) removed it, "
                "or removed the whole cache directory.",
                "Change the hook so it does not delete $CACHE_DIR or anything inside it.",
                failure_reason="build-data::data-file-deleted",
            )

    def record_failure(self, error: BuildError) -> None:
        """Best effort: a failure must be reported even if the file is gone."""
        self.values.setdefault("failure_reason", error.failure_reason)
        if error.failure_detail is not None:
            self.values.setdefault("failure_detail", error.failure_detail[:MAX_STRING])
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._write()

    def _write(self) -> None:
        tmp = self.path.with_name(f".python.json.{os.getpid()}")
        tmp.write_text(json.dumps(self.values, sort_keys=True, indent=2) + "\n", encoding="utf-8")
        tmp.replace(self.path)


def report(path: Path) -> str:
    """`bin/report`: the build data, keys sorted; `{}` when there is none."""
    try:
        loaded = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        loaded = {}
    if not isinstance(loaded, dict):
        loaded = {}
    return json.dumps(loaded, sort_keys=True, indent=2)
