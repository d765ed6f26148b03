#!/usr/bin/env bash
# Make .venv hold what a command needs: `scripts/venv.sh runtime` (requirements.txt, what
# `make plan` and Pulumi run) or `scripts/venv.sh dev` (requirements-dev.txt: also the test,
# lint and type-check tools). Called by the Makefile before every target that runs Python.
#
# - $PYTHON (default python3) must be 3.11 or newer; a .venv made by an older or a missing
#   interpreter is rebuilt.
# - uv installs when it is on PATH, or once bootstrapped from PyPI into build/tools/uv
#   (`pip install --target`); otherwise, or when that fails, pip does (UV=none forces pip).
# - Up to date when the stamp holds the hash of the interpreter and the requirement files:
#   nothing is installed then. A failed install removes .venv, so no half-built one sticks.
set -euo pipefail
cd "$(dirname "$0")/.."

MODE=${1:?usage: scripts/venv.sh runtime|dev}
PYTHON=${PYTHON:-python3}
VENV=.venv
UV_VERSION=0.13.9
UV_HOME=build/tools/uv
MIN_VERSION=(3 11)
case "$MODE" in
  runtime) REQUIREMENTS=requirements.txt ;;
  dev) REQUIREMENTS=requirements-dev.txt ;;
  *) echo "scripts/venv.sh: unknown mode '$MODE' (runtime or dev)" >&2; exit 2 ;;
esac

python_is_new_enough() {
  "$1" -c "import sys; sys.exit(sys.version_info[:2] < (${MIN_VERSION[0]}, ${MIN_VERSION[1]}))" \
    >/dev/null 2>&1
}

if ! command -v "$PYTHON" >/dev/null 2>&1; then
  echo "error: PYTHON=$PYTHON is not installed; Python ${MIN_VERSION[0]}.${MIN_VERSION[1]} or newer is needed (e.g. make plan PYTHON=python3.12)." >&2
  exit 2
fi
if ! python_is_new_enough "$PYTHON"; then
  found=$("$PYTHON" -c 'import platform; print(platform.python_version())' 2>/dev/null || echo unknown)
  echo "error: PYTHON=$PYTHON is Python $found; ${MIN_VERSION[0]}.${MIN_VERSION[1]} or newer is needed (e.g. make plan PYTHON=python3.12)." >&2
  exit 2
fi

if [ -e "$VENV" ] && ! python_is_new_enough "$VENV/bin/python"; then
  echo "$VENV was made by a Python older than ${MIN_VERSION[0]}.${MIN_VERSION[1]} (or is broken): rebuilding it." >&2
  rm -rf "$VENV"
fi

stamp="$VENV/.installed-$MODE"
wanted=$( { "$PYTHON" -c 'import sys; print(sys.version)'; cat pyproject.toml requirements.txt \
            requirements-dev.txt constraints.txt; } | sha256sum | cut -d' ' -f1)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$wanted" ]; then
  exit 0
fi

find_uv() {
  [ "${UV:-}" = none ] && return 1
  if [ -n "${UV:-}" ]; then echo "$UV"; return 0; fi
  if command -v uv >/dev/null 2>&1; then command -v uv; return 0; fi
  if [ ! -x "$UV_HOME/bin/uv" ]; then
    echo "Bootstrapping uv $UV_VERSION from PyPI into $UV_HOME" >&2
    rm -rf "$UV_HOME"
    mkdir -p build
    if ! "$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
         --root-user-action=ignore --target "$UV_HOME" "uv==$UV_VERSION" >build/uv-bootstrap.log 2>&1
    then
      echo "uv could not be installed (build/uv-bootstrap.log); using pip" >&2
      rm -rf "$UV_HOME"
      return 1
    fi
  fi
  echo "$UV_HOME/bin/uv"
}

install() {
  if uv=$(find_uv); then
    echo "Installing $REQUIREMENTS into $VENV with uv" >&2
    [ -x "$VENV/bin/python" ] || UV_PYTHON_DOWNLOADS=never \
      "$uv" venv --quiet --python "$(command -v "$PYTHON")" "$VENV"
    "$uv" pip install --quiet --python "$VENV/bin/python" -r "$REQUIREMENTS"
  else
    echo "Installing $REQUIREMENTS into $VENV with pip" >&2
    [ -x "$VENV/bin/python" ] || "$PYTHON" -m venv "$VENV"
    # A .venv that uv made has no pip of its own.
    "$VENV/bin/python" -m pip --version >/dev/null 2>&1 || "$VENV/bin/python" -m ensurepip -q
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -r "$REQUIREMENTS"
  fi
}

if ! install; then
  echo "error: installing $REQUIREMENTS failed; $VENV was removed, so the next run starts clean." >&2
  rm -rf "$VENV"
  exit 1
fi
echo "$wanted" > "$stamp"
if [ "$MODE" = dev ]; then
  echo "$wanted" > "$VENV/.installed-runtime"  # dev includes runtime
fi
