#!/usr/bin/env bash
# On a machine with an NVIDIA GPU: correctness (GPU vs CPU fp32 per shipped model), then the bench
# with the GPU path (CPPN at screen resolution: effects at 1080 px), then a short table last.
#   scripts/gpu_check.sh [--seconds N]       (PYTHON=... to use another interpreter)
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-.venv/bin/python}"
OUT="${OUT:-.}"
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || echo "nvidia-smi not found"
"$PY" -c "import torch; assert torch.cuda.is_available(), 'torch sees no CUDA device'; print('torch', torch.__version__, 'cuda', torch.version.cuda, torch.cuda.get_device_name(0))"

echo "== correctness: GPU vs CPU fp32 =="
status=0
"$PY" -m installation.bench.gpu_check || status=$?

echo "== benchmark (GPU path) =="
"$PY" -m installation.bench --json "$OUT/bench-gpu.json" --fps 240 \
    --set generator.device='"cuda"' --set display.effects_height=1080 "$@"

echo "== summary (H200 targets: every model >= 500 frames/s, CPPN 1920x1080 >= 120 fps, latency p95 <= 20 ms) =="
"$PY" - "$OUT/bench-gpu.json" <<'PYEOF'
import json, sys
r = json.load(open(sys.argv[1]))
print(f"{'what':36s} {'value':>10s} {'target':>8s}  met")
for name, g in r["generators"].items():
    fps = g.get("fps", 0.0)
    print(f"{name + ' frames/s (' + g.get('precision', '?') + ')':36s} {fps:10.1f} {'>= 500':>8s}  {'yes' if fps >= 500 else 'NO'}")
cppn = r["cppn_resolutions"].get("1920x1080", {}).get("fps", 0.0)
print(f"{'CPPN 1920x1080 fps':36s} {cppn:10.1f} {'>= 120':>8s}  {'yes' if cppn >= 120 else 'NO'}")
lat = r["ours"]["latency_p95_ms"]
print(f"{'loop latency p95 ms':36s} {lat:10.1f} {'<= 20':>8s}  {'yes' if lat <= 20 else 'NO'}")
print(f"{'display fps (ours / synchronous)':36s} {r['ours']['display_fps']:10.1f} {r['ratio_fps']:>7.2f}x")
PYEOF
exit $status
