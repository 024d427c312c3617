from __future__ import annotations

from pybuildpack.cli.main import main

raise SystemExit(main())
