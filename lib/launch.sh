# Sourced by the bin/* shims: find a python3 >= 3.11 to run the build engine with, then exec it.
# POSIX sh. PYBUILDPACK_HOST_PYTHON, when set, is the only interpreter tried.

pybuildpack_launch() {
  face=$1
  shift
  here=$(cd "$(dirname "$0")/.." && pwd -P)
  if [ -n "${PYBUILDPACK_HOST_PYTHON:-}" ]; then
    wanted="PYBUILDPACK_HOST_PYTHON=$PYBUILDPACK_HOST_PYTHON"
    candidates=$PYBUILDPACK_HOST_PYTHON
  else
    wanted="python3.14 python3.13 python3.12 python3.11 python3 on PATH, /usr/local/bin/python3, /usr/bin/python3"
    candidates=$(pybuildpack_candidates)
  fi
  for candidate in $candidates; do
    if "$candidate" -I -S -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null; then
      exec "$candidate" -I -S -c 'import sys; sys.path.insert(0, sys.argv.pop(1)); from pybuildpack.classic import main; raise SystemExit(main())' "$here/src" "$face" "$@"
    fi
  done
  {
    echo
    echo " !     Error: pybuildpack needs Python 3.11 or newer on the build machine to run."
    echo " !     "
    echo " !     Looked for: $wanted."
    echo " !     None of them was found, or each was older than 3.11."
    echo " !     "
    echo " !     Install python3 (3.11+) on the build host, or set PYBUILDPACK_HOST_PYTHON to its path."
    echo
  } >&2
  exit 1
}

# Every python3.X / python3 executable in every PATH directory, newest names first.
pybuildpack_candidates() {
  for name in python3.14 python3.13 python3.12 python3.11 python3; do
    old_ifs=$IFS
    IFS=:
    for dir in ${PATH:-/usr/local/bin:/usr/bin:/bin}; do
      [ -n "$dir" ] && [ -x "$dir/$name" ] && [ ! -d "$dir/$name" ] && printf '%s\n' "$dir/$name"
    done
    IFS=$old_ifs
  done
  for fallback in /usr/local/bin/python3 /usr/bin/python3; do
    [ -x "$fallback" ] && printf '%s\n' "$fallback"
  done
}
