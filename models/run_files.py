"""A training run's folder: state.pt (for --resume), model.safetensors, train.json and loss.png.

One writer for both trainers (generators in models/train.py, super-resolution in
models/train_superres.py), so they save and resume the same way.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.checkpoint import save_checkpoint


def load_state(out: Path) -> dict[str, Any]:
    """out/state.pt for --resume; SystemExit when there is none."""
    state_path = out / "state.pt"
    if not state_path.is_file():
        raise SystemExit(f"{state_path}: nothing to resume")
    return torch.load(state_path, map_location="cpu", weights_only=True)  # tensors + plain data only


def save_run(
    out: Path,
    state: dict[str, Any],
    export: Callable[[], nn.Module],
    arch: str,
    extra: dict[str, str],
    summary: dict[str, Any],
) -> None:
    """state.pt (atomically), the exportable model.safetensors and train.json (what a model card needs).

    export is called after state.pt is written: a VAE's export fits its prior in place, and the
    state's tensors are the live ones.
    """
    state_path = out / "state.pt"
    tmp = state_path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(state_path)
    save_checkpoint(export(), arch, out / "model.safetensors", extra=extra)
    (out / "train.json").write_text(json.dumps(summary, indent=1))


def plot_losses(history: list[dict[str, float]], path: Path) -> None:
    """Each loss over the steps, raw and as a running mean (matplotlib is imported only here)."""
    if not history:
        return
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    keys = [k for k in history[0] if k != "step"]
    fig, axes = plt.subplots(len(keys), 1, figsize=(7, 2.2 * len(keys)), sharex=True, squeeze=False)
    steps = [h["step"] for h in history]
    for ax, k in zip(axes[:, 0], keys):
        vals = [h.get(k, math.nan) for h in history]
        ax.plot(steps, vals, lw=0.6, alpha=0.4)
        w = max(1, len(vals) // 50)  # running mean to see the trend through GAN noise
        smooth = [sum(vals[max(0, i - w) : i + 1]) / len(vals[max(0, i - w) : i + 1]) for i in range(len(vals))]
        ax.plot(steps, smooth, lw=1.5)
        ax.set_ylabel(k)
        ax.grid(alpha=0.3)
    axes[-1, 0].set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
