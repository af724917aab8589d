#!/usr/bin/env bash
# Set up (first time) and start the show fullscreen. Extra arguments go to main.py.
set -euo pipefail
cd "$(dirname "$0")"
scripts/setup.sh
# glibc keeps freed heap in per-thread arenas; a model swap (new loader thread) then steps RSS up for
# good. --supervise sets these for its show; an unsupervised show gets them here (read at start-up).
export MALLOC_ARENA_MAX="${MALLOC_ARENA_MAX:-2}" MALLOC_MMAP_THRESHOLD_="${MALLOC_MMAP_THRESHOLD_:-4194304}"
exec .venv/bin/python main.py "$@"
