"""`pybuildpack config set|get|unset|list APP ...`: an app's config vars (stored with mode 0600)."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from pybuildpack.cli.common import add_state_option
from pybuildpack.errors import BuildError, quoted
from pybuildpack.output import Console
from pybuildpack.platform import config as config_store
from pybuildpack.platform import supervisor
from pybuildpack.platform.errors import PlatformError
from pybuildpack.platform.state import app_state, known_app


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser(
        "config",
        help="set, get, unset and list an app's config vars",
        description="Config vars reach the buildpacks (as ENV_DIR files) and every process of the app. "
        "They take effect at the next build, run or start; set and unset also restart the processes of "
        "a running `pybuildpack start` of the app (web without downtime), as Heroku does.",
    )
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    setter = actions.add_parser("set", help="set KEY=VALUE pairs")
    setter.add_argument("app", metavar="APP")
    setter.add_argument("pairs", nargs="+", metavar="KEY=VALUE")
    getter = actions.add_parser("get", help="print one value")
    getter.add_argument("app", metavar="APP")
    getter.add_argument("key", metavar="KEY")
    unsetter = actions.add_parser("unset", help="remove vars")
    unsetter.add_argument("app", metavar="APP")
    unsetter.add_argument("keys", nargs="+", metavar="KEY")
    lister = actions.add_parser("list", help="print every var as KEY=VALUE (shell-quoted)")
    lister.add_argument("app", metavar="APP")
    lister.add_argument("--names", action="store_true", help="names only, no values")
    for action in (setter, getter, unsetter, lister):
        add_state_option(action)
    parser.set_defaults(func=main)


def main(args: argparse.Namespace) -> int:
    try:
        return _run(args)
    except BuildError as error:
        Console().error(error)
        return 1


def _run(args: argparse.Namespace) -> int:
    # set may come before the first build (config the build needs); the others need an existing app
    state = (
        app_state(args.app, args.state_dir) if args.action == "set" else known_app(args.app, args.state_dir)
    )
    config = config_store.load(state)
    if args.action == "set":
        new = config_store.parse_pairs(args.pairs, "config set")
        config.update(new)
        config_store.save(state, config)
        print(f"Set {', '.join(new)} for {state.name}.")
        supervisor.notify_restart(state, Console())
    elif args.action == "unset":
        missing = [key for key in args.keys if config.pop(key, None) is None]
        config_store.save(state, config)
        removed = [key for key in args.keys if key not in missing]
        if removed:
            print(f"Unset {', '.join(removed)} for {state.name}.")
        if missing:
            print(f"{state.name} had no config var {', '.join(missing)}; nothing to unset.")
        if removed:
            supervisor.notify_restart(state, Console())
    elif args.action == "get":
        if args.key not in config:
            raise PlatformError(
                f"The app {state.name} has no config var {quoted(args.key)}.",
                fix=f"List them with: pybuildpack config list {state.name}",
            )
        print(config[args.key])
    else:
        for key in sorted(config):
            print(key if args.names else f"{key}={shlex.quote(config[key])}")
    return 0
