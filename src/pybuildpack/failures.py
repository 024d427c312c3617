"""Every failure reason a build can record (`failure_reason` in the build report), with its meaning.

A reason is a stable slug that platforms and dashboards group failures by. ``family::*`` entries stand
for a family whose last part names the tool, hook or check (``hooks::pre_compile``). The test
tests/test_failures.py keeps this table and the code in step: every reason the code can give is
here, and every entry here is given somewhere.
"""

from __future__ import annotations

REASONS: dict[str, str] = {
    # the platform's directories and the build's own bookkeeping
    "platform::unusable-cache-dir": "CACHE_DIR (or a CNB layer) is a file, or holds one where a dir belongs",
    "platform::unreadable-env-dir": "a config var file in ENV_DIR (or $CNB_PLATFORM_DIR/env) cannot be read",
    "cache::locked": "another build held the cache dir's lock for too long",
    "lock::timeout": "another process held a lock for too long",
    "build-data::data-file-deleted": "the build report disappeared (a hook deleted CACHE_DIR)",
    "checks::permission-denied": "a file or directory of the app cannot be read",
    "checks::disk-full": "the disk filled up during the build",
    # checks of the stack and the app tree
    "checks::stack::eol": "STACK names an end-of-life stack",
    "checks::stack::unknown": "STACK names an unknown stack, or the host has no /etc/os-release",
    "checks::duplicate-python-buildpack": "this buildpack already ran in this build",
    "checks::existing-python-dir": "the app's source contains .heroku/python",
    "checks::existing-venv-dir": "the app's source contains a virtual environment",
    "checks::invalid-installer": "PYBUILDPACK_INSTALLER names an unknown installer",
    "detect::no-python-project-files": "the app has none of the files that make it a Python app",
    # choosing the package manager
    "package-manager::none-found": "no requirements.txt, Pipfile.lock, poetry.lock, uv.lock or project file",
    "package-manager::multiple-found": "files of several package managers",
    "package-manager::pipenv-missing-lockfile": "a Pipfile without Pipfile.lock",
    "package-manager::invalid-pyproject-toml": "pyproject.toml cannot be parsed while choosing the manager",
    "package-manager::invalid-setup-py": "setup.py cannot be read",
    "package-manager::unreadable-input": "a dependency file is not a readable regular file in the app",
    "requirements::invalid-include": "a -r/-c include leads outside the app or cannot be read",
    # choosing the Python version
    "python-version-file::not-found": "a uv app gives no Python version",
    "python-version-file::misspelled": "a misspelled .python-version",
    "python-version-file::invalid-encoding": ".python-version is not UTF-8 text",
    "python-version-file::invalid-version": ".python-version holds no valid version",
    "python-version-file::multiple-versions": ".python-version holds several versions",
    "python-version-file::no-version": ".python-version holds only comments or blank lines",
    "runtime-txt::invalid-version": "runtime.txt holds no valid version",
    "runtime-txt::not-supported": "runtime.txt in a uv app",
    "pipfile-lock::invalid-json": "Pipfile.lock is not valid JSON",
    "pipfile-lock::invalid-version": "Pipfile.lock's python_version or python_full_version is invalid",
    "pyproject-toml::invalid-toml": "pyproject.toml is not valid TOML",
    "pyproject-toml::invalid-requires-python": "requires-python is not a specifier the buildpack reads",
    "pyproject-toml::no-matching-version": "no available Python satisfies requires-python",
    "python-version::eol": "an end-of-life Python without PYBUILDPACK_ALLOW_EOL_PYTHON",
    "python-version::unknown-major": "a Python major version the buildpack does not know",
    "python-version::unknown-patch": "an exact version the runtime manifest does not have",
    "python-version::unknown-pypy": "a PyPy release or language version the runtime manifest does not have",
    "package-manager::pypy-unsupported": "a package manager other than pip with PyPy (experimental)",
    # installing
    "install-python": "the runtime manifest or archive cannot be read, fetched, verified or unpacked",
    "install-package-manager::*": "the manager (pip, Pipenv, Poetry, uv) could not be installed",
    "internal-error::bundled-pip-not-found": "the installed Python has no bundled pip wheel",
    "install-dependencies::*": "the manager failed to install the app's dependencies",
    "custom-ssh-key::*": "CUSTOM_SSH_KEY, CUSTOM_SSH_KEY_HOSTS or CUSTOM_SSH_KNOWN_HOSTS is unusable",
    "nltk-downloader": "nltk.txt cannot be read or the NLTK downloader failed",
    "collectstatic-syntax-error": "collectstatic failed on a SyntaxError",
    "collectstatic-improper-configuration": "collectstatic failed on Django's ImproperlyConfigured",
    "collectstatic-fancy-references": "collectstatic failed on a missing file a CSS file references",
    "collectstatic-missing-file": "collectstatic failed on an OSError",
    "collectstatic-other": "collectstatic failed for another reason",
    "hooks::*": "bin/pre_compile or bin/post_compile failed, or leads outside the app",
    "procfile::unreadable": "the Procfile cannot be read",
    "procfile::invalid-encoding": "the Procfile is not UTF-8",
    "procfile::invalid-line": "a Procfile line is not `type: command`",
    "procfile::duplicate-type": "a process type is defined twice",
    "procfile::too-many-types": "the Procfile declares more process types than any app needs",
    "internal-error::unhandled": "a bug in the buildpack (the log shows a traceback)",
    # the local platform's own errors (platform/errors.py): a command's input or an app's state
    "local-platform::command": "bad input to a local platform command, or an unusable app state",
}


def is_known(reason: str) -> bool:
    """A reason in the table, or a member of a ``family::*`` in it."""
    if reason in REASONS:
        return True
    family, _, last = reason.rpartition("::")
    return bool(family and last) and f"{family}::*" in REASONS
