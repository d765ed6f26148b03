#!/usr/bin/env bash
# A newcomer's first `make plan`, timed: a fresh clone of this checkout's HEAD, empty uv and
# pip caches, once with uv (bootstrapped from PyPI unless on PATH) and once with pip alone
# (UV=none). Needs the network to PyPI; writes nothing outside a temporary folder.
# Usage: bench/cold_setup.sh   (or `make cold-setup`)
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for installer in uv pip; do
  clone="$work/$installer"
  git clone --quiet "$repo" "$clone"
  uv_choice=$([ "$installer" = pip ] && echo none || echo "${UV:-}")
  start=$(date +%s.%N)
  if ! (cd "$clone" && UV="$uv_choice" UV_CACHE_DIR="$work/uv-cache-$installer" \
        PIP_NO_CACHE_DIR=1 make plan >"$work/$installer.log" 2>&1); then
    echo "make plan with $installer failed:" >&2
    cat "$work/$installer.log" >&2
    exit 1
  fi
  end=$(date +%s.%N)
  printf 'cold make plan with %-3s: %5.1f s (%s MB in .venv)\n' "$installer" \
    "$(echo "$end - $start" | bc)" "$(du -sm "$clone/.venv" | cut -f1)"
done
