"""NLTK corpora (CONTRACT §10): download what ``nltk.txt`` lists when the app depends on ``nltk``.

The corpora go to ``BUILD_DIR/.heroku/python/nltk_data``; the caller then points ``NLTK_DATA`` at
them in the runtime environment. The downloader runs with the config vars visible (CONTRACT §4) and
no stdin, so its "Retry?" prompt after a failed package meets end-of-file and it exits non-zero.

``PYBUILDPACK_NLTK_INDEX_URL`` (config var, else process env) points the downloader at another data
index (a mirror); it is passed as ``-u``. Recent NLTK releases only fetch from publicly routable
addresses, and through an HTTP proxy only with ``NLTK_ALLOW_PROXIED_URLOPEN=1``; both it and the
proxy variables reach the downloader like any other config var.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from pybuildpack import appfile, run
from pybuildpack.context import BuildContext
from pybuildpack.env import hook_environment, mask_url, setting
from pybuildpack.errors import BuildError, cut_list, quoted

NLTK_FILE = "nltk.txt"
INDEX_URL_SETTING = "PYBUILDPACK_NLTK_INDEX_URL"
_RUNPY_WARNING = "ignore::RuntimeWarning:runpy"
# Found, not imported (no side effects); Python 2.7 (EOL opt-in) has no importlib.util.
_FIND_SPEC = """\
import sys
try:
    from importlib.util import find_spec
except ImportError:
    import imp

    def find_spec(name):
        try:
            return imp.find_module(name)
        except ImportError:
            return None
sys.exit(0 if find_spec(sys.argv[1]) else 1)
"""


def module_available(ctx: BuildContext, module: str) -> bool:
    """Whether the built Python can import ``module`` (found, not imported: no side effects).

    Run from the Python install rather than BUILD_DIR, so an app directory named like the module
    doesn't count; ``-E -s`` (not ``-I``, which Python 2.7 lacks) keep the environment and user
    site-packages out.
    """
    command: list[str | Path] = [ctx.python, "-E", "-s", "-c", _FIND_SPEC, module]
    return run.capture(command, env=ctx.build_env, cwd=ctx.python_home).ok


def run_nltk(ctx: BuildContext) -> bool:
    """Download the NLTK packages listed in ``nltk.txt``; True when corpora were downloaded."""
    if not module_available(ctx, "nltk"):
        return False
    ctx.console.step("Downloading NLTK corpora")
    with ctx.data.timed("nltk_downloader_duration"):
        packages = read_nltk_txt(ctx.build_dir)
        if packages is None:
            ctx.console.info(f"'{NLTK_FILE}' not found, so no NLTK corpora are downloaded.")
            ctx.data.set("nltk_downloader", "skipped-no-nltk-file")
            return False
        if not packages:
            ctx.console.info(f"'{NLTK_FILE}' lists no packages, so no NLTK corpora are downloaded.")
            ctx.data.set("nltk_downloader", "skipped-empty-nltk-file")
            return False
        unshare_hard_links(ctx.layout.nltk_data)
        _download(ctx, packages)
    ctx.data.set("nltk_downloader", "enabled")
    return True


def read_nltk_txt(build_dir: Path) -> list[str] | None:
    """Package ids from ``nltk.txt`` (whitespace separated, ``#`` starts a comment); None without it."""
    path = build_dir / NLTK_FILE
    if not path.is_file():
        return None
    try:
        data = appfile.read_app_file(
            build_dir, path, limit=appfile.TEXT_FILE_LIMIT, failure_reason="nltk-downloader"
        )
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BuildError(
            f"Unable to read '{NLTK_FILE}': it is not valid UTF-8.",
            f"The byte at offset {exc.start} of '{NLTK_FILE}' can't be decoded as UTF-8, so the list "
            "of NLTK packages to download can't be read.",
            f"Save '{NLTK_FILE}' as UTF-8 text with one NLTK package id per line, e.g. 'stopwords'.",
            failure_reason="nltk-downloader",
            failure_detail="invalid-encoding",
        ) from exc
    except OSError as exc:
        raise BuildError(
            f"Unable to read '{NLTK_FILE}'.",
            f"Reading the file failed: {exc.strerror or exc}.",
            f"Make '{NLTK_FILE}' a readable file with one NLTK package id per line.",
            failure_reason="nltk-downloader",
        ) from exc
    packages: list[str] = []
    for line in text.splitlines():
        packages.extend(line.split("#", 1)[0].split())
    return packages


def unshare_hard_links(directory: Path) -> int:
    """Give every multiply-linked file under ``directory`` its own copy; return how many were copied.

    NLTK refuses to read a data file with more than one hard link (one could point outside its data
    directory), so corpora restored from the cache by hard links would fail the downloader's
    up-to-date check, and the app's reads at runtime.
    """
    copied = 0
    for root, _dirs, files in os.walk(directory):
        for name in files:
            path = Path(root) / name
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_nlink > 1:
                private = path.with_name(f".{name}.unshare")
                shutil.copy2(path, private)
                private.replace(path)
                copied += 1
    return copied


def _download(ctx: BuildContext, packages: list[str]) -> None:
    ctx.console.step(f"Downloading NLTK packages: {' '.join(packages)}")
    target = ctx.layout.nltk_data
    # -W: `python -m nltk.downloader` makes runpy warn that nltk imported the module first (harmless).
    command: list[str | Path] = [ctx.python, "-W", _RUNPY_WARNING, "-m", "nltk.downloader", "-d", target]
    index_url = setting(INDEX_URL_SETTING, ctx.config, ctx.environ)
    if index_url is not None:
        index_url = index_url.strip()
        ctx.console.info(f"Using the NLTK data index {mask_url(index_url)} (from {INDEX_URL_SETTING})")
        command += ["-u", index_url]
    command += packages
    env = hook_environment(ctx.build_env, ctx.config)
    result = run.stream(command, env=env, console=ctx.console, cwd=ctx.build_dir)
    if not result.ok:
        listed = ", ".join(cut_list(quoted(package) for package in packages))
        raise BuildError(
            "Unable to download NLTK data.",
            f"The NLTK downloader exited with status {result.returncode} while downloading the packages "
            f"listed in '{NLTK_FILE}' ({listed}).\nIts output is shown above.",
            f"Check that every line of '{NLTK_FILE}' is the id of an NLTK data package (for example "
            "'stopwords' or 'punkt'), and remove any that don't exist. If the NLTK data server was "
            "unavailable, try the build again.",
            failure_reason="nltk-downloader",
        )
