"""pybuildpack: a Python buildpack written in Python."""

from __future__ import annotations

__version__ = "0.2.0"
