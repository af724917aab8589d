"""Fault: the GPU runs out of memory -> the generator moves to the CPU and the show goes on.

Log: one WARNING "out of GPU memory (...); the generator runs on the CPU from now on".
Visitor: at most one frame is skipped; frames keep coming (slower on a real machine).
There is no GPU here, so the test gives the worker a fake "cuda" device through its injectable
`move` function: tensors stay in host memory but are tagged with the device they were moved to,
and the model raises torch.cuda.OutOfMemoryError while it sits on "cuda", exactly as torch would.
The worker's fallback logic itself is the real code.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from installation.render.worker import GeneratorWorker, RenderRequest, is_out_of_memory


class GpuHungry(torch.nn.Module):
    z_dim = 4
    img_resolution = 8
    img_channels = 3

    def __init__(self) -> None:
        super().__init__()
        self.on = "cpu"

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        if self.on == "cuda":
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return z[:, :1, None, None].expand(1, 3, 8, 8).clamp(-1, 1)


def fake_move(obj, device: torch.device):
    if isinstance(obj, GpuHungry):
        obj.on = device.type
        return obj
    return obj  # tensors: host memory stands in for the GPU's


def request(stamp: int) -> RenderRequest:
    return RenderRequest(np.full((1, 4), 0.5, np.float32), (8, 8), "cover", time.perf_counter(), stamp)


def test_out_of_memory_moves_the_model_to_cpu_once_and_rendering_continues(caplog):
    model = fake_move(GpuHungry(), torch.device("cuda"))
    worker = GeneratorWorker(model, torch.device("cuda"), move=fake_move)
    worker.start()
    try:
        with caplog.at_level(logging.WARNING):
            seen, stamp, result = 0, 0, None
            deadline = time.monotonic() + 10
            while (result is None or result.frame_rgb is None) and time.monotonic() < deadline:
                stamp += 1
                worker.submit(request(stamp))
                got, seen = worker.results.wait_newer(seen, 0.2)
                result = got or result
        assert result is not None and result.frame_rgb is not None and result.frame_rgb.shape == (8, 8, 3)
        assert worker.device.type == "cpu" and model.on == "cpu"
        assert worker.errors == 0
        assert caplog.text.count("out of GPU memory") == 1
        assert "runs on the CPU from now on" in caplog.text
    finally:
        worker.close()


def test_is_out_of_memory_recognises_both_forms():
    assert is_out_of_memory(torch.cuda.OutOfMemoryError("x"))
    assert is_out_of_memory(RuntimeError("CUDA error: out of memory"))
    assert not is_out_of_memory(RuntimeError("shape mismatch"))
    assert not is_out_of_memory(ValueError("out of memory"))


def test_out_of_memory_on_the_cpu_is_an_ordinary_error(caplog):
    class CpuHungry(GpuHungry):
        def forward(self, z):
            raise RuntimeError("DefaultCPUAllocator: not enough memory: you tried to allocate; out of memory")

    worker = GeneratorWorker(CpuHungry(), torch.device("cpu"))
    worker.start()
    try:
        worker.submit(request(1))
        result, _ = worker.results.wait_newer(0, 5.0)
        assert result is not None and result.error and worker.errors == 1
    finally:
        worker.close()
