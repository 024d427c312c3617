"""`pybuildpack start APP`: run every process type of the Procfile together, like `heroku local`."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path
from typing import Any

from pybuildpack.cli.common import add_state_option
from pybuildpack.errors import BuildError
from pybuildpack.output import Console
from pybuildpack.platform import applog, runner, supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import AppState
from pybuildpack.platform.supervisor import Supervisor, runnable


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "start",
        help="run all the process types of an app together",
        description="Run every process type of APP's Procfile (but release) with prefixed log lines. "
        "The web process is served on --host:--port. Ctrl-C or SIGTERM stops them all. A deploy of the "
        "app (build, git push, rollback, config set) restarts them on the new release, the web process "
        "without downtime. A process that exits is restarted after 1 s, then 2, 4, ... up to 60 s while "
        "it keeps crashing. For an app name, every line also goes to the app's log (see pybuildpack logs).",
    )
    parser.add_argument("app", metavar="APP", help="an app name, or the directory of a built app")
    parser.add_argument("--port", type=int, default=None, help="PORT for web (default: $PORT or 5000)")
    parser.add_argument("--host", default="127.0.0.1", help="address to serve web on (default: 127.0.0.1)")
    parser.add_argument(
        "--boot-timeout",
        type=float,
        default=30.0,
        metavar="SECONDS",
        help="how long a new web process has to accept connections on a restart (default: 30)",
    )
    parser.add_argument(
        "--log-limit",
        type=int,
        default=applog.LIMIT,
        metavar="BYTES",
        help=f"rotate the app's log when it reaches this size (default: {applog.LIMIT // 1024 // 1024} MB)",
    )
    add_state_option(parser)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        app_dir, _config, state = runner.resolve_app(args.app, args.state_dir)
        if state is not None:
            _check_not_running(state)
        _check_something_to_run(app_dir)
        port = runner.port_setting(args.port)
    except BuildError as error:
        Console().error(error)
        return 1
    manager = Supervisor(
        app_dir, state, host=args.host, port=port, boot_timeout=args.boot_timeout, log_limit=args.log_limit
    )
    signal.signal(signal.SIGINT, manager.request_stop)
    signal.signal(signal.SIGTERM, manager.request_stop)
    try:
        manager.start()
        return manager.wait()
    except OSError as exc:
        manager.say(f"could not start: {exc}")
        return 1
    finally:
        manager.shutdown()


def _check_not_running(state: AppState) -> None:
    info = supervisor.running(state)
    if info is None:
        return
    pid = info["pid"]
    raise PlatformError(
        f"The processes of {state.name} are already running (pybuildpack start, pid {pid}).",
        fix=f"Stop that one first (kill {pid}), or use it: deploys restart it.",
    )


def _check_something_to_run(app_dir: Path) -> None:
    if runnable(app_dir):
        return
    raise PlatformError(
        f"The app in {app_dir} declares no process type to start.",
        "start runs the Procfile's process types (all but release), and the Procfile declares none "
        "(or the app has no Procfile, and its buildpacks declared no default process types).",
        "Add a line such as `web: gunicorn app:app` to the Procfile and build again.",
    )
