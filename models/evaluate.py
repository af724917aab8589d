"""Evaluate a generator against a prepared data set, offline.

    python -m models.evaluate CHECKPOINT --data data/NAME [--n 1000] [--out DIR]

Metrics (all in one fixed feature space, see `FeatureNet`):
  kid            Kernel Inception Distance-style MMD^2 (cubic polynomial kernel, unbiased), x1000;
                 lower is better, ~0 when samples and data match. Unbiased at small N (FID is not).
  precision / recall / density / coverage   (k-NN manifolds, Naeem et al. 2020): fidelity and
                 diversity separately; density/coverage are robust to outliers.
  ppl            perceptual-path-length-like smoothness: mean squared feature distance between
                 G(lerp(z0, z1, t)) and G(lerp(z0, z1, t + 1e-2)), divided by 1e-4; lower = smoother.
  memorisation   nearest-training-image distance of samples (pixel RMS at data resolution) against
                 the same distance between real images (held-out half to the other half); a ratio
                 well under 1 means samples copy training images.
Writes OUT/metrics.json, OUT/samples.png and OUT/interpolation.png (OUT defaults to the
checkpoint's folder + "/eval").
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from models.data import ImageArray, save_grid
from models.glyphs import field_picture
from models.protocol import GeneratorModule

FEATURE_SEED = 20240601  # the feature network's weights are derived from this and nothing else
FEATURE_RES = 64  # every image is resized to this before feature extraction


class FeatureNet(nn.Module):
    """A fixed, randomly initialised conv net (seeded, never trained) as an offline embedding.

    No pretrained network can be downloaded here, so we use random features: a 4-stage conv
    stack with weights drawn from a seeded generator (identical on every machine) and
    mean + std pooling at every stage, so colours, textures and layout all contribute.
    Random conv embeddings are a documented stand-in for Inception features in k-NN metrics
    (Naeem et al. 2020, "Reliable Fidelity and Diversity Metrics for Generative Models").
    """

    widths = (32, 64, 128, 256)

    def __init__(self) -> None:
        super().__init__()
        gen = torch.Generator().manual_seed(FEATURE_SEED)
        layers = []
        c_in = 3
        for c in self.widths:
            conv = nn.Conv2d(c_in, c, 3, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * math.sqrt(2.0 / (c_in * 9)))
                if conv.bias is not None:  # always (Conv2d's default)
                    conv.bias.zero_()
            layers.append(conv)
            c_in = c
        self.convs = nn.ModuleList(layers)
        self.requires_grad_(False)
        self.eval()

    @torch.no_grad()
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) in [-1, 1] -> (B, D) features, D = 2 * (3 + sum(widths))."""
        x = nn.functional.interpolate(
            x.float(), size=(FEATURE_RES, FEATURE_RES), mode="bilinear", align_corners=False, antialias=True
        )
        feats = [x.mean((2, 3)), x.std((2, 3))]
        for i, conv in enumerate(self.convs):
            x = torch.relu(conv(x))
            feats += [x.mean((2, 3)), x.std((2, 3))]
            if i < len(self.convs) - 1:
                x = nn.functional.avg_pool2d(x, 2)
        f = torch.cat(feats, dim=1)
        return f / f.norm(dim=1, keepdim=True).clamp_min(1e-8) * math.sqrt(f.shape[1])  # unit-RMS per dim


def features(net: FeatureNet, images: torch.Tensor, batch: int = 250) -> torch.Tensor:
    """Fields (B, 1, H, W) are judged as what a viewer sees: their thresholded ink picture."""
    return torch.cat([net(field_picture(images[i : i + batch])) for i in range(0, len(images), batch)])


def kid(
    fx: torch.Tensor, fy: torch.Tensor, subsets: int = 20, subset_size: int = 500, seed: int = 0
) -> tuple[float, float]:
    """Unbiased MMD^2 with k(a, b) = (a.b / d + 1)^3, averaged over random subsets. Returns (mean, std)."""
    gen = torch.Generator().manual_seed(seed)
    m = min(subset_size, len(fx), len(fy))
    d = fx.shape[1]
    vals = []
    for _ in range(subsets):
        x = fx[torch.randperm(len(fx), generator=gen)[:m]].double()
        y = fy[torch.randperm(len(fy), generator=gen)[:m]].double()
        kxx, kyy, kxy = (x @ x.T / d + 1) ** 3, (y @ y.T / d + 1) ** 3, (x @ y.T / d + 1) ** 3
        mmd = ((kxx.sum() - kxx.diagonal().sum()) + (kyy.sum() - kyy.diagonal().sum())) / (m * (m - 1)) - 2 * kxy.mean()
        vals.append(float(mmd))
    t = torch.tensor(vals)
    return float(t.mean()), float(t.std()) if len(vals) > 1 else 0.0


def prdc(real: torch.Tensor, fake: torch.Tensor, k: int = 5) -> dict[str, float]:
    """Precision, recall, density, coverage (Naeem et al. 2020) with k nearest neighbours."""
    d_rr = torch.cdist(real, real)
    d_ff = torch.cdist(fake, fake)
    d_rf = torch.cdist(real, fake)  # (R, F)
    r_radius = d_rr.kthvalue(k + 1, dim=1).values  # +1: the point itself is at distance 0
    f_radius = d_ff.kthvalue(k + 1, dim=1).values
    inside_real = d_rf < r_radius[:, None]  # fake j within real i's ball
    precision = inside_real.any(0).float().mean()
    recall = (d_rf < f_radius[None, :]).any(1).float().mean()
    density = inside_real.float().sum(0).mean() / k
    coverage = (d_rf.min(1).values < r_radius).float().mean()
    return {
        "precision": float(precision),
        "recall": float(recall),
        "density": float(density),
        "coverage": float(coverage),
    }


def nearest_rms(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """For each image in a, the pixel-RMS distance (in [0, 1] units) to its nearest image in b."""
    fa, fb = (a.flatten(1).float() + 1) / 2, (b.flatten(1).float() + 1) / 2
    return torch.cat([torch.cdist(fa[i : i + 500], fb).min(1).values for i in range(0, len(fa), 500)]) / math.sqrt(
        fa.shape[1]
    )


@torch.no_grad()
def generate(model: GeneratorModule, z: torch.Tensor, resolution: int, batch: int = 100) -> torch.Tensor:
    """Samples for latents z, resized to the data resolution. (N, 3, R, R) in [-1, 1]."""
    outs = []
    for i in range(0, len(z), batch):
        x = model(z[i : i + batch]).float().clamp(-1, 1)
        if x.shape[-1] != resolution:
            x = nn.functional.interpolate(x, size=(resolution, resolution), mode="area")
        outs.append(x)
    return torch.cat(outs)


def lerp_path(z0: torch.Tensor, z1: torch.Tensor, steps: int) -> torch.Tensor:
    t = torch.linspace(0, 1, steps)[:, None]
    return z0[None] * (1 - t) + z1[None] * t


@torch.no_grad()
def evaluate(
    model: GeneratorModule, real: torch.Tensor, n: int = 1000, seed: int = 0, net: FeatureNet | None = None
) -> dict[str, Any]:
    """All metrics for `model` against real images (N, 3, R, R) in [-1, 1]."""
    net = net or FeatureNet()
    gen = torch.Generator().manual_seed(seed)
    res = real.shape[-1]
    n = min(n, len(real))
    real = real[torch.randperm(len(real), generator=gen)]
    z = torch.randn(n, model.z_dim, generator=gen)
    fake = generate(model, z, res)
    f_real, f_fake = features(net, real[:n]), features(net, fake)
    kid_mean, kid_std = kid(f_real, f_fake, subset_size=min(500, n // 2))
    metrics: dict[str, Any] = {
        "n": n,
        "kid_x1000": round(kid_mean * 1000, 3),
        "kid_x1000_std": round(kid_std * 1000, 3),
    }
    metrics.update({k: round(v, 4) for k, v in prdc(f_real, f_fake).items()})
    # smoothness: feature change per unit latent step along straight lines
    pairs, eps = 50, 1e-2
    za, zb = torch.randn(pairs, model.z_dim, generator=gen), torch.randn(pairs, model.z_dim, generator=gen)
    t = torch.rand(pairs, 1, generator=gen) * (1 - eps)
    z_t, z_te = za + (zb - za) * t, za + (zb - za) * (t + eps)
    d = (features(net, generate(model, z_t, res)) - features(net, generate(model, z_te, res))).pow(2).sum(1) / eps**2
    metrics["ppl"] = round(float(d.mean()), 2)
    metrics["ppl_median"] = round(float(d.median()), 2)
    # memorisation: are samples closer to training images than real images are to each other?
    half = len(real) // 2
    ref = nearest_rms(real[: min(half, 500)], real[half:])
    gen_nn = nearest_rms(fake[:500], real)
    metrics["nn_rms_samples_to_train"] = round(float(gen_nn.median()), 4)
    metrics["nn_rms_real_to_real"] = round(float(ref.median()), 4)
    metrics["memorisation_ratio"] = round(float(gen_nn.median() / ref.median().clamp_min(1e-8)), 3)
    metrics["copies_fraction"] = round(float((gen_nn < 0.5 * ref.median()).float().mean()), 4)
    # what the same metrics say about the data itself (a floor) and about noise (a ceiling)
    k_floor, _ = kid(f_real[: n // 2], features(net, real[n // 2 : n]), subset_size=min(500, n // 2))
    metrics["kid_x1000_real_vs_real"] = round(k_floor * 1000, 3)
    return metrics


def save_outputs(model: GeneratorModule, out: Path, resolution: int, seed: int = 0) -> None:
    """samples.png (8x8 grid) and interpolation.png (6 rows of 10-step latent lerps)."""
    out.mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(seed + 7)
    show = max(resolution, 64)
    grid = generate(model, torch.randn(64, model.z_dim, generator=gen), show)
    rows = [
        lerp_path(torch.randn(model.z_dim, generator=gen), torch.randn(model.z_dim, generator=gen), 10)
        for _ in range(6)
    ]
    strip = generate(model, torch.cat(rows), show)
    for images, name, cols in ((grid, "samples.png", 8), (strip, "interpolation.png", 10)):
        images = field_picture(images)
        arr = ((images + 1) * 127.5).round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).numpy()
        save_grid(arr, out / name, cols=cols)


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.evaluate", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("checkpoint", help="a .safetensors checkpoint, a model name, or an external generator")
    p.add_argument("--data", required=True, help="prepared data folder (images.npy)")
    p.add_argument("--n", type=int, default=1000, help="samples to compare (capped at the data size)")
    p.add_argument("--out", type=Path, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    from models.registry import load_generator

    model, entry = load_generator(args.checkpoint)
    ds = ImageArray(args.data)
    out = args.out or (Path(entry.path).parent / "eval" if entry.path else Path("runs") / entry.name / "eval")
    t0 = time.time()
    metrics = evaluate(model, ds.all(), n=args.n, seed=args.seed)
    metrics.update(
        {
            "checkpoint": str(entry.path or entry.name),
            "data": args.data,
            "feature_net": f"random conv, seed {FEATURE_SEED}, {FEATURE_RES}px",
            "eval_seconds": round(time.time() - t0, 1),
        }
    )
    save_outputs(model, out, ds.resolution, args.seed)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=1))
    print(json.dumps(metrics, indent=1))
    print(f"-> {out}/metrics.json, samples.png, interpolation.png")


if __name__ == "__main__":
    main()
