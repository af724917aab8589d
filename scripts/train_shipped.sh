#!/usr/bin/env bash
# The training runs behind assets/models (after scripts/prepare_data.sh), in order, one at a time.
# Budgets are training minutes on a shared 2-core CPU (see each card for the steps reached).
# Usage: scripts/train_shipped.sh [vae|cppn|baseline|gan-mnist|sagan|sr|calligraphy ...]   (baseline = seed + gan-mnist)   (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="nice -n 15 ${PYTHON:-.venv/bin/python}"
STEPS=${*:-vae cppn baseline sagan sr calligraphy}
for what in $STEPS; do
  case $what in
    vae)  # conv VAE on 32 px emoji; its encoder drives mirror mode
      mkdir -p runs/vae-emoji
      $PY -m models.train --arch vae --data data/emoji32 --out runs/vae-emoji \
          --set steps=30000 --set minutes=45 --set sample_every=300 ;;
    cppn)  # CPPN decoder of the VAE's (whitened) latents: renders emoji-ish shapes at any size
      mkdir -p runs/cppn-emoji
      $PY -m models.train --arch cppn --data data/emoji32 --out runs/cppn-emoji \
          --set teacher=runs/vae-emoji/model.safetensors --set hidden=64 --set init_gain=1.0 \
          --set coord_scale=1.5 --set img_resolution=128 --set batch_size=32 --set train_res=32 --set shift=0 \
          --set steps=30000 --set minutes=10 --set sample_every=200 ;;
    baseline)  # same data, same training minutes: the seed essay's DCGAN vs our GAN
      mkdir -p runs/seed-mnist runs/gan-mnist
      $PY -m models.train --arch seed-dcgan --data data/mnist28 --out runs/seed-mnist \
          --set steps=1000000 --set minutes=4 --set sample_every=2000 --set flip=false --set shift=0 ;&
    gan-mnist)
      mkdir -p runs/gan-mnist
      $PY -m models.train --arch gan --data data/mnist28 --out runs/gan-mnist \
          --set steps=100000 --set minutes=4 --set sample_every=100 --set flip=false --set shift=0 ;;
    sagan)  # SAGAN (self-attention at 16x16) on 32 px emoji
      mkdir -p runs/sagan-emoji
      $PY -m models.train --arch sagan --data data/emoji32 --out runs/sagan-emoji \
          --set g_width=24 --set d_width=24 --set steps=100000 --set minutes=35 --set sample_every=200 ;;
    sr)  # x4 super-resolution post-processor (sr-emoji): 128 px emoji targets, 1 thread, ~15 CPU minutes
      $PY -m models.train_superres --data data/emoji128 --out runs/sr-emoji \
          --set width=48 --set depth=6 --set steps=20000 --set minutes=30
      $PY -m models.superres_eval --sr runs/sr-emoji/model.safetensors --out runs/sr-emoji/eval --ship sr-emoji ;;
    calligraphy)  # field SAGAN + field VAE on 64 px kai distance fields (no flips: strokes have a direction)
      mkdir -p runs/sagan-calli64 runs/vae-calli64
      $PY -m models.train --arch sagan --data data/calli64 --out runs/sagan-calli64 --threads 1 \
          --set img_channels=1 --set flip=false --set g_width=16 --set max_width=128 --set d_width=16 \
          --set batch_size=32 --set steps=200000 --set minutes=90 --set sample_every=500 --set ckpt_minutes=4 &
      $PY -m models.train --arch vae --data data/calli64 --out runs/vae-calli64 --threads 1 \
          --set img_channels=1 --set flip=false --set width=16 --set max_width=128 --set z_dim=48 \
          --set batch_size=32 --set steps=200000 --set minutes=90 --set sample_every=500 --set ckpt_minutes=4
      wait ;;
    *) echo "unknown run $what" >&2; exit 2 ;;
  esac
done
