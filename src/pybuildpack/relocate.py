"""Make an installed app independent of the directory it was built in (CONTRACT D7).

Installers write the interpreter's absolute path into the shebang of every console script
(``#!/tmp/build_x/.heroku/python/bin/python3.12``). A slug runs elsewhere (``/app``, a laptop
directory), so those shebangs are replaced by a small ``/bin/sh`` preamble that finds the
interpreter next to the script at run time. The preamble is also valid Python (a string
expression), so the script body is left untouched.
"""

from __future__ import annotations

from pathlib import Path

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
    elif lines[0] == b"#!/bin/sh" and len(lines) > 3 and lines[1].startswith(_EXEC + bin_prefix):
        target, rest = lines[1][len(_EXEC) :].split(b" ", 1)[0], lines[3]
    else:
        return None
    interpreter = target[len(bin_prefix) :].decode("utf-8", "replace")
    if not interpreter or " " in interpreter or "/" in interpreter:
        return None
    return interpreter, rest
