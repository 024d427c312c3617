"""`pybuildpack runtime pack|list` (placeholder until the runtime package lands)."""

from __future__ import annotations

import argparse
from typing import Any


def register(sub: Any) -> None:
    parser: argparse.ArgumentParser = sub.add_parser("runtime", help="pack and list CPython runtimes")
    parser.set_defaults(func=lambda _args: 2)
