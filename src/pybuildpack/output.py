"""The console contract: steps, indented tool output, and warning/error/note blocks.

- a step is ``-----> text`` on stdout;
- tool output and informational sub-lines are indented by 7 spaces on stdout;
- blocks go to stderr: a blank line, every line prefixed `` !     ``, a blank line;
- colour only on a TTY or with FORCE_COLOR, never when NO_COLOR is non-empty.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping
from typing import TextIO

from pybuildpack.errors import BuildError

STEP = "-----> "
INDENT = " " * 7
BLOCK = " !     "

_COLOURS = {
    "Error": "\033[1;31m",
    "Internal Error": "\033[1;31m",
    "Warning": "\033[1;33m",
    "Note": "\033[1;34m",
}
_RESET = "\033[0m"
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


def colour_wanted(environ: Mapping[str, str], stream: TextIO) -> bool:
    """Decide colour once, for our blocks and for the tools we run."""
    if environ.get("NO_COLOR"):
        return False
    if environ.get("FORCE_COLOR"):
        return True
    return stream.isatty()


def strip_ansi(text: str) -> str:
    return _ANSI.sub("", text)


class Console:
    """Writes the build log. One instance per build; everything the buildpack prints goes through it."""

    def __init__(
        self,
        out: TextIO | None = None,
        err: TextIO | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.out = out if out is not None else sys.stdout
        self.err = err if err is not None else sys.stderr
        self.colour = colour_wanted(environ if environ is not None else os.environ, self.err)

    def step(self, text: str) -> None:
        self._write(self.out, f"{STEP}{text}\n")

    def info(self, text: str = "") -> None:
        """An indented sub-line of the buildpack's own, under the current step."""
        for line in text.split("\n"):
            self._write(self.out, f"{INDENT}{line}\n" if line else f"{INDENT}\n")

    def tool_line(self, line: str) -> None:
        """One line of a tool's output, already stripped of its newline."""
        self._write(self.out, f"{INDENT}{line}\n")

    def warning(self, headline: str, body: str = "") -> None:
        self.block("Warning", headline, body)

    def note(self, headline: str, body: str = "") -> None:
        self.block("Note", headline, body)

    def error(self, error: BuildError) -> None:
        self._block_lines("Error", error.lines())

    def internal_error(self, operation: str, traceback_text: str) -> None:
        lines = [
            f"Internal Error: an unexpected error occurred while {operation}.",
            "",
            "This is a bug in pybuildpack. Please report it with the traceback below.",
            "",
            *traceback_text.rstrip("\n").split("\n"),
        ]
        self._block_lines("Internal Error", lines)

    def block(self, kind: str, headline: str, body: str = "") -> None:
        lines = [f"{kind}: {headline}"]
        if body:
            lines.append("")
            lines.extend(body.rstrip("\n").split("\n"))
        self._block_lines(kind, lines)

    def _block_lines(self, kind: str, lines: list[str]) -> None:
        self.out.flush()
        start, end = (_COLOURS[kind], _RESET) if self.colour else ("", "")
        text = "".join(f"{start}{BLOCK}{line}{end}\n" for line in lines)
        self._write(self.err, f"\n{text}\n")

    @staticmethod
    def _write(stream: TextIO, text: str) -> None:
        stream.write(text)
        stream.flush()
