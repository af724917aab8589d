#!/usr/bin/env bash
# Set up Reverie on Debian/Ubuntu: system libraries (where we may install them), .venv, Python packages.
# Usage: scripts/setup.sh [--test]   (--test adds what the test suite needs: Xvfb, PulseAudio, ...)
# Safe to run again: it installs only what is missing or changed.
set -euo pipefail
cd "$(dirname "$0")/.."

want_test=0
[ "${1:-}" = "--test" ] && want_test=1

say() { printf 'reverie setup: %s\n' "$*" >&2; }

# ---- system packages -------------------------------------------------------------------------
pkgs=(libportaudio2)  # sounddevice's PortAudio; without it the show runs with no microphone
if [ "$want_test" = 1 ]; then
  pkgs+=(xvfb openbox x11-utils xdotool imagemagick pulseaudio pulseaudio-utils libasound2-plugins jackd2
         fonts-arphic-ukai fonts-cwtex-kai fonts-lxgw-wenkai fonts-arphic-uming)  # calligraphy data tests
  pkgs+=(chromium chromium-driver)  # the web panel's browser tests (Debian's chromium; nothing downloaded)
fi
if command -v dpkg-query >/dev/null 2>&1; then
  missing=()
  for p in "${pkgs[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ]; then sudo=""; elif sudo -n true 2>/dev/null; then sudo="sudo -n"; else sudo="none"; fi
    if [ "$sudo" = none ]; then
      say "missing system packages: ${missing[*]}"
      say "install them with:  sudo apt-get install -y ${missing[*]}"
      say "going on without them (no microphone without libportaudio2; system tests will skip)"
    else
      say "installing system packages: ${missing[*]}"
      $sudo apt-get update -qq || say "apt-get update failed; trying the install anyway"
      DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || say "could not install ${missing[*]}; run: sudo apt-get install -y ${missing[*]}"
    fi
  fi
else
  say "not a Debian/Ubuntu system: install PortAudio yourself (see README: Windows and macOS)"
fi

# ---- Python ----------------------------------------------------------------------------------
py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  say "Python 3.11 or newer is needed (found: $("$py" --version 2>&1)); set PYTHON=/path/to/python3.11"
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  say "creating .venv"
  "$py" -m venv .venv
fi
reqs=requirements.txt
[ "$want_test" = 1 ] && reqs=requirements-dev.txt
stamp=".venv/.reverie-$(basename "$reqs" .txt)"
digest=$(cat requirements*.txt | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
  say "installing Python packages from $reqs"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$reqs" 2>&1 | grep -v "^WARNING: Location" || true
  .venv/bin/python -c 'import torch, pygame, cv2, numpy, safetensors, imageio_ffmpeg, aiohttp' \
    || { say "Python packages failed to install (see above)"; exit 1; }
  echo "$digest" > "$stamp"
fi
# Optional video-out extras (NDI, virtual camera): the show runs without them and says so.
extras_stamp=.venv/.reverie-extras
if [ "$want_test" = 0 ] && [ "$(cat "$extras_stamp" 2>/dev/null)" != "$digest" ]; then
  if .venv/bin/python -m pip install -q --disable-pip-version-check -r requirements-extras.txt 2>/dev/null; then
    echo "$digest" > "$extras_stamp"
  else
    say "optional video-out extras (NDI, virtual camera) not installed; video_out stays off (docs/video-out.md)"
  fi
fi
