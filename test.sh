#!/usr/bin/env bash
# Set up (first time), lint and type-check, then run the whole test suite. Extra arguments go to pytest.
# The checks run every time, also with arguments: together they take seconds.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh --test

check() {  # check NAME COMMAND...: run it; on failure say which check failed and how to reproduce it
  local name=$1
  shift
  if ! "$@"; then
    echo "test.sh: $name failed; reproduce with: $*" >&2
    exit 1
  fi
}
check "lint (ruff check)" .venv/bin/ruff check --quiet .
check "format (ruff format --check)" .venv/bin/ruff format --check --quiet .
check "types (mypy)" .venv/bin/mypy
exec .venv/bin/python -m pytest "$@"
