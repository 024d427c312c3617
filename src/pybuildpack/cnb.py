"""The Cloud Native Buildpacks face (Buildpack API 0.10): ``bin/detect`` and ``bin/build``.

A thin face: it turns the lifecycle's inputs (the app dir as the working directory, ``CNB_*``
variables, config vars in ``$CNB_PLATFORM_DIR/env``) into a CNB layout and a build context, runs the
engine (engine.py), and turns the result into what the lifecycle reads: ``<layer>.toml`` files, layer
env files, an exec.d program for WEB_CONCURRENCY, ``launch.toml`` and a CycloneDX SBOM.
"""

from __future__ import annotations

import os
import re
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from pybuildpack import app, cache, cnb_layers, engine, layout, procfile, sbom, toml_write
from pybuildpack.context import BuildContext
from pybuildpack.package_managers import registry
from pybuildpack.package_managers.spec import EnvVar
from pybuildpack.steps import profile

DETECT_PASS = 0
DETECT_FAIL = 100
PLAN = {"provides": [{"name": "python"}], "requires": [{"name": "python"}]}
DEFAULT_PORT = "8080"  # when the platform sets no PORT (Knative's default)
_SHELL_SYNTAX = re.compile(r"[;&|<>()`\n]|\$\(")


class CnbFace:
    """Layers instead of BUILD_DIR/.heroku and CACHE_DIR; env files instead of .profile.d."""

    def __init__(self, layers_dir: Path, wanted: Mapping[str, str]) -> None:
        self.layers_dir = layers_dir
        self.wanted = dict(wanted)

    def check_before_hooks(self, ctx: BuildContext) -> None:
        cnb_layers.check_restored(self.layers_dir, self.wanted, ctx.console)

    def check_app(self, ctx: BuildContext) -> None:
        return None

    def env_store(self, ctx: BuildContext) -> cache.EnvStore:
        return cnb_layers.LayerEnvStore(self.layers_dir, self.wanted)

    def declare(self, ctx: BuildContext, plan: engine.Plan) -> None:
        """What the lifecycle exports: every used layer's types, the processes and the SBOM."""
        processes = procfile.read_procfile(ctx.build_dir)
        if plan.web is not None:
            processes = {"web": plan.web, **processes}
        used, dropped = cnb_layers.write_used_layers(self.layers_dir, self.wanted, _foreign_layers(plan))
        if dropped:
            shown = ", ".join(dropped)
            ctx.console.step(f"Removing layers of package managers this app no longer uses: {shown}")
        ctx.console.step(f"Layers: python (launch), {', '.join(used) or 'no others'}")
        sbom.write_cyclonedx(ctx.python_home, self.layers_dir / "python.sbom.cdx.json")
        launch = self.layers_dir / "launch.toml"
        launch.write_text(toml_write.dumps(launch_toml(processes)), encoding="utf-8")
        if processes:  # without a web process, the engine's default-web step has said what to add
            names = [f"{kind} (default)" if kind == "web" else kind for kind in processes]
            ctx.console.step(f"Process types: {', '.join(names)}")

    def write_runtime_env(self, ctx: BuildContext, plan: engine.Plan) -> None:
        spec = registry.spec(plan.manager.name)
        where = ctx.layout
        both = [var for var in profile.shared_env(nltk=plan.nltk) if not _set_by_lifecycle(var)]
        launch = [
            *spec.runtime_env,
            EnvVar("FORWARDED_ALLOW_IPS", "*"),
            EnvVar("GUNICORN_CMD_ARGS", "--access-logfile -", "default"),
            EnvVar("PORT", DEFAULT_PORT, "default"),
        ]
        cnb_layers.env_files(where.python_home, "env", both, where)
        cnb_layers.env_files(where.python_home, "env.launch", launch, where)
        cnb_layers.env_files(where.python_home, "env.build", list(spec.build_env(where)), where)
        exec_d = where.python_home / "exec.d"
        exec_d.mkdir(exist_ok=True)
        program = exec_d / "web-concurrency"
        program.write_text(WEB_CONCURRENCY_EXEC_D, encoding="utf-8")
        program.chmod(0o755)


def _foreign_layers(plan: engine.Plan) -> set[str]:
    """The tool layers that belong to package managers other than this build's."""
    own = set(registry.spec(plan.manager.name).own_locations)
    others = {location for spec in registry.SPECS for location in spec.own_locations} - own
    return {name for name, location in layout.CNB_LAYER_LOCATIONS.items() if location in others}


def _set_by_lifecycle(var: EnvVar) -> bool:
    """The lifecycle itself puts a layer's bin/ on PATH and lib/ on the library paths."""
    return var.action == "prepend" and var.under == "python_home" and var.value in ("bin", "lib")


# exec.d: the same WEB_CONCURRENCY rules as the classic .profile.d script, handed to the launcher
# as TOML on file descriptor 3 (CNB launchers source no shell profile).
WEB_CONCURRENCY_EXEC_D = (
    "#!/bin/sh\n"
    + profile.WEB_CONCURRENCY_SH
    + """for _pybp_name in WEB_CONCURRENCY WEB_CONCURRENCY_SET_BY DYNO_RAM; do
    eval "_pybp_value=\\${$_pybp_name:-}"
    case "$_pybp_value" in
        "" | *[!A-Za-z0-9/._-]*) ;;
        *) printf '%s = "%s"\\n' "$_pybp_name" "$_pybp_value" >&3 ;;
    esac
done
"""
)


def detect(app_dir: Path, environ: Mapping[str, str]) -> int:
    if not app.is_python_app(app_dir):
        error = app.not_detected_error(app_dir)
        print("\n".join(error.lines()))
        return DETECT_FAIL
    plan_path = Path(environ["CNB_BUILD_PLAN_PATH"])
    plan_path.write_text(toml_write.dumps(PLAN), encoding="utf-8")
    print("Python")
    return DETECT_PASS


def build(app_dir: Path, environ: Mapping[str, str]) -> int:
    layers_dir = Path(environ["CNB_LAYERS_DIR"]).absolute()
    platform_dir = Path(environ.get("CNB_PLATFORM_DIR") or "/platform")
    where = layout.cnb(app_dir.absolute(), layers_dir)
    face = CnbFace(layers_dir, cnb_layers.target(environ))
    return engine.execute(where, platform_dir / "env", environ, face)


def launch_toml(processes: Mapping[str, str]) -> dict[str, object]:
    """One process per Procfile entry, run by ``sh -c`` so that ``$PORT`` and friends expand; a simple
    command is exec'd by the shell so that signals reach it."""
    entries: list[dict[str, object]] = []
    for kind, command in processes.items():
        script = command if _SHELL_SYNTAX.search(command) else f"exec {command}"
        entries.append({"type": kind, "command": ["sh", "-c", script], "default": kind == "web"})
    return {"processes": entries} if entries else {}


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args not in (["detect"], ["build"]):
        print("usage: bin/detect | bin/build, run by a CNB lifecycle (CNB_* variables set)", file=sys.stderr)
        return 2
    environ = dict(os.environ)
    if args[0] == "detect":
        return detect(Path.cwd(), environ)
    return build(Path.cwd(), environ)  # the plan's entries carry nothing this buildpack reads


if __name__ == "__main__":
    raise SystemExit(main())
