"""All wording about the Python version: the errors of reading and resolving it, the warnings about
the choice, and the step line. The readers and the resolver decide; this module says it."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from pybuildpack.errors import BuildError, cut_list, quoted
from pybuildpack.python_version.model import (
    PIPFILE_LOCK,
    PYPROJECT,
    PYTHON_VERSION_FILE,
    RUNTIME_TXT,
    Origin,
    PythonRules,
    RequestedPython,
    ResolvedPython,
    Version,
    dotted,
    latest_by_major,
)
from pybuildpack.python_version.policy import ALLOW_EOL_VAR, is_outdated, policy, recommended_major

# Reading ------------------------------------------------------------------------------------------

_VERSION_FILE_RULES = (
    "The file must contain the major version on a line of its own, for example:\n"
    "    {example}\n"
    "A patch version such as {example}.999 is also accepted but not recommended. Don't add quotes, "
    "a 'python-' prefix or wildcards, and put comments on their own line starting with '#'.\n"
    "(Experimental: PyPy is requested as pypy3.N or pypy3.N-X.Y.Z.)"
)


def misspelled(name: str) -> BuildError:
    return BuildError(
        f"Found a file named {quoted(name)}, which looks like a misspelled {quoted(PYTHON_VERSION_FILE)}.",
        "pybuildpack only reads the Python version from a file named exactly "
        f"{quoted(PYTHON_VERSION_FILE)}: a leading dot, a hyphen, all lower case, no extension "
        "and no spaces. A misspelled file would be ignored silently, so it stops the build.",
        f"Rename {quoted(name)} to {quoted(PYTHON_VERSION_FILE)} (if you already have a correct "
        "one, delete the misspelled file), for example:\n"
        f"    git mv {_shell_quote(name)} {PYTHON_VERSION_FILE}\n"
        "then commit the change.",
        failure_reason="python-version-file::misspelled",
        failure_detail=name,
    )


def _shell_quote(name: str) -> str:
    return "'" + name.replace("'", "'\\''") + "'"


def invalid_version_line(line: str, default_text: str) -> BuildError:
    rules = _VERSION_FILE_RULES.format(example=default_text)
    return BuildError(
        f"Invalid Python version in {PYTHON_VERSION_FILE}: {quoted(line)}.",
        f"The version line in {PYTHON_VERSION_FILE} is not a version pybuildpack understands "
        "(invisible characters are shown as \\uXXXX escapes or the NUL symbol).",
        f"{rules}\nFix {PYTHON_VERSION_FILE} and commit it.",
        failure_reason="python-version-file::invalid-version",
    )


def no_version(default_text: str) -> BuildError:
    rules = _VERSION_FILE_RULES.format(example=default_text)
    return BuildError(
        f"No Python version found in {PYTHON_VERSION_FILE}.",
        f"{PYTHON_VERSION_FILE} exists but has no version in it: it is empty or contains only "
        "blank lines and comments (lines starting with '#').",
        f"Add the major version to {PYTHON_VERSION_FILE} and commit it. {rules}",
        failure_reason="python-version-file::no-version",
    )


def multiple_versions(lines: list[str], default_text: str) -> BuildError:
    listing = "\n".join(cut_list(f"    {quoted(line)}" for line in lines))
    return BuildError(
        f"{PYTHON_VERSION_FILE} contains more than one Python version.",
        f"Found these versions in {PYTHON_VERSION_FILE}:\n{listing}\nOnly one version may be given.",
        f"Keep only the version you want, for example {default_text}, and commit the file. Lines "
        "starting with '#' are comments.",
        failure_reason="python-version-file::multiple-versions",
        failure_detail=",".join(lines),
    )


def version_file_encoding(problem: str) -> BuildError:
    return BuildError(
        f"Could not read {PYTHON_VERSION_FILE}: {problem}.",
        f"{PYTHON_VERSION_FILE} must be plain UTF-8 text without a byte order mark (BOM). This often "
        "happens when the file is written by a Windows editor or by shell redirection on Windows "
        "(PowerShell's '>' writes UTF-16), or converted by a .gitattributes 'working-tree-encoding' rule.",
        f"Save {PYTHON_VERSION_FILE} as UTF-8 without BOM (in most editors: 'UTF-8', not 'UTF-8 with BOM' "
        f"or 'UTF-16'), or recreate it, for example with:\n    printf '3.14\\n' > {PYTHON_VERSION_FILE}\n"
        "then commit it.",
        failure_reason="python-version-file::invalid-encoding",
        failure_detail=problem,
    )


def runtime_txt_invalid(default_text: str) -> BuildError:
    return BuildError(
        f"The Python version in {RUNTIME_TXT} is not in a valid format.",
        f"{RUNTIME_TXT} must be UTF-8 text with a single line like 'python-{default_text}' (blank lines "
        "and lines starting with '#' are ignored). Its contents are not shown here, in case the file "
        f"holds something else by mistake. Note that {RUNTIME_TXT} is deprecated.\n"
        "(Experimental: PyPy is requested as 'pypy-7.3.11' or 'pypy3.9-7.3.11'.)",
        f"Delete {RUNTIME_TXT} and create a file named {PYTHON_VERSION_FILE} at the root of your app "
        f"containing just the major version:\n    {default_text}\nthen commit both changes.",
        failure_reason="runtime-txt::invalid-version",
    )


def pipfile_lock_invalid(problem: str) -> BuildError:
    return BuildError(
        f"Could not parse {PIPFILE_LOCK}.",
        f"{PIPFILE_LOCK} is not valid JSON: {problem}.",
        f"Regenerate it by running 'pipenv lock' in your app's directory, then commit {PIPFILE_LOCK}.",
        failure_reason="pipfile-lock::invalid-json",
        failure_detail=problem,
    )


def pipfile_lock_version(key: str, text: str) -> BuildError:
    return BuildError(
        f"Invalid Python version in {PIPFILE_LOCK}: {quoted(text)} ({key}).",
        f"The {key} value under [requires] must be a version like '3.14' or '3.14.1'; "
        "version ranges, wildcards such as '3.12.*' and operators such as '^' or '>=' are not "
        "supported there.",
        "Fix the version under [requires] in your Pipfile, for example:\n"
        '    python_version = "3.14"\n'
        f"then run 'pipenv lock' and commit Pipfile and {PIPFILE_LOCK}.",
        failure_reason="pipfile-lock::invalid-version",
        failure_detail=text,
    )


def pyproject_invalid(problem: str) -> BuildError:
    return BuildError(
        f"Could not parse {PYPROJECT}.",
        f"pybuildpack reads [project].requires-python from {PYPROJECT}, but the file is not valid "
        f"TOML (UTF-8): {problem}.",
        f"Fix the syntax of {PYPROJECT} (any TOML checker shows the line), then commit it.",
        failure_reason="pyproject-toml::invalid-toml",
        failure_detail=problem,
    )


def value_text(value: object) -> str:
    """A JSON or TOML value as text for a message (strings as they are)."""
    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, default=str)
    except (ValueError, RecursionError):
        return f"a {type(value).__name__}"


def bad_specifier(text: str, reason: str) -> BuildError:
    return BuildError(
        f"Invalid requires-python in {PYPROJECT}: {quoted(text)}.",
        f"[project].requires-python must be a version specifier (PEP 440); this one is not: {reason}.",
        f"Fix requires-python in {PYPROJECT}, for example:\n"
        '    requires-python = ">=3.12"\n'
        "(operators: ==, !=, <, <=, >, >=, ~= and wildcards like '==3.12.*', separated by commas), "
        "then commit it.",
        failure_reason="pyproject-toml::invalid-requires-python",
        failure_detail=text[:200],
    )


def no_match(text: str, available: Sequence[Version]) -> BuildError:
    latest = latest_by_major(available)
    offered = [major for major in policy().supported if major in latest]
    names = ", ".join(dotted(major) for major in offered) or "none"
    example = dotted(recommended_major(available))
    return BuildError(
        f"No supported Python version satisfies requires-python {quoted(text)} in {PYPROJECT}.",
        f"pybuildpack picks the newest supported Python whose latest available release satisfies "
        f"[project].requires-python. Supported versions available for this build: {names}.",
        f'Change requires-python in {PYPROJECT} (for example ">={example}"), or create a '
        f"{PYTHON_VERSION_FILE} file containing {example}, then commit the change.",
        failure_reason="pyproject-toml::no-matching-version",
        failure_detail=text[:200],
    )


# Step line ----------------------------------------------------------------------------------------


def step_text(requested: RequestedPython) -> str:
    if requested.is_pypy:
        return _pypy_step_text(requested)
    if requested.origin == Origin.DEFAULT:
        return f"No Python version specified, using the buildpack default Python {requested.major_text}"
    if requested.origin == Origin.CACHED:
        return (
            "No Python version specified, using the same major version as the last build: "
            f"Python {requested.major_text}"
        )
    if requested.origin == PYPROJECT:
        return (
            f"Using Python {requested.version_text} specified in {PYPROJECT} "
            f"(requires-python {quoted(requested.text)})"
        )
    return f"Using Python {requested.text} specified in {requested.origin}"


def _pypy_step_text(requested: RequestedPython) -> str:
    if requested.origin == Origin.CACHED:
        return (
            "No Python version specified, using the same implementation and major version as the last "
            f"build: PyPy implementing Python {requested.major_text} (experimental)"
        )
    return f"Using PyPy {requested.text} specified in {requested.origin} (experimental)"


# Resolution ---------------------------------------------------------------------------------------


def how_to_change(requested: RequestedPython, example: str) -> str:
    origin = requested.origin
    if origin == PYTHON_VERSION_FILE:
        return f"Change the version in {PYTHON_VERSION_FILE} to {example}, then commit the change."
    if origin == RUNTIME_TXT:
        return (
            f"Change the version in {RUNTIME_TXT}, or better, since {RUNTIME_TXT} is deprecated: delete it "
            f"and create a {PYTHON_VERSION_FILE} file containing {example}, then commit the change."
        )
    if origin == PIPFILE_LOCK:
        return (
            "Change the version under [requires] in your Pipfile, for example:\n"
            f'    python_version = "{example}"\n'
            f"then run 'pipenv lock' and commit Pipfile and {PIPFILE_LOCK}."
        )
    if origin == PYPROJECT:
        return (
            f'Change requires-python in {PYPROJECT} (for example to ">={example}"), or create a '
            f"{PYTHON_VERSION_FILE} file containing {example}, then commit the change."
        )
    return create_version_file(example)


def create_version_file(example: str) -> str:
    return (
        f"Create a file named {PYTHON_VERSION_FILE} at the root of your app (the name starts with a dot "
        f"and has no extension) containing just the major version:\n    {example}\nthen commit it."
    )


def origin_phrase(requested: RequestedPython) -> str:
    if requested.origin == Origin.CACHED:
        return (
            "Your app does not specify a Python version, so the build reuses the major version of its "
            f"previous build ({requested.major_text}), remembered in the build cache."
        )
    if requested.origin == Origin.DEFAULT:
        return f"Python {requested.major_text} is the buildpack's default."
    return f"It is requested in {requested.origin}."


def eol_error(requested: RequestedPython, available: Sequence[Version]) -> BuildError:
    rules = policy()
    recommended = dotted(recommended_major(available))
    when = rules.eol_dates.get(requested.major_text)
    since = f" (upstream end of life: {when})" if when else ""
    fix = how_to_change(requested, recommended)
    if requested.origin == Origin.CACHED:
        fix = "Specify an explicit, supported version. " + create_version_file(recommended)
    what = f"Python {requested.version_text} is"
    if requested.is_pypy:
        what = f"PyPy {requested.text} implements Python {requested.major_text}, which is"
    return BuildError(
        f"{what} end-of-life and not supported.",
        f"{origin_phrase(requested)} Python {requested.major_text} no longer receives security "
        f"fixes{since}. pybuildpack supports Python {dotted(rules.oldest)} to {dotted(rules.newest)}; "
        f"upgrade to at least {dotted(rules.oldest)}, we recommend {recommended}.",
        f"{fix}\n\nIf you must build an end-of-life version anyway, at your own risk, set the config var "
        f"{ALLOW_EOL_VAR}=1 (the runtime mirror must also provide that version).",
        failure_reason="python-version::eol",
        failure_detail=requested.major_text,
    )


def unknown_major_error(requested: RequestedPython, available: Sequence[Version]) -> BuildError:
    rules = policy()
    recommended = dotted(recommended_major(available))
    known = f"This buildpack knows Python {dotted(rules.oldest)} to {dotted(rules.newest)}."
    if requested.origin == Origin.CACHED:
        explanation = (
            f"{origin_phrase(requested)} {known} The previous build probably used a newer version of "
            "the buildpack than this one."
        )
        fix = "Use a newer version of the buildpack, or specify a version explicitly. "
        fix += create_version_file(recommended)
    else:
        explanation = (
            f"{origin_phrase(requested)} {known} Check that Python {requested.major_text} has been "
            "released and is supported; if it is newer, you need a newer version of the buildpack."
        )
        fix = "Otherwise, use a supported version. " + how_to_change(requested, recommended)
    return BuildError(
        f"Python {requested.version_text} is not a recognised Python version.",
        explanation,
        fix,
        failure_reason="python-version::unknown-major",
        failure_detail=requested.version_text,
    )


def not_available_error(requested: RequestedPython, available: Sequence[Version], mirror: str) -> BuildError:
    major = (requested.major, requested.minor)
    patches = sorted({version for version in available if version[:2] == major}, reverse=True)
    listing = ", ".join(dotted(version) for version in patches)
    has = (
        f"has these Python {requested.major_text} versions: {listing}"
        if patches
        else (f"has no Python {requested.major_text} versions")
    )
    if patches:
        fix = (
            "Check that the version has been released. Request only the major version so that the newest "
            f"available patch is used. {how_to_change(requested, requested.major_text)}"
        )
    else:
        offered = dotted(recommended_major(available))
        fix = f"Use a version the mirror provides. {how_to_change(requested, offered)}"
    return BuildError(
        f"Python {requested.version_text} is not available on the runtime mirror.",
        f"{origin_phrase(requested)} The runtime mirror {mirror} {has}.",
        fix,
        failure_reason="python-version::unknown-patch",
        failure_detail=requested.version_text,
    )


def _pypy_listing(offers: Mapping[Version, Version]) -> str:
    """`7.3.11 (Python 3.9.16), ...`, newest first."""
    return ", ".join(
        f"{dotted(release)} (Python {dotted(offers[release])})" for release in sorted(offers, reverse=True)
    )


def _pypy_fix(requested: RequestedPython, offers: Mapping[Version, Version]) -> str:
    if offers:
        newest = max(offers)
        example = f"pypy{offers[newest][0]}.{offers[newest][1]}"
        return (
            f"Request a PyPy the mirror has: write {example} in {PYTHON_VERSION_FILE} (or "
            f"pypy-{dotted(newest)} in {RUNTIME_TXT}), or add the PyPy you want to the mirror with "
            "`pybuildpack runtime pack /path/to/bin/pypy3 --output DIR`, then commit the change."
        )
    return (
        "Add a PyPy runtime to the mirror (`pybuildpack runtime pack /path/to/bin/pypy3 --output DIR` "
        "writes the archive and its manifest entry), or use CPython: "
        + how_to_change(requested, dotted(policy().newest))
    )


def pypy_release_not_available(text: str, release: Version, offers: Mapping[Version, Version]) -> BuildError:
    has = f"has these PyPy releases: {_pypy_listing(offers)}" if offers else "has no PyPy runtimes"
    return BuildError(
        f"PyPy {dotted(release)} is not available on the runtime mirror.",
        f"Your app requests {quoted(text)} in {RUNTIME_TXT}. PyPy support is experimental, and the runtime "
        f"manifest in use {has}.",
        _pypy_fix(RequestedPython(0, 0, None, RUNTIME_TXT, text), offers),
        failure_reason="python-version::unknown-pypy",
        failure_detail=text[:100],
    )


def pypy_not_available(
    requested: RequestedPython, offers: Mapping[Version, Version], mirror: str
) -> BuildError:
    has = f"has these PyPy releases: {_pypy_listing(offers)}" if offers else "has no PyPy runtimes"
    wanted = f"PyPy {requested.text}" if requested.specified else f"PyPy for Python {requested.major_text}"
    return BuildError(
        f"{wanted} is not available on the runtime mirror.",
        f"{origin_phrase(requested)} PyPy support is experimental; the runtime mirror {mirror} {has}.",
        _pypy_fix(requested, offers),
        failure_reason="python-version::unknown-pypy",
        failure_detail=requested.text[:100],
    )


# Warnings -----------------------------------------------------------------------------------------


def warnings(
    resolved: ResolvedPython, available: Sequence[Version], *, manager: PythonRules
) -> list[tuple[str, str]]:
    """(headline, body) pairs to show after the version step, in order. Raises BuildError for uv apps
    that give no version or use runtime.txt."""
    found: list[tuple[str, str]] = []
    if resolved.pypy is not None:
        found.append(_pypy_warning(resolved))
    origin_warning = _origin_warning(resolved, manager)
    if origin_warning is not None:
        found.append(origin_warning)
    if resolved.eol:
        found.append(_eol_warning(resolved, available))
    deprecation = policy().deprecated.get(resolved.major_text)
    if deprecation is not None:
        found.append(_deprecated_warning(resolved, available, deprecation))
    outdated = _outdated_warning(resolved, available)
    if outdated is not None:
        found.append(outdated)
    return found


def _origin_warning(resolved: ResolvedPython, manager: PythonRules) -> tuple[str, str] | None:
    requested = resolved.requested
    major = requested.major_text
    if requested.origin in {Origin.CACHED, Origin.DEFAULT}:
        if manager.explicit_version:
            raise BuildError(
                "No Python version specified: uv apps must specify one.",
                f"Your app has no {PYTHON_VERSION_FILE} file and no [project].requires-python in "
                f"{PYPROJECT}. pybuildpack needs it to choose the Python that uv uses.",
                f"Run this command at the root of your app, then commit the {PYTHON_VERSION_FILE} file it "
                f"creates:\n    uv python pin {major}",
                failure_reason="python-version-file::not-found",
            )
        return _no_version_warning(requested)
    if requested.origin == RUNTIME_TXT:
        return _runtime_txt_deprecated(requested, manager)
    if requested.origin == PYPROJECT:
        return (
            f"Python version chosen from requires-python in {PYPROJECT}.",
            f"This build uses Python {resolved.major_text}, the newest available version that satisfies "
            f"requires-python {quoted(requested.text)}. To choose the version exactly, create a "
            f"{PYTHON_VERSION_FILE} file containing {resolved.major_text} and commit it.",
        )
    return None


def _pypy_warning(resolved: ResolvedPython) -> tuple[str, str]:
    return (
        "PyPy support is experimental.",
        f"This build installs {resolved.display}. pybuildpack supports CPython; PyPy builds work with pip "
        "(requirements.txt apps) only, binary packages need wheels built for PyPy (tagged pp"
        f"{resolved.version[0]}{resolved.version[1]}) or build from source, and the runtime comes from "
        "the runtime mirror (the default manifest has no PyPy). Check your app on PyPy before relying on "
        "it; to go back to CPython, write the major version (for example "
        f"{dotted(policy().newest)}) in {PYTHON_VERSION_FILE}.",
    )


def _no_version_warning(requested: RequestedPython) -> tuple[str, str]:
    major = requested.major_text
    how = (
        "the same major version as the previous build"
        if requested.origin == Origin.CACHED
        else "the buildpack's default version"
    )
    return (
        "No Python version was specified.",
        f"Your app does not say which Python version it needs, so this build uses {how}, Python {major}. "
        "The default changes over time, which can break your app unexpectedly.\n\n"
        f"{create_version_file(major)}\n"
        f"Give only the major version ({major}), not a patch version, so that every build gets the latest "
        "patch with its security fixes.\n\n"
        f"If your app already has a {PYTHON_VERSION_FILE} file, check that it is at the top level of the "
        "app, that its name is exactly right (lower case, leading dot, no extension), that it is not "
        "listed in .gitignore or .slugignore, and that it is committed.\n\n"
        "A future version of pybuildpack will refuse to build apps that do not specify a version.",
    )


def _runtime_txt_deprecated(requested: RequestedPython, manager: PythonRules) -> tuple[str, str]:
    major = f"pypy{requested.major_text}" if requested.is_pypy else requested.major_text
    if manager.explicit_version:
        raise BuildError(
            f"{RUNTIME_TXT} is not supported for uv apps.",
            f"Your app requests Python {requested.text} in {RUNTIME_TXT}, which uv does not read, so uv "
            f"and the build could disagree about the Python version. uv uses {PYTHON_VERSION_FILE}.",
            f"Delete {RUNTIME_TXT}, then run this command at the root of your app and commit the "
            f"{PYTHON_VERSION_FILE} file it writes:\n    uv python pin {major}",
            failure_reason="runtime-txt::not-supported",
        )
    return (
        f"The {RUNTIME_TXT} file is deprecated.",
        f"Your app requests Python {requested.text} in {RUNTIME_TXT}. Specify it in a "
        f"{PYTHON_VERSION_FILE} file instead; {RUNTIME_TXT} support will be removed.\n\n"
        f"Delete {RUNTIME_TXT} and create {PYTHON_VERSION_FILE} at the root of your app containing just "
        f"the major version, then commit both changes, for example:\n"
        f"    git rm {RUNTIME_TXT}\n"
        f"    echo '{major}' > {PYTHON_VERSION_FILE}\n"
        f"    git add {PYTHON_VERSION_FILE}",
    )


def _eol_warning(resolved: ResolvedPython, available: Sequence[Version]) -> tuple[str, str]:
    recommended = dotted(recommended_major(available))
    return (
        f"Python {resolved.major_text} is end-of-life and unsupported.",
        f"This build installs Python {resolved.full} because the config var {ALLOW_EOL_VAR}=1 is set. "
        "It gets no security fixes, current packaging tools may not work with it, and pybuildpack does "
        f"not support it. Upgrade as soon as possible; we recommend Python {recommended}. "
        f"{how_to_change(resolved.requested, recommended)}",
    )


def _deprecated_warning(
    resolved: ResolvedPython, available: Sequence[Version], deprecation: dict[str, str]
) -> tuple[str, str]:
    recommended = dotted(recommended_major(available))
    return (
        f"Support for Python {resolved.major_text} is deprecated.",
        f"Python {resolved.major_text} reaches its upstream end of life in {deprecation['upstream_eol']}, "
        "after which it gets no security fixes, and pybuildpack will stop building it on "
        f"{deprecation['support_removed']}. {origin_phrase(resolved.requested)}\n\n"
        f"Upgrade to a newer version (we recommend Python {recommended}). "
        f"{how_to_change(resolved.requested, recommended)}",
    )


def _outdated_warning(resolved: ResolvedPython, available: Sequence[Version]) -> tuple[str, str] | None:
    if not is_outdated(resolved, available):
        return None
    requested = resolved.requested
    latest = dotted(latest_by_major(available)[(resolved.version[0], resolved.version[1])])
    major = resolved.major_text
    if requested.origin == PYPROJECT:
        advice = f"change requires-python in {PYPROJECT} to '=={major}.*'"
    elif requested.origin == PIPFILE_LOCK:
        advice = f"set python_version = \"{major}\" in your Pipfile and run 'pipenv lock'"
    else:
        advice = f"write just {major} in {requested.origin}"
    return (
        f"A newer patch release of Python {major} is available.",
        f"Your app requests Python {resolved.full} in {requested.origin}, but Python {latest} is "
        f"available, with bug and security fixes. Update the version in {requested.origin} to "
        f"{latest}, or better, request only the major version so that each build gets the newest patch: "
        f"{advice}.",
    )
