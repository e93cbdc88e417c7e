#!/usr/bin/env bash
# Runs the Python client tests (tests/python): the Evidently emulator driven by boto3/botocore
# 1.42.50, as a Python user would drive it.
#
# * Creates (or reuses) a virtualenv outside the repository, keyed by the sha256 of
#   tests/python/requirements.txt: ${LAUNCH_OPERATOR_CACHE:-$HOME/.cache/launch-operator}/venv-<sha>.
#   A changed requirements file gets a new venv; a half-built venv is never reused.
# * Builds the emulator binary (`cargo build --bin launch-operator --locked`) unless
#   LAUNCH_OPERATOR_BIN names one already built.
# * Runs `pytest -q tests/python` (extra arguments are passed to pytest). pytest's exit code 5
#   (no tests collected) is a failure.
#
# Needs python3 (>= 3.9, with the venv module) and access to PyPI (or a pip mirror/wheelhouse
# configured through pip's usual settings).
set -euo pipefail
cd "$(dirname "$0")/.."

requirements=tests/python/requirements.txt
python="${PYTHON:-python3}"

if ! command -v "$python" >/dev/null 2>&1; then
  echo "error: $python not found. Install Python 3 (>= 3.9) with its venv module," >&2
  echo "       e.g. 'apt-get install python3 python3-venv', or set PYTHON=/path/to/python3." >&2
  exit 1
fi
if ! "$python" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 9) else 1)' 2>/dev/null; then
  echo "error: $("$python" --version 2>&1) is too old or lacks the venv module;" >&2
  echo "       Python >= 3.9 with venv is needed (e.g. 'apt-get install python3-venv')." >&2
  exit 1
fi

req_hash="$(sha256sum "$requirements" | cut -d' ' -f1)"
cache="${LAUNCH_OPERATOR_CACHE:-$HOME/.cache/launch-operator}"
venv="$cache/venv-$req_hash"

if [ ! -f "$venv/.complete" ]; then
  echo "==> creating the Python test venv $venv"
  rm -rf "$venv"
  mkdir -p "$cache"
  if ! "$python" -m venv "$venv"; then
    echo "error: '$python -m venv' failed; install the venv module (e.g. 'apt-get install python3-venv')." >&2
    rm -rf "$venv"
    exit 1
  fi
  if ! "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --requirement "$requirements"; then
    echo "error: pip could not install $requirements into $venv." >&2
    echo "       It needs PyPI (or a mirror set with PIP_INDEX_URL / pip.conf). Fix the access and" >&2
    echo "       rerun tools/python-tests.sh; the partial venv has been removed." >&2
    rm -rf "$venv"
    exit 1
  fi
  touch "$venv/.complete"
else
  echo "==> reusing the Python test venv $venv"
fi

if [ -z "${LAUNCH_OPERATOR_BIN:-}" ]; then
  echo "==> cargo build --bin launch-operator --locked"
  cargo build --bin launch-operator --locked
  # Where cargo put it: CARGO_TARGET_DIR, a `build.target-dir` in a cargo config, or target/.
  target_dir=$(cargo metadata --format-version 1 --no-deps --locked |
    python3 -c 'import json, sys; print(json.load(sys.stdin)["target_directory"])')
  LAUNCH_OPERATOR_BIN="$target_dir/debug/launch-operator"
elif [ ! -x "$LAUNCH_OPERATOR_BIN" ]; then
  echo "error: LAUNCH_OPERATOR_BIN=$LAUNCH_OPERATOR_BIN is not an executable file." >&2
  echo "       Build it with 'cargo build --bin launch-operator', or unset LAUNCH_OPERATOR_BIN." >&2
  exit 1
fi
export LAUNCH_OPERATOR_BIN

echo "==> pytest tests/python (emulator: $LAUNCH_OPERATOR_BIN)"
status=0
# -p no:cacheprovider and no bytecode: leave no .pytest_cache or __pycache__ in the work tree.
export PYTHONDONTWRITEBYTECODE=1
"$venv/bin/python" -m pytest -q -p no:cacheprovider tests/python "$@" || status=$?
if [ "$status" -eq 5 ]; then
  echo "error: pytest collected no tests in tests/python" >&2
  exit 1
fi
exit "$status"
