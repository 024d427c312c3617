"""Property checks of the parsers of app files, shared by tests/test_fuzz.py (bounded, fixed seed) and
bench/fuzz_parsers.py (a longer run).

Each `check_*` function builds an app from generated data in a fresh temporary directory, next to an
"outside" directory holding a secret marker, runs the parser, and asserts the three properties:
no exception other than BuildError, an error block that fits on a screen, and nothing from outside
the app in what comes back (the marker never appears).
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from hypothesis import strategies as st

from pybuildpack import app, env, procfile
from pybuildpack import python_version as pv
from pybuildpack.errors import BuildError
from pybuildpack.package_managers import registry
from pybuildpack.requirements import requirement_files
from pybuildpack.runtime.manifest import parse_manifest

SECRET = "SECRET-MARKER-0b1c"
MAX_BLOCK_LINES = 50
MAX_LINE = 400
AVAILABLE: list[pv.Version] = [(3, 9, 25), (3, 10, 21), (3, 11, 16), (3, 12, 14), (3, 13, 15), (3, 14, 7)]
PYPY_AVAILABLE: dict[pv.Version, pv.Version] = {(7, 3, 11): (3, 9, 16), (7, 3, 17): (3, 10, 14)}

# --------------------------------------------------------------------------------------------------
# The sandbox


@contextmanager
def sandbox() -> Iterator[Path]:
    """A fresh app dir `<tmp>/app`, with `<tmp>/outside/secret.txt` holding the marker next to it."""
    with tempfile.TemporaryDirectory(prefix="pybuildpack-fuzz-") as tmp:
        root = Path(tmp)
        (root / "outside").mkdir()
        (root / "outside" / "secret.txt").write_text(f"3.12\n{SECRET}\n-r secret.txt\n", encoding="utf-8")
        (root / "app").mkdir()
        yield root / "app"


# Where a generated symlink may point: inside the app, to the secret outside, to host files.
LINK_TARGETS = (
    "../outside/secret.txt",
    "../outside",
    "requirements.txt",
    "a/../requirements.txt",
    "/etc/passwd",
    "/proc/self/environ",
    "/dev/zero",
    "/dev/null",
    "missing.txt",
    ".",
)


def write_files(app_dir: Path, files: dict[str, bytes], links: dict[str, str]) -> None:
    for name, content in files.items():
        path = app_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() and not path.is_symlink():
            path.write_bytes(content)
    for name, target in links.items():
        path = app_dir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists() and not path.is_symlink():
            path.symlink_to(target)


def assert_bounded(error: BuildError) -> None:
    lines = error.lines()
    assert len(lines) <= MAX_BLOCK_LINES, f"{len(lines)} lines"
    longest = max(len(line) for line in lines)
    assert longest <= MAX_LINE, f"a line of {longest} characters"
    assert error.failure_detail is None or len(error.failure_detail) <= 200


def assert_no_secret(*values: object) -> None:
    for value in values:
        assert SECRET not in repr(value)


def outcome(call: Callable[[], object]) -> object:
    """The call's result, or its BuildError after checking that it is bounded and leaks nothing."""
    try:
        result = call()
    except BuildError as error:
        assert_bounded(error)
        assert_no_secret("\n".join(error.lines()), error.failure_detail)
        return error
    assert_no_secret(result)
    return result


# --------------------------------------------------------------------------------------------------
# Strategies

_HUGE = st.integers(4290, 4400).map(lambda n: "1" * n)
_VERSIONISH = st.text(alphabet="0123456789.-python# \t\r\n\ufeff\0*x", max_size=40)
_LINES = st.lists(
    st.one_of(
        _VERSIONISH,
        st.sampled_from(["3.12", "3.12.1", "python-3.12", "3.99", "2.7", "3", " 3.13 ", "# 3.11"]),
        st.sampled_from(
            ["pypy3.9", "pypy-7.3.11", "pypy3.10-7.3.17", "pypy3", "pypy-7.3.99", "pypy3.99-1.2.3"]
        ),
        _HUGE.map(lambda digits: f"3.{digits}"),
        _HUGE.map(lambda digits: f"pypy-7.{digits}.1"),
        st.text(max_size=20),
    ),
    max_size=6,
).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass"))
version_file_bytes = st.one_of(
    _LINES,
    st.binary(max_size=64),
    st.sampled_from([b"\xef\xbb\xbf3.12\n", "3.12\n".encode("utf-16"), b"3\x00.\x001\x002\x00"]),
    st.integers(1, 6000).map(lambda n: b"3.12\n" * n),
)

_JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=12),
    st.sampled_from(["3.12", "3.12.1", "3.99", "2.7", ">=3.12", "3.12.*"]),
)
_KEYS = st.one_of(
    st.sampled_from(["_meta", "requires", "python_version", "python_full_version", "default"]),
    st.text(max_size=8),
)
json_values = st.recursive(
    _JSON_LEAVES,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(_KEYS, children, max_size=3),
    max_leaves=12,
)
_PIPFILE_DOCS = st.fixed_dictionaries(
    {"_meta": st.fixed_dictionaries({"requires": st.dictionaries(_KEYS, json_values, max_size=3)})}
)


def _nested(depth: int, opener: str, closer: str) -> str:
    return opener * depth + closer * depth


pipfile_lock_bytes = st.one_of(
    _PIPFILE_DOCS.map(lambda doc: json.dumps(doc).encode()),
    json_values.map(lambda doc: json.dumps(doc).encode()),
    st.binary(max_size=64),
    _HUGE.map(lambda digits: f'{{"_meta": {{"requires": {{"python_version": {digits}}}}}}}'.encode()),
    st.integers(900, 200_000).map(lambda depth: _nested(depth, "[", "]").encode()),
    st.text(alphabet='{}[]":,0123456789 \n', max_size=60).map(str.encode),
)

_OPERATORS = ("==", "!=", "<", "<=", ">", ">=", "~=", "===", "=", "^", "")
releases = st.lists(st.integers(0, 20), min_size=1, max_size=4).map(lambda parts: ".".join(map(str, parts)))
clauses = st.tuples(
    st.sampled_from(_OPERATORS), st.sampled_from(["", " "]), releases, st.sampled_from(["", ".*", "", "rc1"])
).map("".join)
specifiers = st.lists(clauses, min_size=1, max_size=3).map(",".join)

_TOML_VALUES = st.one_of(
    specifiers.map(json.dumps),
    st.text(max_size=20).map(json.dumps),
    st.integers().map(str),
    st.sampled_from(["true", "[]", "{}", "1979-05-27", "[1, [2, [3]]]", "{a = 1}"]),
    _HUGE,
    st.integers(200, 5000).map(lambda depth: _nested(depth, "[", "]")),
)
pyproject_bytes = st.one_of(
    _TOML_VALUES.map(lambda value: f"[project]\nname = 'x'\nrequires-python = {value}\n".encode()),
    _TOML_VALUES.map(lambda value: f"[tool.x]\nsetting = {value}\n".encode()),
    st.text(alphabet="[]{}=\"'#.\n abcprojet-,<>=~!*0123456789", max_size=80).map(str.encode),
    st.binary(max_size=64),
    st.integers(200, 5000).map(lambda depth: ("x = " + "{a = " * depth + "1" + "}" * depth).encode()),
)

_INCLUDE_LINES = st.sampled_from(
    [
        "-r requirements.txt",
        "-r a/req.txt",
        "-r b/req.txt",
        "-r a/../requirements.txt",
        "-r b/../requirements.txt",
        "--requirement=a/req.txt",
        "-c ../constraints.txt",
        "-r ../outside/secret.txt",
        "-r ../../outside/secret.txt",
        "-r /etc/passwd",
        "-r /dev/zero",
        "-r link.txt",
        "-r missing.txt",
        "-r https://example.invalid/req.txt",
        "-r .",
        "flask==3.0",
        "# comment",
    ]
)
_REQ_FILES = st.sampled_from(["requirements.txt", "a/req.txt", "b/req.txt", "constraints.txt"])
requirements_trees = st.tuples(
    st.dictionaries(
        _REQ_FILES,
        st.lists(_INCLUDE_LINES, max_size=5).map(lambda lines: "\n".join(lines).encode()),
        max_size=4,
    ),
    st.dictionaries(
        st.sampled_from(["link.txt", "a/req.txt", "requirements.txt"]),
        st.sampled_from(LINK_TARGETS),
        max_size=2,
    ),
)

procfile_bytes = st.one_of(
    st.lists(
        st.one_of(
            st.from_regex(r"[A-Za-z0-9_-]{1,8}:[ \t]*[ -~]{0,20}", fullmatch=True),
            st.text(max_size=30),
            st.sampled_from(["web: gunicorn app:app", "web: x", "# comment", "", "bad line"]),
        ),
        max_size=8,
    ).map(lambda lines: "\n".join(lines).encode("utf-8", "surrogatepass")),
    st.binary(max_size=64),
    st.integers(200, 400).map(lambda n: "".join(f"p{i}: run\n" for i in range(n)).encode()),
)

_MANIFEST_ENTRY = st.fixed_dictionaries(
    {
        "implementation": st.sampled_from(["cpython", "CPython", "", "pypy", "graalpy"]),
        "version": st.sampled_from(["3.12.1", "3.12", "03.1.1", "3.99.0", "7.3.11"]),
        "platform": st.sampled_from(["linux-x86_64-gnu", "debian-12-x86_64", "x"]),
        "url": st.sampled_from(["a.tar.gz", "ftp://x/y", "https://h/x.tar.zst", "", "file:///x"]),
        "sha256": st.sampled_from(["0" * 64, "A" * 64, "xyz"]),
        "layout": st.sampled_from(["prefix", "x", ""]),
    },
    optional={
        "size": st.one_of(st.integers(-5, 10**9), st.none(), st.booleans(), st.text(max_size=3)),
        "python_version": st.one_of(
            st.sampled_from(["3.9.16", "3.12.1", "3.9", ""]), st.none(), st.integers()
        ),
    },
)
manifest_bytes = st.one_of(
    st.fixed_dictionaries(
        {"schema": st.sampled_from([1, 2, True]), "runtimes": st.lists(_MANIFEST_ENTRY, max_size=3)}
    ).map(lambda doc: json.dumps(doc).encode()),
    json_values.map(lambda doc: json.dumps(doc).encode()),
    st.binary(max_size=64),
)

env_dirs = st.dictionaries(
    st.one_of(
        st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True),
        st.text(alphabet="ab-.= ", min_size=1, max_size=6),
    ),
    st.binary(max_size=64),
    max_size=5,
)

# --------------------------------------------------------------------------------------------------
# The checks


def _read_version(app_dir: Path, manager: str = "pip") -> object:
    cached = app_dir.parent / "no-cache"
    return outcome(
        lambda: pv.read_requested(
            app_dir,
            manager=registry.spec(manager).python,
            cached_version_file=cached,
            available=AVAILABLE,
            pypy=PYPY_AVAILABLE,
        )
    )


def check_version_file(name: str, data: bytes, link: str | None) -> None:
    with sandbox() as app_dir:
        if link is None:
            write_files(app_dir, {name: data}, {})
        else:
            write_files(app_dir, {}, {name: link})
        _read_version(app_dir)


def check_pipfile_lock(data: bytes) -> None:
    with sandbox() as app_dir:
        write_files(app_dir, {"Pipfile.lock": data, "Pipfile": b""}, {})
        _read_version(app_dir, manager="pipenv")


def check_pyproject(data: bytes, link: str | None) -> None:
    with sandbox() as app_dir:
        if link is None:
            write_files(app_dir, {"pyproject.toml": data}, {})
        else:
            write_files(app_dir, {}, {"pyproject.toml": link})
        _read_version(app_dir)
        outcome(lambda: app.select_manager(app_dir))


def check_requirements(files: dict[str, bytes], links: dict[str, str]) -> None:
    with sandbox() as app_dir:
        write_files(app_dir, files, links)
        found = outcome(lambda: requirement_files(app_dir / "requirements.txt"))
        if isinstance(found, list):
            root = app_dir.resolve()
            for path in found:
                real = path.resolve()
                assert real == root or root in real.parents, f"{path} leads outside the app"
            assert len({path.resolve() for path in found}) == len(found), "a file visited twice"


def check_procfile(data: bytes) -> None:
    with sandbox() as app_dir:
        write_files(app_dir, {"Procfile": data}, {})
        found = outcome(lambda: procfile.read_procfile(app_dir))
        assert isinstance(found, BuildError) or len(found) <= procfile.MAX_TYPES  # type: ignore[arg-type]


def check_manifest(data: bytes) -> None:
    outcome(
        lambda: parse_manifest(data, location="manifest.json", base_url="file:///srv/mirror/manifest.json")
    )


def check_env_dir(values: dict[str, bytes]) -> None:
    with sandbox() as app_dir:
        env_dir = app_dir.parent / "env"
        env_dir.mkdir()
        for name, value in values.items():
            if "/" not in name and name not in {".", ".."}:
                (env_dir / name).write_bytes(value)
        found = outcome(lambda: env.read_env_dir(env_dir))
        if isinstance(found, dict):
            assert set(found) <= set(values)
            for name, value in found.items():
                # read_env_dir reads with universal newlines: a CR in a value comes back as LF
                sent = values[name].replace(b"\r\n", b"\n").replace(b"\r", b"\n")
                assert value.encode("utf-8", "surrogateescape") == sent
