"""Release records: how `build`, `slug import` and `rollback` record a release, and how `releases`
and `rollback` read them.

A release is ``releases/vN/`` holding ``app/`` (the built app) and ``release.json`` (its record). It
is assembled under ``releases/.vN.partial/`` and renamed into place, so a listing never shows half a
release. Its record says where it came from and how it went:

    app, number, created_at      the app's name, N, when it was recorded (UTC, ISO 8601)
    source                       {kind, revision, changes[, file][, release]} (kind: git, dir, slug,
                                 rollback)
    buildpacks                   [{name, url, ...}] that built it (empty for slugs and rollbacks)
    process_types                {type: command}
    config_vars                  names (never values) of the config vars the build saw
    durations                    seconds per phase, and "total"
    slug_size                    bytes of app/ (sizes.tree_size)
    slug_compressed_size[_estimate]  bytes of the slug as a tar.gz: exact once exported, else an
                                 estimate made after the release (slugsize.py); a rollback keeps it
    status                       pending -> succeeded | failed | interrupted (unreadable when damaged)
    failure                      why, when not succeeded

The caller holds the app's lock (state.locked) while it records a release.
"""

from __future__ import annotations

import datetime
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pybuildpack.platform.state import AppState, write_json
from pybuildpack.sizes import human_size, tree_size

RECORD = "release.json"


def new_record(
    state: AppState,
    *,
    source: dict[str, Any],
    process_types: dict[str, str],
    buildpacks: list[dict[str, Any]] | None = None,
    config_vars: list[str] | None = None,
    durations: dict[str, float] | None = None,
    status: str = "pending",
) -> dict[str, Any]:
    return {
        "app": state.name,
        "created_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "source": source,
        "buildpacks": buildpacks or [],
        "process_types": process_types,
        "config_vars": config_vars or [],
        "durations": durations if durations is not None else {},
        "status": status,
    }


@dataclass(frozen=True)
class Staged:
    """A release being assembled: put the app in ``app_dir``, then ``record`` it."""

    state: AppState
    number: int
    staging: Path

    @property
    def app_dir(self) -> Path:
        return self.staging / "app"

    def record(self, record: dict[str, Any]) -> Path:
        """Write the record (with its number and slug size) and move the release into place."""
        record["number"] = self.number
        record["slug_size"] = tree_size(self.app_dir)
        write_json(self.staging / RECORD, record)
        final = self.state.release_dir(self.number)
        self.staging.rename(final)
        return final


def stage(state: AppState) -> Staged:
    """The next release number and an empty staging dir for it."""
    number = state.next_number()
    staging = state.releases_dir / f".v{number}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    return Staged(state, number, staging)


def update(state: AppState, number: int, record: dict[str, Any]) -> None:
    write_json(state.release_dir(number) / RECORD, record)


def usable(state: AppState, number: int) -> bool:
    """Can release N become current (it succeeded and its app is still there)?"""
    record = state.read_release(number)
    return record.get("status") == "succeeded" and (state.release_dir(number) / "app").is_dir()


def copy_as_new(state: AppState, number: int, *, kind: str = "rollback") -> int:
    """A new release whose app and process types are those of release N (a rollback on Heroku)."""
    old = state.read_release(number)
    staged = stage(state)
    shutil.copytree(state.release_dir(number) / "app", staged.app_dir, symlinks=True)
    source = {**(old.get("source") or {}), "kind": kind, "release": number}
    record = new_record(
        state,
        source=source,
        process_types=dict(old.get("process_types") or {}),
        buildpacks=list(old.get("buildpacks") or []),
        config_vars=list(old.get("config_vars") or []),
        status="succeeded",
    )
    for key in ("slug_compressed_size", "slug_compressed_size_estimate"):  # the same app, byte for byte
        if key in old:
            record[key] = old[key]
    staged.record(record)
    return staged.number


def clean_leftovers(state: AppState) -> None:
    """What builds killed before they finished left behind (the caller holds the app's lock)."""
    for leftover in state.tmp_dir.glob("build-*"):
        shutil.rmtree(leftover, ignore_errors=True)
    for partial in state.releases_dir.glob(".v*.partial"):
        shutil.rmtree(partial, ignore_errors=True)
    for number in state.numbers():
        path = state.release_dir(number) / RECORD
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(record, dict) and record.get("status") == "pending":
            record["status"] = "interrupted"
            record["failure"] = "the build was stopped before the release was made current"
            write_json(path, record)


HEADER = ("", "RELEASE", "STATUS", "CREATED", "SOURCE", "SIZE", "COMPRESSED", "BUILD", "BUILDPACKS")


def table(state: AppState) -> list[tuple[str, ...]]:
    """The rows of `pybuildpack releases`, newest first; '*' marks the current."""
    current = state.current_number()
    rows = []
    for number in reversed(state.numbers()):
        rows.append(_row(state.read_release(number), number, number == current))
    return rows


def _row(record: dict[str, Any], number: int, is_current: bool) -> tuple[str, ...]:
    source = record.get("source") or {}
    if source.get("kind") == "rollback" and source.get("release"):
        origin = f"rollback to v{source['release']}"
    else:
        origin = (source.get("revision") or "")[:10] or source.get("kind", "")
        if source.get("changes"):
            origin += "+changes"
    total = (record.get("durations") or {}).get("total")
    seconds = f"{total:.1f} s" if isinstance(total, (int, float)) else "-"
    names = ",".join(bp.get("name", "?") for bp in record.get("buildpacks", []))
    return (
        "*" if is_current else " ",
        f"v{number}",
        str(record.get("status", "?")),
        str(record.get("created_at", "")),
        origin,
        human_size(int(record.get("slug_size") or 0)),
        _compressed(record),
        seconds,
        names,
    )


def _compressed(record: dict[str, Any]) -> str:
    """The exported size, else the estimate ("about ..."), else "-"."""
    for key, prefix in (("slug_compressed_size", ""), ("slug_compressed_size_estimate", "about ")):
        value = record.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return prefix + human_size(value)
    return "-"
