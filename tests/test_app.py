"""Detection and package-manager selection, on the scenario fixtures and on small generated apps."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from pybuildpack import app
from pybuildpack.errors import BuildError
from support import FIXTURE_APPS


def text(error: BuildError) -> str:
    return "\n".join(error.lines())


def make_app(root: Path, files: dict[str, str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
    return root


# --- detect -------------------------------------------------------------------------------------------


def test_detect_list_is_complete() -> None:
    expected = {
        ".python-version",
        "__init__.py",
        "app.py",
        "main.py",
        "manage.py",
        "pdm.lock",
        "Pipfile",
        "Pipfile.lock",
        "poetry.lock",
        "pyproject.toml",
        "requirements.txt",
        "runtime.txt",
        "server.py",
        "setup.cfg",
        "setup.py",
        "uv.lock",
        "requeriments.txt",
        "requirement.txt",
        "requirements",
        "requirements.text",
        "Requirements.txt",
        "requirements.txt.txt",
        "requirments.txt",
        "__pycache__",
        ".venv",
        "venv",
    }
    assert set(app.DETECT_FILES) == expected
    assert len(app.DETECT_FILES) == len(expected)


@pytest.mark.parametrize("name", [n for n in app.DETECT_FILES if n not in {"__pycache__", ".venv", "venv"}])
def test_each_detect_file_passes(tmp_path: Path, name: str) -> None:
    (tmp_path / name).write_text("")
    assert app.is_python_app(tmp_path)


@pytest.mark.parametrize("name", ["__pycache__", ".venv", "venv", "requirements"])
def test_detect_directories_pass(tmp_path: Path, name: str) -> None:
    (tmp_path / name).mkdir()
    assert app.is_python_app(tmp_path)


def test_detect_is_case_sensitive_and_root_only(tmp_path: Path) -> None:
    make_app(tmp_path, {"REQUIREMENTS.TXT": "", "sub/requirements.txt": "", "Setup.py": ""})
    assert not app.is_python_app(tmp_path)


def test_detect_broken_symlink_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").symlink_to(tmp_path / "missing.txt")
    assert not app.is_python_app(tmp_path)


@pytest.mark.parametrize(
    ("fixture", "detected"),
    [
        ("no_python_project_files", False),
        ("empty", False),
        ("pyproject_toml_only", True),
        ("setup_py_only", True),
        ("multiple_package_managers", True),
        ("python_in_app_source", True),
        ("venv_in_app_source", True),
        ("procfile", True),
    ],
)
def test_detect_fixtures(fixture: str, detected: bool) -> None:
    assert app.is_python_app(FIXTURE_APPS / fixture) is detected


def test_root_listing_fixtures() -> None:
    assert app.root_listing(FIXTURE_APPS / "no_python_project_files") == [
        ".example-dotfile",
        "README.md",
        "subdir/",
    ]
    assert app.root_listing(FIXTURE_APPS / "empty") == [".gitkeep"]


def test_root_listing_symlinked_dir_and_missing_dir(tmp_path: Path) -> None:
    make_app(tmp_path, {"b/x": "", "a": ""})
    (tmp_path / "c").symlink_to(tmp_path / "b")
    assert app.root_listing(tmp_path) == ["a", "b/", "c/"]
    assert app.root_listing(tmp_path / "nope") == []


def test_not_detected_error_facts() -> None:
    error = app.not_detected_error(FIXTURE_APPS / "no_python_project_files")
    message = text(error)
    assert error.lines()[0].startswith("Error: No Python project files")
    for manager_file in ("requirements.txt", "Pipfile.lock", "poetry.lock", "uv.lock"):
        assert manager_file in message
    assert "\n.example-dotfile\nREADME.md\nsubdir/\n" in message
    for fact in (".gitignore", ".slugignore", "top level", "case", "committed", "empty 'requirements.txt'"):
        assert fact in message


def test_not_detected_error_lists_gitkeep() -> None:
    assert "\n.gitkeep\n" in text(app.not_detected_error(FIXTURE_APPS / "empty"))


def test_listing_makes_control_characters_visible(tmp_path: Path) -> None:
    (tmp_path / "evil\x1b[31mname").write_text("")
    message = text(app.not_detected_error(tmp_path))
    assert "\x1b" not in message
    assert "evil\\u001b[31mname" in message


# --- package-manager selection ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        ("requirements.txt", ("pip", "requirements.txt")),
        ("Pipfile.lock", ("pipenv", "Pipfile.lock")),
        ("poetry.lock", ("poetry", "poetry.lock")),
        ("uv.lock", ("uv", "uv.lock")),
    ],
)
def test_single_manager(tmp_path: Path, file: str, expected: tuple[str, str]) -> None:
    make_app(tmp_path, {file: "", "pyproject.toml": "", "setup.py": ""})
    assert app.select_manager(tmp_path) == expected
    assert app.manager_files(tmp_path) == [file]


def test_pipfile_with_lock_is_pipenv(tmp_path: Path) -> None:
    make_app(tmp_path, {"Pipfile": "", "Pipfile.lock": "not json, never parsed"})
    assert app.select_manager(tmp_path) == ("pipenv", "Pipfile.lock")


def test_symlinked_requirements_counts(tmp_path: Path) -> None:
    make_app(tmp_path, {"requirements/prod.txt": "typing-extensions==4.15.0\n"})
    (tmp_path / "requirements.txt").symlink_to("requirements/prod.txt")
    assert app.select_manager(tmp_path) == ("pip", "requirements.txt")


def test_directory_named_like_a_manager_file_does_not_count(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").mkdir()
    make_app(tmp_path, {"uv.lock": ""})
    assert app.select_manager(tmp_path) == ("uv", "uv.lock")


def test_multiple_package_managers_fixture() -> None:
    fixture = FIXTURE_APPS / "multiple_package_managers"
    assert app.manager_files(fixture) == ["Pipfile.lock", "requirements.txt", "poetry.lock", "uv.lock"]
    with pytest.raises(BuildError) as caught:
        app.select_manager(fixture)
    error = caught.value
    assert error.failure_reason == "package-manager::multiple-found"
    assert error.failure_detail == "pipenv,pip,poetry,uv"
    message = text(error)
    labels = ["Pipfile.lock (Pipenv)", "requirements.txt (pip)", "poetry.lock (Poetry)", "uv.lock (uv)"]
    positions = [message.index(label) for label in labels]
    assert positions == sorted(positions)
    assert "third-party uv or Poetry buildpack that generates a 'requirements.txt'" in message
    assert "setup.py" not in message


def test_two_managers_detail(tmp_path: Path) -> None:
    make_app(tmp_path, {"uv.lock": "", "requirements.txt": ""})
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    assert caught.value.failure_detail == "pip,uv"


def test_pipfile_without_lock(tmp_path: Path) -> None:
    make_app(tmp_path, {"Pipfile": "[packages]\n", "requirements.txt": ""})
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    assert caught.value.failure_reason == "package-manager::pipenv-missing-lockfile"
    message = text(caught.value)
    assert "pipenv lock" in message
    assert ".gitignore" in message


@pytest.mark.parametrize("fixture", ["pyproject_toml_only", "setup_py_only"])
def test_files_without_a_project_have_nothing_to_install(fixture: str) -> None:
    # D1 (issue 10): an empty pyproject.toml or setup.py defines no project: the build installs nothing
    assert app.select_manager(FIXTURE_APPS / fixture) == ("pip", app.NOTHING_TO_INSTALL)


@pytest.mark.parametrize(
    "files",
    [
        {"pyproject.toml": "[tool.black]\nline-length = 100\n"},
        {"setup.py": "# nothing yet\n\n"},
        {"pyproject.toml": "[tool.ruff]\n", "setup.py": "   \n"},
    ],
)
def test_tool_settings_only_have_nothing_to_install(tmp_path: Path, files: dict[str, str]) -> None:
    make_app(tmp_path, files)
    assert app.select_manager(tmp_path) == ("pip", app.NOTHING_TO_INSTALL)


def test_none_found_without_pyproject(tmp_path: Path) -> None:
    make_app(tmp_path, {"app.py": ""})
    (tmp_path / "venv").mkdir()
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    assert caught.value.failure_reason == "package-manager::none-found"
    message = text(caught.value)
    assert "\napp.py\nvenv/\n" in message
    assert "[project] or [build-system]" in message


@pytest.mark.parametrize(
    "content",
    [
        '[project]\nname = "demo"\nversion = "0.0.1"\n',
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n',
    ],
)
def test_installable_pyproject(tmp_path: Path, content: str) -> None:
    make_app(tmp_path, {"pyproject.toml": content})
    assert app.select_manager(tmp_path) == ("pip", "pyproject.toml")


def test_pyproject_without_tables_falls_back_to_setup_py(tmp_path: Path) -> None:
    make_app(
        tmp_path, {"pyproject.toml": "[tool.black]\nline-length = 100\n", "setup.py": "import setuptools\n"}
    )
    assert app.select_manager(tmp_path) == ("pip", "setup.py")


def test_manager_file_wins_over_broken_pyproject(tmp_path: Path) -> None:
    make_app(tmp_path, {"pyproject.toml": "[project\n", "requirements.txt": ""})
    assert app.select_manager(tmp_path) == ("pip", "requirements.txt")


def test_broken_pyproject_names_file_and_parser_message(tmp_path: Path) -> None:
    make_app(tmp_path, {"pyproject.toml": "[project]\nname = \n"})
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    message = text(caught.value)
    assert "pyproject.toml" in caught.value.headline
    assert "line 2" in message


def test_pyproject_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_bytes(b"\xff\xfe[project]\n")
    with pytest.raises(BuildError) as caught:
        app.select_manager(tmp_path)
    assert "UTF-8" in text(caught.value)


def test_fixture_copies_are_unchanged(tmp_path: Path) -> None:
    # selection never writes into the app
    copy = tmp_path / "app"
    shutil.copytree(FIXTURE_APPS / "multiple_package_managers", copy)
    before = sorted(p.name for p in copy.iterdir())
    with pytest.raises(BuildError):
        app.select_manager(copy)
    assert sorted(p.name for p in copy.iterdir()) == before
