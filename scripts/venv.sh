#!/usr/bin/env bash
# Create or update .venv (Python 3.10) from the committed lock file, then install this project
# into it (editable, so TFX finds `components.trainer.module.run_fn` etc. by module path).
#
#   scripts/venv.sh            create or update .venv
#   scripts/venv.sh --lock     re-resolve requirements.lock from pyproject.toml first
#
# Python 3.10 is searched in this order: $PYTHON310, `python3.10` on PATH (if it really is
# 3.10), pyenv's versions folder, uv's managed Pythons (downloaded when the machine is online).
set -euo pipefail

cd "$(dirname "$0")/.."
VENV=.venv
LOCK=requirements.lock
UV_VERSION=0.13.9

die() { printf 'error: %s\n' "$*" >&2; exit 1; }
step() { printf '==> %s\n' "$*"; }

find_uv() {
  if command -v uv >/dev/null 2>&1; then command -v uv; return; fi
  if [ -x .tools/bin/uv ]; then echo .tools/bin/uv; return; fi
  command -v python3 >/dev/null 2>&1 || die "neither uv nor python3 found: install uv (pip install uv)."
  step "installing uv $UV_VERSION into .tools/" >&2
  python3 -m venv .tools >&2 && .tools/bin/python -m pip install -q "uv==$UV_VERSION" >&2 \
    || die "could not install uv; install it yourself (pip install uv) and run again."
  echo .tools/bin/uv
}

is_py310() { [ -n "$1" ] && "$1" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 10))' 2>/dev/null; }

find_python310() {
  local candidate
  for candidate in "${PYTHON310:-}" "$(command -v python3.10 2>/dev/null || true)"; do
    if is_py310 "$candidate"; then echo "$candidate"; return; fi
  done
  if command -v pyenv >/dev/null 2>&1; then
    for candidate in $(ls -d "$(pyenv root)"/versions/3.10.*/bin/python 2>/dev/null | sort -rV); do
      if is_py310 "$candidate"; then echo "$candidate"; return; fi
    done
  fi
  candidate=$("$UV" python find --no-python-downloads 3.10 2>/dev/null || true)
  if is_py310 "$candidate"; then echo "$candidate"; return; fi
  step "no local Python 3.10; asking uv to download one" >&2
  if "$UV" python install 3.10 >&2 2>/dev/null; then
    candidate=$("$UV" python find 3.10 2>/dev/null || true)
    if is_py310 "$candidate"; then echo "$candidate"; return; fi
  fi
  die "Python 3.10 is required (TFX 1.16 supports 3.9-3.10) and none was found.
  Install one (pyenv install 3.10.13, or 'uv python install 3.10' on a machine with network),
  or point PYTHON310 at its interpreter: PYTHON310=/path/to/python3.10 make venv"
}

UV=$(find_uv)
PY=$(find_python310)

if [ "${1:-}" = "--lock" ]; then
  step "resolving $LOCK (Linux x86_64, Python 3.10)"
  "$UV" pip compile pyproject.toml --extra dev --python "$PY" --python-version 3.10 \
    --python-platform x86_64-manylinux_2_28 --generate-hashes --no-header -q -o "$LOCK"
fi

if ! is_py310 "$VENV/bin/python"; then
  step "creating $VENV with $PY"
  rm -rf "$VENV"
  "$UV" venv -q --python "$PY" "$VENV"
fi
step "installing locked dependencies into $VENV (uv pip sync $LOCK)"
# --compile-bytecode: uv leaves no .pyc files by default, and with PYTHONDONTWRITEBYTECODE set
# (as on our machines) Python recompiles TensorFlow, Beam and TFX in every process: importing
# the ImageExampleGen executor took 37 s instead of 14 s, paid by every test process, pipeline
# run and Beam worker. Compiling once adds about a minute here.
"$UV" pip sync -q --compile-bytecode --python "$VENV/bin/python" "$LOCK"
"$UV" pip install -q --python "$VENV/bin/python" --no-deps -e .
touch "$VENV/.synced"
step "ready: $VENV ($("$VENV/bin/python" --version))"
