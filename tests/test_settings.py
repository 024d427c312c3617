"""The settings table (settings.py) and the PYBUILDPACK_* names the code uses."""

from __future__ import annotations

import re

import pytest

from pybuildpack import settings
from support import REPO

# Names that are not settings: the shim's own variable, and the prefix in prose.
NOT_SETTINGS = {"PYBUILDPACK_DETECT_FILES"}


def used_names() -> set[str]:
    found: set[str] = set()
    for root in ("src/pybuildpack", "lib", "bin"):
        for path in (REPO / root).rglob("*"):
            if path.is_file() and path.suffix in ("", ".py", ".sh"):
                found |= set(re.findall(r"PYBUILDPACK_[A-Z_]*[A-Z]", path.read_text(errors="replace")))
    return found - NOT_SETTINGS


def test_every_name_the_code_uses_is_in_the_table() -> None:
    assert used_names() - set(settings.BY_NAME) == set()


def test_every_setting_in_the_table_is_used() -> None:
    assert set(settings.BY_NAME) - used_names() == set()


def test_app_settings_prefer_the_config_var_and_operator_settings_ignore_it() -> None:
    config = {"PYBUILDPACK_INSTALLER": "uv", "PYBUILDPACK_EXPORT_DIR": "/app-says"}
    environ = {"PYBUILDPACK_INSTALLER": "pip", "PYBUILDPACK_EXPORT_DIR": "/operator-says"}
    assert settings.value("PYBUILDPACK_INSTALLER", config, environ) == "uv"
    assert settings.value("PYBUILDPACK_INSTALLER", {}, environ) == "pip"
    assert settings.value("PYBUILDPACK_EXPORT_DIR", config, environ) == "/operator-says"
    assert settings.value("PYBUILDPACK_INSTALLER", {"PYBUILDPACK_INSTALLER": ""}, {}) is None


@pytest.mark.parametrize("text", ["1", "yes", "true"])
def test_enabled(text: str) -> None:
    assert settings.enabled("PYBUILDPACK_CLEAR_CACHE", {"PYBUILDPACK_CLEAR_CACHE": text}, {})


@pytest.mark.parametrize("text", ["0", "false", ""])
def test_not_enabled(text: str) -> None:
    assert not settings.enabled("PYBUILDPACK_CLEAR_CACHE", {"PYBUILDPACK_CLEAR_CACHE": text}, {})


def test_unknown_name_is_a_programming_error() -> None:
    with pytest.raises(KeyError, match="not in the settings table"):
        settings.value("PYBUILDPACK_NO_SUCH_THING", {}, {})


def test_one_version_everywhere() -> None:
    """Platforms pin the buildpack by tag; the build log, the report and buildpack.toml name the version."""
    import tomllib

    import pybuildpack

    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["version"]
    descriptor = tomllib.loads((REPO / "buildpack.toml").read_text())["buildpack"]["version"]
    changelog = (REPO / "CHANGELOG.md").read_text()
    assert project == descriptor == pybuildpack.__version__
    assert f"## {project}" in changelog
