"""What the benchmark ran on: CPU, cores, GPU, versions, and what else was busy at the time."""

from __future__ import annotations

import os
import platform
import time
from typing import Any

import cv2
import numpy as np
import psutil
import pygame
import torch


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def busy_processes(top: int = 5, sample_s: float = 0.5) -> list[dict[str, Any]]:
    """The processes using most CPU over a short sample (other users of the machine)."""
    procs = list(psutil.process_iter(["pid", "name", "cmdline"]))
    for p in procs:
        try:
            p.cpu_percent(None)
        except psutil.Error:
            pass
    time.sleep(sample_s)
    rows = []
    for p in procs:
        try:
            cpu = p.cpu_percent(None)
        except psutil.Error:
            continue
        if cpu >= 5.0 and p.pid != os.getpid():
            cmd = " ".join(p.info.get("cmdline") or [p.info.get("name") or "?"])
            rows.append({"pid": p.pid, "cpu_percent": round(cpu, 1), "command": cmd[:100]})
    return sorted(rows, key=lambda r: -r["cpu_percent"])[:top]


def machine_info() -> dict[str, Any]:
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {
        "date_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "cpu": cpu_model(),
        "cores_logical": os.cpu_count(),
        "cores_physical": psutil.cpu_count(logical=False),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "gpu": gpu,
        "load_average": [round(x, 2) for x in os.getloadavg()],
        "busy_processes": busy_processes(),
        "torch_threads": torch.get_num_threads(),
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "numpy": np.__version__,
            "opencv": cv2.__version__,
            "pygame": pygame.version.ver,
            "cuda": torch.version.cuda,
            "os": platform.platform(),
        },
    }
