"""Python version reading, resolution, warnings and report fields (CONTRACT §6, D2, D3, D5)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from pybuildpack import python_version as pv
from pybuildpack.errors import BuildError
from pybuildpack.package_managers import registry


def rules(manager: str) -> pv.PythonRules:
    """The Python-version rules a manager declares in its SPEC."""
    return registry.spec(manager).python

APPS = Path(__file__).resolve().parent / "fixtures" / "apps"
NO_CACHE = Path("/nonexistent/pybuildpack-test/python-version")
MIRROR = "file:///srv/mirror/manifest.json"
AVAILABLE: list[pv.Version] = [
    (2, 7, 18),
    (3, 9, 25),
    (3, 10, 0),
    (3, 10, 21),
    (3, 11, 16),
    (3, 12, 1),
    (3, 12, 14),
    (3, 13, 15),
    (3, 14, 0),
    (3, 14, 7),
]
ONLY_310_TO_313: list[pv.Version] = [(3, 10, 21), (3, 11, 16), (3, 12, 14), (3, 13, 0), (3, 13, 15)]


def read(
    app: Path,
    manager: str = "pip",
    cache: Path = NO_CACHE,
    available: Sequence[pv.Version] = AVAILABLE,
) -> pv.RequestedPython:
    return pv.read_requested(app, manager=rules(manager), cached_version_file=cache, available=available)


def read_error(app: Path, manager: str = "pip", **kwargs: object) -> BuildError:
    with pytest.raises(BuildError) as info:
        read(app, manager, **kwargs)  # type: ignore[arg-type]
    return info.value


def text_of(error: BuildError) -> str:
    return "\n".join(error.lines())


def write_app(tmp_path: Path, files: dict[str, str | bytes]) -> Path:
    for name, content in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return tmp_path


def resolve(
    requested: pv.RequestedPython, available: Sequence[pv.Version] = AVAILABLE, allow_eol: bool = False
) -> pv.ResolvedPython:
    return pv.resolve(requested, available, allow_eol=allow_eol, mirror=MIRROR)


def resolve_error(requested: pv.RequestedPython, **kwargs: object) -> BuildError:
    with pytest.raises(BuildError) as info:
        resolve(requested, **kwargs)  # type: ignore[arg-type]
    return info.value


def request(text: str, origin: str = ".python-version") -> pv.RequestedPython:
    parts = [int(part) for part in text.split(".")]
    return pv.RequestedPython(parts[0], parts[1], parts[2] if len(parts) > 2 else None, origin, text)


# --------------------------------------------------------------------------------------------------
# Fixture bytes stay exact


def test_fixture_bytes_are_exact() -> None:
    assert (APPS / ".gitattributes").read_bytes() == b"* -text\n"
    invalid = (APPS / "python_version_file_invalid_version" / ".python-version").read_bytes()
    assert b"\r\n" in invalid
    assert "  \u200bpython -\t\u00a03.12.0\x1b[0m  \r\n".encode() in invalid
    bom = (APPS / "python_version_file_unsupported_encoding" / ".python-version").read_bytes()
    assert bom.startswith(b"\xef\xbb\xbf") and bom.endswith(b"3.12\r\n")
    runtime = (APPS / "runtime_txt_invalid_version" / "runtime.txt").read_bytes()
    assert b"\x00\x00\n" in runtime and "\u200b".encode() in runtime and b"\x1b" in runtime
    assert not (APPS / "runtime_txt_and_python_version_file" / "runtime.txt").read_bytes().endswith(b"\n")
    assert (APPS / "python_version_file_misspelled" / ".python-version ").is_file()
    assert (APPS / "python_version_file_no_version" / ".python-version").read_bytes() == b""
    for name in ("python_version_eol_cached", "python_version_non_existent_major_cached"):
        assert (APPS / name / "bin" / "pre_compile").stat().st_mode & 0o111


# --------------------------------------------------------------------------------------------------
# Reading fixture apps


@pytest.mark.parametrize(
    ("app", "manager", "expected", "step"),
    [
        (
            "python_3.10",
            "pip",
            (3, 10, None, ".python-version", "3.10"),
            "Using Python 3.10 specified in .python-version",
        ),
        (
            "python_3.11",
            "pip",
            (3, 11, None, ".python-version", "3.11"),
            "Using Python 3.11 specified in .python-version",
        ),
        (
            "python_3.12",
            "pip",
            (3, 12, None, ".python-version", "3.12"),
            "Using Python 3.12 specified in .python-version",
        ),
        (
            "python_3.13",
            "pip",
            (3, 13, None, ".python-version", "3.13"),
            "Using Python 3.13 specified in .python-version",
        ),
        (
            "python_3.14",
            "pip",
            (3, 14, None, ".python-version", "3.14"),
            "Using Python 3.14 specified in .python-version",
        ),
        (
            "python_version_unspecified",
            "pip",
            (3, 14, None, "default", "3.14"),
            "No Python version specified, using the buildpack default Python 3.14",
        ),
        (
            "python_version_outdated",
            "pip",
            (3, 14, 0, ".python-version", "3.14.0"),
            "Using Python 3.14.0 specified in .python-version",
        ),
        (
            "python_version_eol",
            "pip",
            (3, 9, None, ".python-version", "3.9"),
            "Using Python 3.9 specified in .python-version",
        ),
        (
            "python_version_non_existent_major",
            "pip",
            (3, 999, None, ".python-version", "3.999"),
            "Using Python 3.999 specified in .python-version",
        ),
        (
            "python_version_non_existent_patch",
            "pip",
            (3, 12, 999, ".python-version", "3.12.999"),
            "Using Python 3.12.999 specified in .python-version",
        ),
        (
            "runtime_txt_and_python_version_file",
            "pip",
            (3, 13, None, "runtime.txt", "3.13"),
            "Using Python 3.13 specified in runtime.txt",
        ),
        (
            "runtime_txt_eol_version",
            "pip",
            (2, 7, 18, "runtime.txt", "2.7.18"),
            "Using Python 2.7.18 specified in runtime.txt",
        ),
        (
            "pipenv_python_version_eol",
            "pipenv",
            (3, 8, None, "Pipfile.lock", "3.8"),
            "Using Python 3.8 specified in Pipfile.lock",
        ),
        (
            "uv_runtime_txt",
            "uv",
            (3, 11, None, "runtime.txt", "3.11"),
            "Using Python 3.11 specified in runtime.txt",
        ),
        (
            "uv_no_python_version_file",
            "uv",
            (3, 12, None, "pyproject.toml", "==3.12.*"),
            "Using Python 3.12 specified in pyproject.toml (requires-python '==3.12.*')",
        ),
        (
            "requires_python_pip",
            "pip",
            (3, 12, None, "pyproject.toml", ">=3.11,<3.13"),
            "Using Python 3.12 specified in pyproject.toml",
        ),
        (
            "requires_python_pip_and_python_version_file",
            "pip",
            (3, 13, None, ".python-version", "3.13"),
            "Using Python 3.13 specified in .python-version",
        ),
        (
            "requires_python_pip_eol",
            "pip",
            (3, 9, None, "pyproject.toml", "<3.10"),
            "Using Python 3.9 specified in pyproject.toml",
        ),
        (
            "eol_opt_in",
            "pip",
            (3, 9, None, ".python-version", "3.9"),
            "Using Python 3.9 specified in .python-version",
        ),
        (
            "eol_opt_in_python_3.6",
            "pip",
            (3, 6, None, ".python-version", "3.6"),
            "Using Python 3.6 specified in .python-version",
        ),
        (
            "eol_opt_in_runtime_txt_2.7",
            "pip",
            (2, 7, 18, "runtime.txt", "2.7.18"),
            "Using Python 2.7.18 specified in runtime.txt",
        ),
        # Pipfile.lock is only read for Pipenv apps.
        ("pipenv_python_version_eol", "pip", (3, 14, None, "default", "3.14"), "No Python version specified"),
    ],
)
def test_read_fixture(app: str, manager: str, expected: tuple[object, ...], step: str) -> None:
    requested = read(APPS / app, manager)
    assert (requested.major, requested.minor, requested.patch, requested.origin, requested.text) == expected
    assert pv.step_text(requested).startswith(step)


@pytest.mark.parametrize(
    ("app", "manager", "reason", "detail", "needles"),
    [
        (
            "python_version_file_invalid_version",
            "pip",
            "python-version-file::invalid-version",
            None,
            [
                "'\\u200bpython -\\u0009\\u00a03.12.0\\u001b[0m'",
                ".python-version",
                "3.14",
                "'python-' prefix",
            ],
        ),
        (
            "python_version_file_misspelled",
            "pip",
            "python-version-file::misspelled",
            ".python-version ",
            ["'.python-version '", "Rename", "'.python-version'"],
        ),
        (
            "python_version_file_multiple_versions",
            "pip",
            "python-version-file::multiple-versions",
            "3.12,2.7",
            ["'3.12'", "'2.7'", "more than one"],
        ),
        (
            "python_version_file_no_version",
            "pip",
            "python-version-file::no-version",
            None,
            ["No Python version found in .python-version", "'#'"],
        ),
        (
            "python_version_file_unsupported_encoding",
            "pip",
            "python-version-file::invalid-encoding",
            "it is saved as UTF-8 with BOM, with CRLF line endings",
            ["UTF-8 with BOM", "without BOM", ".gitattributes", "Windows"],
        ),
        (
            "runtime_txt_invalid_version",
            "pip",
            "runtime-txt::invalid-version",
            None,
            ["runtime.txt", "deprecated", ".python-version", "3.14"],
        ),
        (
            "pipenv_lockfile_invalid_json",
            "pipenv",
            "pipfile-lock::invalid-json",
            "Expecting value: line 1 column 1 (char 0)",
            ["Pipfile.lock", "Expecting value: line 1 column 1", "pipenv lock"],
        ),
        (
            "pipenv_python_full_version_invalid",
            "pipenv",
            "pipfile-lock::invalid-version",
            "3.9.*",
            ["'3.9.*'", "Pipfile.lock", "wildcards", "pipenv lock"],
        ),
        (
            "pipenv_python_version_invalid",
            "pipenv",
            "pipfile-lock::invalid-version",
            "^3.12",
            ["'^3.12'", "Pipfile.lock", "pipenv lock"],
        ),
        (
            "requires_python_pip_invalid",
            "pip",
            "pyproject-toml::invalid-requires-python",
            "=>3.12",
            ["'=>3.12'", "pyproject.toml", "requires-python"],
        ),
        (
            "requires_python_pip_invalid_toml",
            "pip",
            "pyproject-toml::invalid-toml",
            None,
            ["pyproject.toml", "not valid TOML"],
        ),
    ],
)
def test_read_fixture_errors(
    app: str, manager: str, reason: str, detail: str | None, needles: list[str]
) -> None:
    error = read_error(APPS / app, manager)
    assert error.failure_reason == reason
    if detail is not None:
        assert error.failure_detail == detail
    message = text_of(error)
    for needle in needles:
        assert needle in message
    assert "\x1b" not in message and "\u200b" not in message and "\0" not in message


def test_runtime_txt_content_is_never_echoed() -> None:
    message = text_of(read_error(APPS / "runtime_txt_invalid_version"))
    assert "3.12.0" not in message and "\u2400" not in message


def test_invalid_version_wins_over_counting(tmp_path: Path) -> None:
    # Every line is validated before the versions are counted.
    app = write_app(tmp_path, {".python-version": "3.12\n3.13\npython-3.11\n"})
    assert read_error(app).failure_reason == "python-version-file::invalid-version"


# --------------------------------------------------------------------------------------------------
# .python-version line handling


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"3.12", (3, 12, None)),
        (b"3.12\r\n", (3, 12, None)),
        (b"\t 3.12.1 \t\r\n\r\n", (3, 12, 1)),
        (b"# comment\n  # indented comment\n\n3.13\n#3.11\n", (3, 13, None)),
        (b"3.10.0\n", (3, 10, 0)),
        (b"3.0\n", (3, 0, None)),
    ],
)
def test_python_version_file_valid(tmp_path: Path, content: bytes, expected: tuple[object, ...]) -> None:
    requested = read(write_app(tmp_path, {".python-version": content}))
    assert (requested.major, requested.minor, requested.patch) == expected
    assert requested.origin == ".python-version"


@pytest.mark.parametrize(
    ("content", "shown"),
    [
        ("3.09\n", "'3.09'"),
        ("03.12\n", "'03.12'"),
        ("3.12.01\n", "'3.12.01'"),
        ("python-3.12\n", "'python-3.12'"),
        ('"3.12"\n', "'\"3.12\"'"),
        ("'3.12'\n", "''3.12''"),
        ("3.12.*\n", "'3.12.*'"),
        ("3.x\n", "'3.x'"),
        ("3\n", "'3'"),
        ("3.12 # trailing comment\n", "'3.12 # trailing comment'"),
        ("3.12.1.1\n", "'3.12.1.1'"),
        ("3.1\u00b2\n", "'3.1\u00b2'"),
        ("3.12\0\n", "'3.12\u2400'"),
        ("3.\u0661\u0662\n", "'3.\u0661\u0662'"),
        ("pypy-7.3.11\n", "'pypy-7.3.11'"),  # runtime.txt's form; .python-version takes pypy3.N
        ("system\n", "'system'"),
    ],
)
def test_python_version_file_invalid(tmp_path: Path, content: str, shown: str) -> None:
    error = read_error(write_app(tmp_path, {".python-version": content}))
    assert error.failure_reason == "python-version-file::invalid-version"
    assert shown in error.headline


@pytest.mark.parametrize(
    ("content", "detail"),
    [
        (b"\xff\xfe3\x00.\x001\x002\x00", "UTF-16 (with a byte order mark)"),
        (b"\xfe\xff\x003\x00.\x001\x002", "UTF-16 (with a byte order mark)"),
        (b"3\x00.\x001\x002\x00\n\x00", "every other byte is NUL"),
        (b"3.12\xff\n", "not valid UTF-8 (byte 0xff at offset 4)"),
        (b"\xef\xbb\xbf3.12\n", "UTF-8 with BOM"),
    ],
)
def test_python_version_file_encoding(tmp_path: Path, content: bytes, detail: str) -> None:
    error = read_error(write_app(tmp_path, {".python-version": content}))
    assert error.failure_reason == "python-version-file::invalid-encoding"
    assert error.failure_detail is not None and detail in error.failure_detail
    assert "UTF-8 without BOM" in text_of(error)


def test_python_version_file_only_comments(tmp_path: Path) -> None:
    error = read_error(write_app(tmp_path, {".python-version": "# 3.12\n\n   \n"}))
    assert error.failure_reason == "python-version-file::no-version"


def test_python_version_directory_is_an_error(tmp_path: Path) -> None:
    (tmp_path / ".python-version").mkdir()
    error = read_error(tmp_path)
    assert error.failure_reason == "python-version-file::invalid-version"
    assert ".python-version" in text_of(error)


@pytest.mark.parametrize("name", pv.MISSPELLINGS)
def test_every_misspelling_is_refused(tmp_path: Path, name: str) -> None:
    app = write_app(tmp_path, {name: "3.12\n", ".python-version": "3.12\n", "runtime.txt": "python-3.12\n"})
    error = read_error(app)
    assert error.failure_reason == "python-version-file::misspelled"
    assert error.failure_detail == name
    assert pv.quoted(name) in error.headline


def test_misspelling_check_is_case_exact(tmp_path: Path) -> None:
    # `.python-Version` is not in the list; it is only reported through python_version_files.
    app = write_app(tmp_path, {".python-Version": "3.12\n"})
    assert read(app).origin == "default"


# --------------------------------------------------------------------------------------------------
# runtime.txt


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("python-3.12\n", (3, 12, None, "3.12")),
        ("python-3.12.4", (3, 12, 4, "3.12.4")),
        ("\r\n# comment\r\n  python-3.11  \r\n", (3, 11, None, "3.11")),
    ],
)
def test_runtime_txt_valid(tmp_path: Path, content: str, expected: tuple[object, ...]) -> None:
    requested = read(write_app(tmp_path, {"runtime.txt": content, ".python-version": "3.13\n"}))
    assert (requested.major, requested.minor, requested.patch, requested.text) == expected
    assert requested.origin == "runtime.txt"


@pytest.mark.parametrize(
    "content",
    [
        b"3.12\n",
        b"python 3.12\n",
        b"python-3.12\npython-3.13\n",
        b"",
        b"# only\n",
        b"\xef\xbb\xbfpython-3.12\n",
        b"python-3.12\xff\n",
        b"Python-3.12\n",
        b"python-3.09\n",
        b"python-3.12.*\n",
    ],
)
def test_runtime_txt_invalid(tmp_path: Path, content: bytes) -> None:
    error = read_error(write_app(tmp_path, {"runtime.txt": content}))
    assert error.failure_reason == "runtime-txt::invalid-version"
    assert "3.12" not in error.headline + error.explanation


# --------------------------------------------------------------------------------------------------
# Pipfile.lock


def lockfile(requires: object) -> str:
    return json.dumps({"_meta": {"requires": requires}, "default": {}, "develop": {}})


@pytest.mark.parametrize(
    ("requires", "expected"),
    [
        ({"python_version": "3.13"}, (3, 13, None, "3.13")),
        ({"python_full_version": "3.10.0", "python_version": "3.12"}, (3, 10, 0, "3.10.0")),
        ({"python_full_version": None, "python_version": "3.12"}, (3, 12, None, "3.12")),
    ],
)
def test_pipfile_lock_versions(tmp_path: Path, requires: object, expected: tuple[object, ...]) -> None:
    requested = read(write_app(tmp_path, {"Pipfile.lock": lockfile(requires)}), "pipenv")
    assert (requested.major, requested.minor, requested.patch, requested.text) == expected
    assert requested.origin == "Pipfile.lock"
    assert pv.step_text(requested) == f"Using Python {expected[3]} specified in Pipfile.lock"


@pytest.mark.parametrize("requires", [{}, None, [], "3.12"])
def test_pipfile_lock_without_version_falls_through(tmp_path: Path, requires: object) -> None:
    assert read(write_app(tmp_path, {"Pipfile.lock": lockfile(requires)}), "pipenv").origin == "default"


@pytest.mark.parametrize(
    ("requires", "shown"),
    [
        ({"python_version": "3"}, "'3'"),
        ({"python_version": 3.12}, "'3.12'"),
        ({"python_full_version": ">=3.9"}, "'>=3.9'"),
    ],
)
def test_pipfile_lock_invalid_values(tmp_path: Path, requires: object, shown: str) -> None:
    error = read_error(write_app(tmp_path, {"Pipfile.lock": lockfile(requires)}), "pipenv")
    assert error.failure_reason == "pipfile-lock::invalid-version"
    assert shown in error.headline


def test_version_file_beats_pipfile_lock(tmp_path: Path) -> None:
    app = write_app(
        tmp_path, {".python-version": "3.13\n", "Pipfile.lock": lockfile({"python_version": "3.12"})}
    )
    assert read(app, "pipenv").origin == ".python-version"


def test_pipfile_lock_beats_pyproject(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {
            "Pipfile.lock": lockfile({"python_version": "3.11"}),
            "pyproject.toml": '[project]\nrequires-python = ">=3.13"\n',
        },
    )
    assert read(app, "pipenv").origin == "Pipfile.lock"


# --------------------------------------------------------------------------------------------------
# pyproject.toml requires-python (D5)


def pyproject(spec: str) -> str:
    return f'[project]\nname = "x"\nversion = "0"\nrequires-python = "{spec}"\n'


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("==3.12.*", (3, 12, None)),
        (">=3.11,<3.13", (3, 12, None)),
        (" >= 3.11 , < 3.13 ", (3, 12, None)),
        (">=3.11", (3, 14, None)),
        (">3.13", (3, 14, None)),
        ("<3.14", (3, 13, None)),
        ("<=3.13", (3, 12, None)),  # PEP 440: 3.13.15 > 3.13(.0)
        ("<=3.13.0", (3, 12, None)),  # 3.13.15 > 3.13.0
        ("~=3.11", (3, 14, None)),
        ("~=3.11.0", (3, 11, None)),
        ("!=3.14.*", (3, 13, None)),
        (">=3.10,!=3.14.7", (3, 13, None)),
        ("==3.12.1", (3, 12, 1)),
        ("==3.12.999", (3, 12, 999)),
        (">=3.10,==3.11.16", (3, 11, 16)),
        ("==3.12", (3, 12, 0)),
        ("===3.13.15", (3, 13, 15)),
        ("==v3.11.*", (3, 11, None)),
        ("<3.10", (3, 9, None)),
        ("==2.7.*", (2, 7, None)),
        ("<3.9,>=3.8", (3, 8, None)),
        ("==3.9.1", (3, 9, 1)),
        ("==3.99.0", (3, 99, 0)),
    ],
)
def test_requires_python(tmp_path: Path, spec: str, expected: tuple[object, ...]) -> None:
    requested = read(write_app(tmp_path, {"pyproject.toml": pyproject(spec)}))
    assert (requested.major, requested.minor, requested.patch) == expected
    assert requested.origin == "pyproject.toml"
    assert requested.text == spec


def test_requires_python_uses_only_available_majors(tmp_path: Path) -> None:
    app = write_app(tmp_path, {"pyproject.toml": pyproject(">=3.11")})
    assert read(app, available=ONLY_310_TO_313).major_text == "3.13"
    error = read_error(
        write_app(tmp_path, {"pyproject.toml": pyproject(">=3.14")}), available=ONLY_310_TO_313
    )
    assert error.failure_reason == "pyproject-toml::no-matching-version"
    assert "3.13, 3.12, 3.11, 3.10" in error.explanation


@pytest.mark.parametrize(
    "spec",
    [
        "=>3.12",
        "3.12",
        ">=3.12;",
        ">=3.12,",
        "",
        "   ",
        "~=3",
        ">=3.12.*",
        "~=3.12.*",
        ">=3.12rc1",
        "^3.12",
        ">=3.12 <3.14",
    ],
)
def test_requires_python_invalid(tmp_path: Path, spec: str) -> None:
    error = read_error(write_app(tmp_path, {"pyproject.toml": pyproject(spec)}))
    assert error.failure_reason == "pyproject-toml::invalid-requires-python"
    assert pv.quoted(spec) in error.headline and "pyproject.toml" in error.headline


@pytest.mark.parametrize("spec", [">=3.15", "==4.0.*", ">3.14.7", "<3.12,>3.12.14"])
def test_requires_python_no_match(tmp_path: Path, spec: str) -> None:
    error = read_error(write_app(tmp_path, {"pyproject.toml": pyproject(spec)}))
    assert error.failure_reason == "pyproject-toml::no-matching-version"
    assert "pyproject.toml" in error.headline and pv.quoted(spec) in error.headline


def test_requires_python_not_a_string(tmp_path: Path) -> None:
    error = read_error(write_app(tmp_path, {"pyproject.toml": "[project]\nrequires-python = 3.12\n"}))
    assert error.failure_reason == "pyproject-toml::invalid-requires-python"


@pytest.mark.parametrize(
    "content",
    ["", "[tool.poetry.dependencies]\npython = '^3.12'\n", "[project]\nname = 'x'\n", "project = 1\n"],
)
def test_pyproject_without_requires_python_is_ignored(tmp_path: Path, content: str) -> None:
    assert read(write_app(tmp_path, {"pyproject.toml": content})).origin == "default"


def test_pyproject_beats_cache(tmp_path: Path) -> None:
    cache = tmp_path / "cache" / "python-version"
    app = write_app(tmp_path / "app", {"pyproject.toml": pyproject("==3.12.*")})
    write_app(tmp_path / "cache", {"python-version": "python-3.14.7"})
    assert read(app, "uv", cache=cache).origin == "pyproject.toml"


def test_pyproject_eol_specifier_gives_eol_error(tmp_path: Path) -> None:
    requested = read(APPS / "requires_python_pip_eol")
    error = resolve_error(requested)
    assert error.failure_reason == "python-version::eol"
    assert "pyproject.toml" in text_of(error)


def test_specifier_evaluator() -> None:
    def ok(spec: str, version: pv.Version) -> bool:
        return pv.satisfies(pv.parse_specifier(spec), version)

    assert ok("==3.12", (3, 12, 0)) and not ok("==3.12", (3, 12, 1))
    assert ok("!=3.12", (3, 12, 1)) and not ok("!=3.12.0", (3, 12, 0))
    assert ok("==3.*", (3, 1, 2)) and not ok("==3.1.*", (3, 10, 0))
    assert ok("==3.12.1.*", (3, 12, 1)) and not ok("==3.12.1.*", (3, 12, 10))
    assert ok("~=3.12.2", (3, 12, 9)) and not ok("~=3.12.2", (3, 13, 0)) and not ok("~=3.12.2", (3, 12, 1))
    assert ok("~=3.10", (3, 14, 0)) and not ok("~=3.10", (4, 0, 0))
    assert ok("<3.10", (3, 9, 99)) and not ok("<3.10", (3, 10, 0))
    assert ok(">=3", (3, 0, 0)) and ok("<=3.12.1", (3, 12, 1)) and not ok(">3.12", (3, 12, 0))
    assert ok("===3.12.1", (3, 12, 1)) and not ok("===3.12", (3, 12, 0))


# --------------------------------------------------------------------------------------------------
# Sticky cache and default


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("python-3.12.3", (3, 12, "cached")),
        ("python-3.12.3\n", (3, 12, "cached")),
        ("python-3.9.25\n", (3, 9, "cached")),
        ("python-3.99.0\n", (3, 99, "cached")),
        ("3.12.3\n", (3, 14, "default")),
        ("python-3.x\n", (3, 14, "default")),
        ("", (3, 14, "default")),
        (b"\xff\xfe", (3, 14, "default")),
    ],
)
def test_sticky_cache(tmp_path: Path, content: str | bytes, expected: tuple[object, ...]) -> None:
    cache = write_app(tmp_path / "cache", {"python-version": content}) / "python-version"
    app = write_app(tmp_path / "app", {"requirements.txt": ""})
    requested = read(app, cache=cache)
    assert (requested.major, requested.minor, requested.origin) == expected
    assert requested.patch is None


def test_sticky_cache_directory_is_ignored(tmp_path: Path) -> None:
    (tmp_path / "python-version").mkdir()
    assert read(APPS / "python_version_unspecified", cache=tmp_path / "python-version").origin == "default"


def test_cached_fixture_scripts_write_sticky_versions() -> None:
    assert "python-3.9.25" in (APPS / "python_version_eol_cached" / "bin" / "pre_compile").read_text()
    assert (
        "python-3.99.0"
        in (APPS / "python_version_non_existent_major_cached" / "bin" / "pre_compile").read_text()
    )


@pytest.mark.parametrize(
    ("available", "expected"),
    [(AVAILABLE, "3.14"), (ONLY_310_TO_313, "3.13"), ([], "3.14"), ([(3, 9, 25), (3, 15, 0)], "3.14")],
)
def test_default_major(available: list[pv.Version], expected: str) -> None:
    requested = read(APPS / "python_version_unspecified", available=available)
    assert requested.origin == "default" and requested.major_text == expected and requested.text == expected


def test_step_text_for_cached() -> None:
    requested = pv.RequestedPython(3, 12, None, "cached", "3.12")
    assert pv.step_text(requested) == (
        "No Python version specified, using the same major version as the last build: Python 3.12"
    )


# --------------------------------------------------------------------------------------------------
# Resolution


@pytest.mark.parametrize(
    ("text", "available", "expected"),
    [
        ("3.12", AVAILABLE, (3, 12, 14)),  # a major resolves to its latest patch
        ("3.13", ONLY_310_TO_313, (3, 13, 15)),
        ("3.12.1", AVAILABLE, (3, 12, 1)),  # an exact patch stays
        ("3.12", [(3, 12, 14), (3, 12, 1), (3, 12, 14), (3, 12, 9)], (3, 12, 14)),  # unsorted, duplicated
    ],
)
def test_resolve(text: str, available: list[pv.Version], expected: pv.Version) -> None:
    resolved = resolve(request(text), available)
    assert resolved.version == expected and not resolved.eol
    assert resolved.full == ".".join(map(str, expected)) and resolved.major_text == text[:4]


@pytest.mark.parametrize(
    ("text", "origin", "needles"),
    [
        (
            "3.9",
            ".python-version",
            ["Python 3.9 ", ".python-version", "3.10", "3.14", "PYBUILDPACK_ALLOW_EOL_PYTHON=1"],
        ),
        ("2.7.18", "runtime.txt", ["Python 2.7.18", "runtime.txt", "3.10", "PYBUILDPACK_ALLOW_EOL_PYTHON=1"]),
        ("3.8", "Pipfile.lock", ["Python 3.8", "Pipfile", "pipenv lock", "October 2024"]),
        ("3.9", "cached", ["previous build", "3.9", ".python-version", "explicit"]),
        ("3.9", "pyproject.toml", ["pyproject.toml", "requires-python"]),
        ("1.5", ".python-version", ["Python 1.5", "end-of-life"]),
    ],
)
def test_resolve_eol(text: str, origin: str, needles: list[str]) -> None:
    error = resolve_error(request(text, origin))
    assert error.failure_reason == "python-version::eol"
    assert error.failure_detail == ".".join(text.split(".")[:2])
    message = text_of(error)
    for needle in needles:
        assert needle in message


def test_resolve_eol_opted_in() -> None:
    resolved = resolve(request("3.9"), allow_eol=True)
    assert resolved.version == (3, 9, 25) and resolved.eol
    assert resolve(request("2.7.18", "runtime.txt"), allow_eol=True).version == (2, 7, 18)


def test_resolve_eol_opted_in_but_not_on_mirror() -> None:
    error = resolve_error(request("3.9"), available=ONLY_310_TO_313, allow_eol=True)
    assert error.failure_reason == "python-version::unknown-patch"
    message = text_of(error)
    assert "3.9" in error.headline and MIRROR in message and "PYBUILDPACK_ALLOW_EOL_PYTHON" not in message
    error = resolve_error(request("3.9.1"), allow_eol=True)
    assert "3.9.25" in error.explanation


@pytest.mark.parametrize("text", ["3.999", "3.15", "4.0", "4.0.1"])
def test_resolve_unknown_major(text: str) -> None:
    error = resolve_error(request(text))
    assert error.failure_reason == "python-version::unknown-major"
    message = text_of(error)
    assert f"Python {text}" in message and "3.14" in message and ".python-version" in message


def test_resolve_unknown_major_cached() -> None:
    error = resolve_error(request("3.99", "cached"), allow_eol=True)
    assert error.failure_reason == "python-version::unknown-major"
    message = text_of(error)
    assert "newer version of the buildpack" in message and "previous build" in message
    assert "3.14" in message


@pytest.mark.parametrize(
    ("text", "origin", "available", "needles"),
    [
        (
            "3.12.999",
            ".python-version",
            AVAILABLE,
            ["3.12.999", ".python-version", MIRROR, "3.12.14, 3.12.1"],
        ),
        ("3.14", ".python-version", ONLY_310_TO_313, ["has no Python 3.14 versions", "3.13"]),
        ("3.14", "default", [], ["has no Python 3.14 versions", "buildpack's default"]),
    ],
)
def test_resolve_not_on_mirror(
    text: str, origin: str, available: list[pv.Version], needles: list[str]
) -> None:
    error = resolve_error(request(text, origin), available=available)
    assert error.failure_reason == "python-version::unknown-patch"
    assert error.failure_detail == text
    message = text_of(error)
    for needle in needles:
        assert needle in message


def test_default_is_read_even_from_an_empty_mirror() -> None:
    assert read(APPS / "python_version_unspecified", available=[]).origin == "default"


# --------------------------------------------------------------------------------------------------
# Warnings


def headlines(resolved: pv.ResolvedPython, manager: str = "pip") -> list[str]:
    return [headline for headline, _body in pv.warnings(resolved, AVAILABLE, manager=rules(manager))]


def test_no_warnings_for_a_current_major() -> None:
    assert headlines(resolve(request("3.12"))) == []
    assert headlines(resolve(request("3.14.7"))) == []
    assert headlines(resolve(request("3.13", "Pipfile.lock"))) == []


def test_default_warning() -> None:
    resolved = resolve(read(APPS / "python_version_unspecified"))
    (headline, body), *rest = pv.warnings(resolved, AVAILABLE, manager=rules("pip"))
    assert rest == [] and "No Python version" in headline
    for needle in (".python-version", "3.14", "leading dot", "no extension", ".gitignore", "committed"):
        assert needle in body


@pytest.mark.parametrize(
    ("source", "manager", "allow_eol", "in_headline", "in_body"),
    [
        (("3.12", "cached"), "pip", False, ["No Python version"], ["previous build", "3.12"]),
        (
            "runtime_txt_and_python_version_file",
            "pip",
            False,
            ["runtime.txt", "deprecated"],
            [".python-version", "3.13"],
        ),
        # a version from pyproject.toml is only a recommendation, even for uv
        ("uv_no_python_version_file", "uv", False, ["pyproject.toml"], [".python-version", "3.12"]),
        (
            "python_3.10",
            "pip",
            False,
            ["3.10", "deprecated"],
            ["October 2026", "2027-01-06", ".python-version"],
        ),
        ("python_version_outdated", "pip", False, ["newer patch"], ["3.14.0", "3.14.7", ".python-version"]),
        ("eol_opt_in", "pip", True, ["3.9", "unsupported"], ["PYBUILDPACK_ALLOW_EOL_PYTHON=1"]),
    ],
)
def test_single_warning(
    source: str | tuple[str, str], manager: str, allow_eol: bool, in_headline: list[str], in_body: list[str]
) -> None:
    requested = request(*source) if isinstance(source, tuple) else read(APPS / source, manager)
    resolved = resolve(requested, allow_eol=allow_eol)
    ((headline, body),) = pv.warnings(resolved, AVAILABLE, manager=rules(manager))
    for needle in in_headline:
        assert needle in headline
    for needle in in_body:
        assert needle in body


@pytest.mark.parametrize(
    ("app", "reason", "needles"),
    [
        ("python_version_unspecified", "python-version-file::not-found", ["uv python pin 3.14"]),
        ("uv_runtime_txt", "runtime-txt::not-supported", ["uv python pin 3.11", "runtime.txt"]),
    ],
)
def test_uv_needs_a_version_file(app: str, reason: str, needles: list[str]) -> None:
    resolved = resolve(read(APPS / app, "uv"))
    with pytest.raises(BuildError) as info:
        pv.warnings(resolved, AVAILABLE, manager=rules("uv"))
    assert info.value.failure_reason == reason
    for needle in needles:
        assert needle in text_of(info.value)


def test_warnings_order() -> None:
    # runtime.txt deprecation, then EOL (opted in), then outdated patch.
    resolved = resolve(request("3.9.1", "runtime.txt"), [(3, 9, 1), (3, 9, 25)], allow_eol=True)
    found = pv.warnings(resolved, [(3, 9, 1), (3, 9, 25)], manager=rules("pip"))
    assert [headline.split(" ")[1] for headline, _ in found] == ["runtime.txt", "3.9", "newer"]
    # Pipfile.lock full version 3.10.0: 3.10 deprecation, then newer patch.
    resolved = resolve(request("3.10.0", "Pipfile.lock"))
    found = pv.warnings(resolved, AVAILABLE, manager=rules("pipenv"))
    assert ["deprecated" in found[0][0], "newer patch" in found[1][0]] == [True, True]
    assert "Pipfile.lock" in found[0][1] and "Pipfile.lock" in found[1][1]
    # default on an old mirror: no-version warning then 3.10 deprecation.
    resolved = resolve(request("3.10", "default"), [(3, 10, 21)])
    assert [h.split(" ")[0] for h, _ in pv.warnings(resolved, [(3, 10, 21)], manager=rules("pip"))] == [
        "No",
        "Support",
    ]


# --------------------------------------------------------------------------------------------------
# Report fields


def test_report_fields_default() -> None:
    app = APPS / "python_version_unspecified"
    fields = pv.report_fields(resolve(read(app)), AVAILABLE, app)
    assert fields == {
        "python_implementation": "cpython",
        "python_version": "3.14.7",
        "python_version_major": "3.14",
        "python_version_requested": "3.14",
        "python_version_origin": "default",
        "python_version_pinned": False,
        "python_version_outdated": False,
        "python_version_files": "",
    }


def test_report_fields_outdated() -> None:
    app = APPS / "python_version_outdated"
    fields = pv.report_fields(resolve(read(app)), AVAILABLE, app)
    assert fields["python_version"] == "3.14.0"
    assert fields["python_version_pinned"] is True and fields["python_version_outdated"] is True
    assert fields["python_version_origin"] == ".python-version"
    assert "python_version_files" not in fields


def test_report_fields_pyproject(tmp_path: Path) -> None:
    app = write_app(
        tmp_path,
        {"pyproject.toml": pyproject(">=3.11,<3.13"), "python_version.txt.bak": "", "PYTHONVERSION": ""},
    )
    (tmp_path / "python-version-dir").mkdir()
    fields = pv.report_fields(resolve(read(app)), AVAILABLE, app)
    assert fields["python_version_origin"] == "pyproject.toml"
    assert fields["python_version_requested"] == "3.12"
    assert fields["python_version"] == "3.12.14"
    assert fields["python_version_files"] == "PYTHONVERSION,python_version.txt.bak"


def test_version_files_listing() -> None:
    assert pv.version_files(APPS / "python_version_file_misspelled") is None
    assert pv.version_files(APPS / "runtime_txt_eol_version") is None
