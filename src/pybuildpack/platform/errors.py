"""The local platform's own errors: a command's input or an app's state, never a build's failure."""

from __future__ import annotations

from dataclasses import dataclass

from pybuildpack.errors import BuildError

REASON = "local-platform::command"


@dataclass
class PlatformError(BuildError):
    """Printed as the same error block as a build's errors, but never recorded in a build report."""

    failure_reason: str = REASON
