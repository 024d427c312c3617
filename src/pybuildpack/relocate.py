"""Make an installed app independent of the directory it was built in (CONTRACT D7).

Installers write the interpreter's absolute path into the shebang of every console script
(``#!/tmp/build_x/.heroku/python/bin/python3.12``). A slug runs elsewhere (``/app``, a laptop
directory), so those shebangs are replaced by a small ``/bin/sh`` preamble that finds the
interpreter next to the script at run time. The preamble is also valid Python (a string
expression), so the script body is left untouched.
"""

from __future__ import annotations

import ast
import io
import os
import tokenize
from pathlib import Path

from pybuildpack.layout import site_packages_dirs

_PREAMBLE = (
    "#!/bin/sh\n"
    '\'\'\'exec\' "$(dirname -- "$(readlink -f -- "$0")")/{interpreter}" "$0" "$@"\n'
    "' '''\n"
    "# The line above runs this script with the Python installed beside it, wherever it is.\n"
)


_EXEC = b"'''exec' "


def relocatable_shebangs(bin_dir: Path) -> list[str]:
    """Rewrite absolute shebangs that point into ``bin_dir`` to a relative preamble.

    Both forms installers write are handled: a plain ``#!/abs/bin/python`` line and, for long
    paths, a ``#!/bin/sh`` line followed by an exec line naming the interpreter. Returns the names
    of the scripts rewritten. Binaries, symlinks and scripts of other interpreters are left alone.
    """
    rewritten = []
    for script in sorted(bin_dir.iterdir()):
        if script.is_symlink() or not script.is_file():
            continue
        split = _split_script(script.read_bytes(), f"{bin_dir}/".encode())
        if split is None:
            continue
        interpreter, body = split
        tmp = script.with_name(f".{script.name}.relocating")
        tmp.write_bytes(_PREAMBLE.format(interpreter=interpreter).encode() + body)
        tmp.chmod(script.stat().st_mode)
        tmp.replace(script)
        rewritten.append(script.name)
    return rewritten


def _split_script(data: bytes, bin_prefix: bytes) -> tuple[str, bytes] | None:
    """(interpreter name, script body) when the script starts an interpreter in bin_prefix by path."""
    lines = data.split(b"\n", 3)
    if lines[0].startswith(b"#!" + bin_prefix):
        target, rest = lines[0][2:].strip(), b"\n".join(lines[1:])
    elif lines[0] == b"#!/bin/sh" and len(lines) > 3 and lines[1].startswith(_EXEC):
        target, rest = _exec_target(lines[1][len(_EXEC) :]), lines[3]
        if not target.startswith(bin_prefix):
            return None
    else:
        return None
    interpreter = target[len(bin_prefix) :].decode("utf-8", "replace")
    if not interpreter or " " in interpreter or "/" in interpreter:
        return None
    return interpreter, rest


def _exec_target(command: bytes) -> bytes:
    """The interpreter an exec line names: pip writes the path bare, uv in single quotes."""
    quote = command[:1]
    if quote in (b"'", b'"'):
        return command[1:].split(quote, 1)[0]
    return command.split(b" ", 1)[0]


# Where an editable install or a path-configuration file names a directory of the build, it is made
# independent of where the app lives: `.pth` path lines and `.egg-link` files become paths relative to
# site-packages (site.py and pkg_resources join them with it), and path literals in editable finders
# become an expression evaluated at import time from the finder's own location.
_FINDER_PREFIXES = ("__editable___", "_editable_impl_")
_AT_IMPORT = (
    "__import__('os').path.normpath("
    "__import__('os').path.join(__import__('os').path.dirname(__file__), {rel!r}))"
)


def relocatable_site_packages(python_home: Path, build_dir: Path) -> list[str]:
    """Rewrite paths into ``build_dir`` in every site-packages of ``python_home`` (D7).

    Handles ``*.pth`` path lines, ``*.egg-link`` files and editable finders
    (``__editable___*_finder.py`` from setuptools, ``_editable_impl_*.py`` from ``editables``).
    Paths outside ``build_dir`` are left alone. Idempotent. Returns the rewritten files, relative to
    ``python_home``. Call it after the dependencies are installed, before anything moves the app.
    """
    build = build_dir.absolute()
    roots = sorted({str(build), os.path.realpath(build)}, key=len, reverse=True)
    home = python_home.absolute()
    rewritten = []
    for site in site_packages_dirs(home):
        for path in sorted(site.iterdir()):
            if path.is_symlink() or not path.is_file():
                continue
            new = _relocated(path, site, build, roots)
            if new is None:
                continue
            tmp = path.with_name(f".{path.name}.relocating")
            tmp.write_text(new, encoding="utf-8")
            tmp.chmod(path.stat().st_mode)
            tmp.replace(path)
            rewritten.append(str(path.relative_to(home)))
    return rewritten


def _relocated(path: Path, site: Path, build: Path, roots: list[str]) -> str | None:
    """The file's new text, or None when it has nothing to rewrite (or is not a kind handled)."""
    name = path.name
    is_finder = name.endswith(".py") and name.startswith(_FINDER_PREFIXES)
    if not (is_finder or name.endswith((".pth", ".egg-link"))):
        return None
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    if not any(root in text for root in roots):
        return None
    new = _finder_text(text, site, build, roots) if is_finder else _path_lines(text, site, build, roots)
    return None if new == text else new


def _relative(value: str, site: Path, build: Path, roots: list[str]) -> str | None:
    """``value`` relative to ``site`` when it names ``build`` or a path inside it."""
    for root in roots:
        if value == root or value.startswith(root + "/"):
            target = build / value[len(root) :].lstrip("/")
            return os.path.relpath(target, site)
    return None


def _path_lines(text: str, site: Path, build: Path, roots: list[str]) -> str:
    """A ``.pth`` or ``.egg-link``: each line that is an absolute path into the build becomes relative."""
    out = []
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        ending = line[len(body) :]
        is_code = body.startswith(("import ", "import\t", "#"))
        relative = None if is_code else _relative(body, site, build, roots)
        out.append(relative + ending if relative is not None else line)
    return "".join(out)


def _finder_text(text: str, site: Path, build: Path, roots: list[str]) -> str:
    """Python source: string literals naming a path in the build become import-time expressions."""
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    edits: list[tuple[int, int, str]] = []
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type != tokenize.STRING:
                continue
            value = _plain_string(token.string)
            relative = None if value is None else _relative(value, site, build, roots)
            if relative is not None:
                begin = starts[token.start[0] - 1] + token.start[1]
                end = starts[token.end[0] - 1] + token.end[1]
                edits.append((begin, end, _AT_IMPORT.format(rel=relative)))
    except (tokenize.TokenError, SyntaxError):
        return text
    for begin, end, replacement in reversed(edits):
        text = text[:begin] + replacement + text[end:]
    return text


def _plain_string(literal: str) -> str | None:
    """The value of a plain (non-f, non-bytes) string literal."""
    try:
        value = ast.literal_eval(literal)
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, str) else None
