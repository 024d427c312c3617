"""CNB layers: their metadata, the reasons a restored layer is discarded, and their env files.

Each layer the build uses gets ``<layers>/<name>.toml`` with ``[types]`` and ``[metadata]``. The
lifecycle restores a cache layer's files and metadata, but never its ``[types]``, so every build writes
the types again. Every layer's metadata carries the metadata format and the target (OS, arch, distro);
a restored layer whose metadata differs is discarded, and the build says why. The python layer's
metadata also carries the key of the installed environment (cache.EnvKey), which cache.restore compares
as it compares the classic cache's key.
"""

from __future__ import annotations

import json
import os
import shutil
import tomllib
from collections.abc import Collection, Mapping
from dataclasses import asdict
from pathlib import Path

from pybuildpack import cache, sizes, toml_write
from pybuildpack.layout import CNB_LAYERS, Layout
from pybuildpack.output import Console
from pybuildpack.package_managers.spec import EnvVar

FORMAT = 1  # of the metadata this buildpack writes; a different one is discarded
PYTHON = "python"


def target(environ: Mapping[str, str]) -> dict[str, str]:
    """What a layer was built for, from the lifecycle's CNB_TARGET_* variables."""
    names = ("OS", "ARCH", "ARCH_VARIANT", "DISTRO_NAME", "DISTRO_VERSION")
    return {name.lower(): environ.get(f"CNB_TARGET_{name}", "") for name in names}


def read_metadata(layers_dir: Path, name: str) -> dict[str, object] | None:
    """The restored ``[metadata]`` of a layer, None when there is no ``<name>.toml``, {} if unreadable."""
    path = layers_dir / f"{name}.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError, UnicodeDecodeError):
        return {}
    metadata = data.get("metadata")
    return metadata if isinstance(metadata, dict) else {}


def stale_reason(name: str, metadata: Mapping[str, object], wanted: Mapping[str, str]) -> str | None:
    """Why a restored layer cannot be used by this build, or None."""
    found = metadata.get("format")
    if found != FORMAT:
        return (
            f"The {name} layer's metadata was written by another version of this buildpack "
            f"(metadata format {_shown(found)}, this version writes {FORMAT})"
        )
    before = metadata.get("target")
    if before != dict(wanted):
        was, now = _target_text(before), _target_text(wanted)
        return f"The {name} layer was built for another target ({was}, now {now})"
    return None


def _shown(value: object) -> str:
    return "none" if value is None else json.dumps(value)[:40]


def _target_text(value: object) -> str:
    if not isinstance(value, Mapping):
        return "unknown"
    parts = [str(value.get(key, "")) for key in ("os", "arch", "distro_name", "distro_version")]
    return "/".join(part for part in parts if part) or "unknown"


def check_restored(layers_dir: Path, wanted: Mapping[str, str], console: Console) -> None:
    """Discard every restored layer, except python (cache.restore decides about it), that this build
    cannot use, printing why."""
    reasons = []
    for name in CNB_LAYERS:
        if name == PYTHON:
            continue
        metadata = read_metadata(layers_dir, name)
        if metadata is None:
            continue
        reason = stale_reason(name, metadata, wanted)
        if reason is not None:
            remove_layer(layers_dir, name)
            reasons.append(reason)
    if reasons:
        console.step("Discarding layers since:")
        for reason in reasons:
            console.info(f"- {reason}")


def remove_layer(layers_dir: Path, name: str) -> None:
    shutil.rmtree(layers_dir / name, ignore_errors=True)
    (layers_dir / f"{name}.toml").unlink(missing_ok=True)


def write_layer(
    layers_dir: Path, name: str, wanted: Mapping[str, str], extra: Mapping[str, object] | None = None
) -> None:
    """``<name>.toml`` with this layer's types and metadata (atomically)."""
    launch, build, keep = CNB_LAYERS[name]
    metadata: dict[str, object] = {"format": FORMAT, "target": dict(wanted), **(extra or {})}
    text = toml_write.dumps(
        {"types": {"launch": launch, "build": build, "cache": keep}, "metadata": metadata}
    )
    path = layers_dir / f"{name}.toml"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)


def write_used_layers(
    layers_dir: Path, wanted: Mapping[str, str], foreign: Collection[str] = ()
) -> tuple[list[str], list[str]]:
    """After a successful build: the types and metadata of every layer that has files (python's is
    written by the env store); the toml of an unused layer is removed so it is not exported, and so
    is a ``foreign`` layer (another package manager's). Returns (used, dropped): the layers kept, and
    the foreign ones that a previous build had left."""
    used, dropped = [], []
    for name in CNB_LAYERS:
        if name == PYTHON:
            continue
        if name in foreign:
            if (layers_dir / f"{name}.toml").is_file() or (layers_dir / name).is_dir():
                dropped.append(name)
            remove_layer(layers_dir, name)
        elif (layers_dir / name).is_dir() and any((layers_dir / name).iterdir()):
            write_layer(layers_dir, name, wanted)
            used.append(name)
        else:
            remove_layer(layers_dir, name)
    return used, dropped


class LayerEnvStore:
    """The CNB face's cached environment: the python layer itself, kept by the lifecycle."""

    def __init__(self, layers_dir: Path, wanted: Mapping[str, str]) -> None:
        self.layers_dir = layers_dir
        self.wanted = dict(wanted)
        self.layer = layers_dir / PYTHON
        self.metadata = read_metadata(layers_dir, PYTHON)
        self.transfer: str | None = None  # the layer stays in place: nothing is copied

    def clean_leftovers(self) -> None:
        return None

    def previous_key(self) -> cache.EnvKey | None:
        if not self.metadata or not self.layer.is_dir():
            return None
        return cache.EnvKey.from_json(self.metadata.get("key"))

    def stale_reason(self) -> str | None:
        if self.metadata is None or not self.layer.is_dir():
            return None
        reason = stale_reason(PYTHON, self.metadata, self.wanted)
        if reason is None and self.previous_key() is None:
            reason = f"The {PYTHON} layer's metadata has no readable record of its environment"
        return reason

    def unfinished_build(self) -> bool:
        return False  # the lifecycle exports nothing of a failed build

    def discard(self) -> None:
        remove_layer(self.layers_dir, PYTHON)

    def restore(self, target: Path) -> str | None:
        if target != self.layer:
            raise ValueError(f"the python layer is {self.layer}, not {target}")
        installed = self.metadata.get("installed") if self.metadata else None
        if not isinstance(installed, list):
            return "its record of installed distributions is missing"
        return cache.check_installed(target, [str(item) for item in installed])

    def save(self, python_home: Path, key: cache.EnvKey, *, reused: bool) -> int:
        """A reused layer is byte for byte the restored one: its size is the one recorded then."""
        size = self.metadata.get("size") if reused and self.metadata else None
        if not isinstance(size, int):
            size = sizes.tree_size(self.layers_dir)
        extra = {"key": asdict(key), "installed": cache.installed_distributions(python_home), "size": size}
        write_layer(self.layers_dir, PYTHON, self.wanted, extra)
        return size


# --- env files ------------------------------------------------------------------------------------------


def env_files(layer: Path, kind: str, variables: list[EnvVar], where: Layout) -> None:
    """Write ``<layer>/<kind>/`` (``env``, ``env.launch`` or ``env.build``) from scratch."""
    directory = layer / kind
    shutil.rmtree(directory, ignore_errors=True)
    directory.mkdir(parents=True)
    for var in variables:
        value = var.value
        if var.under is not None:
            base = Path(getattr(where, var.under))
            value = str(base / var.value) if var.value else str(base)
        suffix = {"set": "override", "prepend": "prepend", "default": "default"}[var.action]
        _write_file(directory / f"{var.name}.{suffix}", value)
        if var.action == "prepend":
            _write_file(directory / f"{var.name}.delim", os.pathsep)


def _write_file(path: Path, text: str) -> None:
    path.write_text(text, encoding="utf-8")
    path.chmod(0o644)
