"""GPU correctness: every shipped model on CUDA (fp32, then the automatic precision) against the CPU
in fp32, on the same latent. Prints a table; exit code 1 if any model is off or CUDA is missing."""

from __future__ import annotations

import logging
import sys

import torch

from installation.bench.generators import compare_devices
from installation.config import AccelConfig
from models.registry import list_models

MAX_REL_ERROR = 0.05  # of uint8 pictures: what fp16 may cost before a model must stay in fp32


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(levelname)-7s %(name)s: %(message)s")
    if not torch.cuda.is_available():
        print("gpu_check: no CUDA device visible to torch", torch.__version__, file=sys.stderr)
        return 1
    device = torch.device("cuda")
    print(f"\n{'model':28s} {'precision':>9s} {'rel error':>10s} {'max |diff|':>10s}  ok")
    failed = 0
    for entry in list_models():
        for precision in ("fp32", "auto"):
            row = compare_devices(entry, device, AccelConfig(precision=precision))
            ok = row["rel_error_uint8"] <= MAX_REL_ERROR
            failed += not ok
            print(
                f"{entry.name:28s} {row['precision']:>9s} {row['rel_error_uint8']:10.2e} {row['max_abs_diff']:10d}  "
                f"{'yes' if ok else 'NO'}"
            )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
