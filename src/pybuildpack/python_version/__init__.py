"""Which Python the app asks for (value + origin), and which exact version the build will install.

`decide` is the one entry point: it reads the request from the app's files (`sources`), resolves it
against the runtime mirror under the support policy (`resolution`, `policy`), and returns the
version with the warnings the log should show (`messages` holds all the wording). The values are in
`model`, the PEP 440 subset for requires-python in `specifier`. The supported range and end-of-life
facts live in ``data/python-versions.json``.
"""

from __future__ import annotations

from pybuildpack.errors import quoted
from pybuildpack.python_version.messages import step_text, warnings
from pybuildpack.python_version.model import (
    CPYTHON,
    IMPLEMENTATION_NAMES,
    ORIGINS,
    PIPFILE_LOCK,
    PYPROJECT,
    PYPY,
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    Major,
    Origin,
    PythonRules,
    RequestedPython,
    ResolvedPython,
    Version,
)
from pybuildpack.python_version.policy import ALLOW_EOL_VAR, Policy, is_outdated, policy, recommended_major
from pybuildpack.python_version.resolution import PythonChoice, decide, report_fields, resolve
from pybuildpack.python_version.sources import MISSPELLINGS, read_cached, read_requested, version_files
from pybuildpack.python_version.specifier import Clause, clause_matches, parse_specifier, satisfies

__all__ = [
    "ALLOW_EOL_VAR",
    "CPYTHON",
    "IMPLEMENTATION_NAMES",
    "MISSPELLINGS",
    "ORIGINS",
    "PIPFILE_LOCK",
    "PYPROJECT",
    "PYPY",
    "PYTHON_VERSION_FILE",
    "RUNTIME_TXT",
    "Clause",
    "Major",
    "Origin",
    "Policy",
    "PythonChoice",
    "PythonRules",
    "RequestedPython",
    "ResolvedPython",
    "Version",
    "clause_matches",
    "decide",
    "is_outdated",
    "parse_specifier",
    "policy",
    "quoted",
    "read_cached",
    "read_requested",
    "recommended_major",
    "report_fields",
    "resolve",
    "satisfies",
    "step_text",
    "version_files",
    "warnings",
]
