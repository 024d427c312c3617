# Sourced by the bin/* shims: find a python3 >= 3.11 to run the build engine with, then exec it.
# POSIX sh. PYBUILDPACK_HOST_PYTHON, when set, is the only interpreter tried.
#
# Two APIs share bin/detect: the CNB lifecycle runs it with no arguments and CNB_* variables set;
# classic platforms pass BUILD_DIR. bin/build is CNB only. The CNB buildpack dir is read-only, so the
# engine runs with -B there (no __pycache__).
#
# Where no python3 >= 3.11 exists (Ubuntu 22.04 build images, Heroku-22, builders without Python),
# bin/compile, bin/test-compile and bin/build fetch a CPython >= 3.11 named by the runtime manifest in
# use, check its sha256 with sha256sum, unpack it with tar into the cache (CACHE_DIR, or a cache-only
# layer "engine" in CNB) and run the engine with it; the next build reuses it.

pybuildpack_launch() {
  face=$1
  shift
  here=$(cd "$(dirname "$0")/.." && pwd -P)
  module=pybuildpack.classic
  flags="-I -S"
  if [ "$face" = build ] || { [ "$face" = detect ] && [ "$#" -eq 0 ] && [ -n "${CNB_BUILD_PLAN_PATH:-}" ]; }; then
    module=pybuildpack.cnb
    flags="-I -S -B"
  fi
  if [ -n "${PYBUILDPACK_HOST_PYTHON:-}" ]; then
    wanted="PYBUILDPACK_HOST_PYTHON=$PYBUILDPACK_HOST_PYTHON"
    candidates=$PYBUILDPACK_HOST_PYTHON
  else
    wanted="python3.14 python3.13 python3.12 python3.11 python3 on PATH, /usr/local/bin/python3, /usr/bin/python3"
    candidates=$(pybuildpack_candidates)
  fi
  for candidate in $candidates; do
    if pybuildpack_is_new_enough "$candidate"; then
      pybuildpack_exec "$candidate" "$face" "$@"
    fi
  done
  if [ -z "${PYBUILDPACK_HOST_PYTHON:-}" ]; then
    pybuildpack_without_python "$face" "$@"
  fi
  pybuildpack_fail "Error: pybuildpack needs Python 3.11 or newer on the build machine to run." \
    "Looked for: $wanted." \
    "None of them was found, or each was older than 3.11." \
    "" \
    "Install python3 (3.11+) on the build host, or set PYBUILDPACK_HOST_PYTHON to its path."
}

pybuildpack_is_new_enough() {
  "$1" -I -S -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)' 2>/dev/null
}

pybuildpack_exec() {
  python=$1
  shift
  # shellcheck disable=SC2086 # flags is a list of options
  exec "$python" $flags -c "import sys; sys.path.insert(0, sys.argv.pop(1)); from $module import main; raise SystemExit(main())" "$here/src" "$@"
}

pybuildpack_fail() {
  {
    echo
    for line in "$@"; do
      echo " !     $line"
    done
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

# No host Python: each face does what it can without one.
pybuildpack_without_python() {
  face=$1
  shift
  case "$face" in
    compile | test-compile)
      [ "$#" -ge 3 ] || return 0
      mkdir -p "$2" || return 0
      pybuildpack_bootstrap "$2/pybuildpack-engine" "$1" "$3"
      ;;
    build)
      layer="${CNB_LAYERS_DIR:?CNB_LAYERS_DIR is not set}/engine"
      printf '[types]\ncache = true\n\n[metadata]\nformat = 1\n' >"$layer.toml"
      pybuildpack_bootstrap "$layer" "$(pwd -P)" "${CNB_PLATFORM_DIR:-/platform}/env"
      ;;
    detect)
      pybuildpack_detect_sh "$@"
      ;;
    *)
      return 0
      ;;
  esac
  pybuildpack_exec "$engine_python" "$face" "$@"
}

# detect without Python: the same file list as app.DETECT_FILES (a test keeps them equal).
PYBUILDPACK_DETECT_FILES=".python-version __init__.py app.py main.py manage.py pdm.lock Pipfile Pipfile.lock poetry.lock pyproject.toml requirements.txt runtime.txt server.py setup.cfg setup.py uv.lock requeriments.txt requirement.txt requirements requirements.text Requirements.txt requirements.txt.txt requirments.txt __pycache__ .venv venv"

pybuildpack_detect_sh() {
  if [ "$module" = pybuildpack.cnb ]; then
    app=$(pwd -P)
  else
    app=${1:?usage: bin/detect BUILD_DIR}
  fi
  for name in $PYBUILDPACK_DETECT_FILES; do
    if [ -e "$app/$name" ]; then
      if [ "$module" = pybuildpack.cnb ]; then
        printf '[[provides]]\nname = "python"\n\n[[requires]]\nname = "python"\n' >"$CNB_BUILD_PLAN_PATH"
      fi
      echo Python
      exit 0
    fi
  done
  echo "No Python app files were found at the root of the app (looked for: $PYBUILDPACK_DETECT_FILES)."
  if [ "$module" = pybuildpack.cnb ]; then
    exit 100
  fi
  exit 1
}

# The config var wins over the operator's environment, as in the engine (settings.py).
pybuildpack_setting() {
  if [ -n "$2" ] && [ -f "$2/$1" ]; then
    cat "$2/$1"
  else
    eval "printf '%s' \"\${$1:-}\""
  fi
}

pybuildpack_bootstrap() {
  store=$1
  app_dir=$2
  env_dir=$3
  manifest=$(pybuildpack_setting PYBUILDPACK_RUNTIME_MANIFEST "$env_dir")
  [ -n "$manifest" ] || manifest="$here/src/pybuildpack/data/runtime-manifest.json"
  case "$manifest" in
    http://* | https://* | file://* | /*) ;;
    *) manifest="$app_dir/$manifest" ;;
  esac
  manifest_text=$(pybuildpack_fetch_text "$manifest") || pybuildpack_fail \
    "Error: no Python 3.11+ on this machine, and the runtime manifest could not be read." \
    "Manifest: $(pybuildpack_masked "$manifest")" \
    "" \
    "Install python3 (3.11+) on the build host, or point PYBUILDPACK_RUNTIME_MANIFEST at a reachable manifest."
  choice=$(printf '%s' "$manifest_text" | pybuildpack_pick_runtime)
  if [ -z "$choice" ]; then
    pybuildpack_fail "Error: no Python 3.11+ on this machine, and the runtime manifest offers none for it." \
      "Manifest: $(pybuildpack_masked "$manifest")" \
      "Wanted: a cpython entry >= 3.11 for $(pybuildpack_platforms | tr '\n' ' ')" \
      "" \
      "Install python3 (3.11+) on the build host, or add such a runtime to the manifest."
  fi
  # shellcheck disable=SC2086 # version sha256 layout url, none with spaces
  set -- $choice
  version=$1 sha=$2 layout=$3 url=$4
  case "$url" in
    http://* | https://* | file://* | /*) ;;
    *) url="${manifest%/*}/$url" ;;
  esac
  target="$store/$sha"
  if [ ! -f "$target/.complete" ]; then
    pybuildpack_install_engine "$target" "$url" "$sha" "$version"
  fi
  if [ "$layout" = python-dir ]; then
    engine_python="$target/python/bin/python3"
  else
    engine_python="$target/bin/python3"
  fi
  pybuildpack_is_new_enough "$engine_python" || pybuildpack_fail \
    "Error: the Python $version fetched to run pybuildpack does not start." \
    "Archive: $(pybuildpack_masked "$url") (layout $layout)" \
    "" \
    "Check the manifest entry's layout, or install python3 (3.11+) on the build host."
  echo "-----> Running pybuildpack with Python $version from the runtime manifest (no python3 >= 3.11 here)"
}

pybuildpack_install_engine() {
  target=$1 url=$2 sha=$3 version=$4
  command -v sha256sum >/dev/null 2>&1 || pybuildpack_fail \
    "Error: no Python 3.11+ on this machine, and no sha256sum to verify one with." \
    "" "Install coreutils, or python3 (3.11+), on the build host."
  mkdir -p "$(dirname "$target")"
  staging=$(mktemp -d "$target.tmp.XXXXXX") || exit 1
  archive="$staging/archive"
  if ! pybuildpack_fetch_file "$url" "$archive"; then
    rm -rf "$staging"
    pybuildpack_fail "Error: could not download Python $version to run pybuildpack with." \
      "Manifest: $(pybuildpack_masked "$manifest")" \
      "URL: $(pybuildpack_masked "$url")" \
      "" \
      "Check that the mirror is reachable, or install python3 (3.11+) on the build host."
  fi
  actual=$(sha256sum "$archive" | cut -d' ' -f1)
  if [ "$actual" != "$sha" ]; then
    rm -rf "$staging"
    pybuildpack_fail "Error: the Python $version archive failed its sha256 check; it was not used." \
      "Manifest: $(pybuildpack_masked "$manifest")" \
      "URL: $(pybuildpack_masked "$url")" \
      "Expected sha256: $sha" \
      "Actual sha256:   $actual" \
      "" \
      "Fix the manifest entry or the archive in the mirror."
  fi
  mkdir "$staging/tree"
  if ! tar -xf "$archive" -C "$staging/tree" --no-same-owner 2>"$staging/tar.log"; then
    detail=$(head -c 400 "$staging/tar.log")
    rm -rf "$staging"
    pybuildpack_fail "Error: the Python $version archive could not be unpacked." \
      "URL: $(pybuildpack_masked "$url")" "tar: $detail" "" "Check the archive in the mirror."
  fi
  rm -f "$archive" "$staging/tar.log"
  rm -rf "$target"
  mv "$staging/tree" "$target" && rm -rf "$staging" && : >"$target/.complete"
}

pybuildpack_masked() {
  printf '%s' "$1" | sed 's#^\([a-z]*://\)[^/@]*@#\1****@#'
}

pybuildpack_fetch_text() {
  case "$1" in
    file://*) cat "${1#file://}" ;;
    http://* | https://*) pybuildpack_http "$1" - ;;
    *) cat "$1" ;;
  esac
}

pybuildpack_fetch_file() {
  case "$1" in
    file://*) cp "${1#file://}" "$2" ;;
    http://* | https://*) pybuildpack_http "$1" "$2" ;;
    *) cp "$1" "$2" ;;
  esac
}

pybuildpack_http() {
  if command -v curl >/dev/null 2>&1; then
    curl -fsSL --retry 3 --connect-timeout 10 --max-time 600 -o "$2" "$1"
  elif command -v wget >/dev/null 2>&1; then
    wget -q -T 60 -t 3 -O "$2" "$1"
  else
    echo " !     Neither curl nor wget is installed to download with." >&2
    return 1
  fi
}

# The platform tags this machine can run (as runtime/platform.py computes them).
pybuildpack_platforms() {
  arch=$(uname -m)
  [ "$arch" = arm64 ] && arch=aarch64
  id="" version_id=""
  if [ -r /etc/os-release ]; then
    id=$(sed -n 's/^ID=//p' /etc/os-release | tr -d '"')
    version_id=$(sed -n 's/^VERSION_ID=//p' /etc/os-release | tr -d '"')
  fi
  [ -n "$id" ] && printf '%s\n' "$id-$version_id-$arch"
  printf '%s\n' "linux-$arch-gnu"
}

# Read a manifest (JSON, schema 1) on stdin; print "version sha256 layout url" of the newest
# cpython >= 3.11 for this machine. Values are plain (no escaped quotes), as manifests hold them.
pybuildpack_pick_runtime() {
  platforms=$(pybuildpack_platforms | tr '\n' ' ')
  tr -d '\n\r' | sed 's/}/}\n/g' | while IFS= read -r entry; do
    implementation=$(pybuildpack_field implementation "$entry")
    version=$(pybuildpack_field version "$entry")
    platform=$(pybuildpack_field platform "$entry")
    [ "$implementation" = cpython ] || continue
    case " $platforms " in *" $platform "*) ;; *) continue ;; esac
    case "$version" in 3.1[1-9].* | 3.[2-9][0-9].*) ;; *) continue ;; esac
    printf '%s %s %s %s\n' "$version" "$(pybuildpack_field sha256 "$entry")" \
      "$(pybuildpack_field layout "$entry")" "$(pybuildpack_field url "$entry")"
  done | sort -t. -k1,1n -k2,2n -k3,3n | tail -n 1
}

pybuildpack_field() {
  printf '%s' "$2" | sed -n "s/.*\"$1\"[[:space:]]*:[[:space:]]*\"\\([^\"]*\\)\".*/\\1/p"
}
