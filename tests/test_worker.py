import threading
import time

import numpy as np
import pytest
import torch

from installation.render.worker import GeneratorWorker, RenderRequest, fit_rect
from models.registry import load_generator


class SlowGenerator(torch.nn.Module):
    """A real module that takes `delay_s` per call and paints the first latent value as grey."""

    z_dim = 4
    img_resolution = 8
    img_channels = 3

    def __init__(self, delay_s: float = 0.0) -> None:
        super().__init__()
        self.delay_s = delay_s
        self.calls: list[float] = []
        self.fail = threading.Event()
        self.nan = threading.Event()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.calls.append(float(z[0, 0]))
        time.sleep(self.delay_s)
        if self.fail.is_set():
            raise RuntimeError("boom")
        if self.nan.is_set():
            return torch.full((1, 3, 8, 8), float("nan"))
        return z[:, :1, None, None].expand(1, 3, 8, 8).clamp(-1, 1)


def request(value: float, stamp: int, size=(8, 8), fit="cover") -> RenderRequest:
    z = np.full((1, 4), value, dtype=np.float32)
    return RenderRequest(z, size, fit, time.perf_counter(), stamp)


def wait_result(worker: GeneratorWorker, seen: int, timeout_s: float = 5.0):
    result, seen = worker.results.wait_newer(seen, timeout_s)
    assert result is not None, "worker produced no result"
    return result, seen


class GatedGenerator(SlowGenerator):
    """A SlowGenerator whose render waits for `release`; `started` says a render is under way."""

    def __init__(self, z_dim: int = 4) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.started = threading.Event()
        self.release = threading.Event()

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        self.started.set()
        assert self.release.wait(10.0), "the test never released the render"
        return super().forward(z)


def test_renders_newest_request_and_drops_stale_ones():
    model = GatedGenerator()
    worker = GeneratorWorker(model, torch.device("cpu"))
    worker.start()
    try:
        worker.submit(request(0.1, 1))
        assert model.started.wait(5.0)  # the worker is now busy with request 1
        for stamp in range(2, 12):
            worker.submit(request(stamp / 100, stamp))
        model.release.set()
        seen = 0
        stamps = []
        while not stamps or stamps[-1] != 11:
            result, seen = wait_result(worker, seen)
            stamps.append(result.stamp)
        assert stamps[0] == 1
        assert stamps[-1] == 11
        assert len(model.calls) == 2, f"stale requests were rendered: {model.calls}"
        assert result.frame_rgb is not None and result.frame_rgb.dtype == np.uint8
        assert result.frame_rgb[0, 0, 0] == round((0.11 + 1) * 127.5)
    finally:
        model.release.set()
        worker.close()


def test_a_request_waiting_in_the_slot_is_not_rendered_by_the_next_model():
    """The render slot never holds a stale request: one built for the old model (its z size) is dropped
    on the swap, not rendered by the new model (an error result, or a wrong picture of the new epoch)."""
    old = GatedGenerator(z_dim=4)
    worker = GeneratorWorker(old, torch.device("cpu"))
    worker.start()
    try:
        worker.submit(request(0.1, 1))
        assert old.started.wait(5.0)  # busy with request 1
        worker.submit(request(0.2, 2))  # waits in the slot, built for the 4-d model
        new = SlowGenerator()
        new.z_dim = 6
        forward = new.forward

        def strict(z: torch.Tensor) -> torch.Tensor:
            assert z.shape == (1, 6), f"the new model got a request for the old one: {tuple(z.shape)}"
            return forward(z)

        new.forward = strict  # type: ignore[method-assign]
        worker.swap_model(new)
        old.release.set()
        result, seen = wait_result(worker, 0)
        assert result.stamp == 1 and result.epoch == 0  # the render under way finishes (the App drops it)
        worker.submit(RenderRequest(np.full((1, 6), 0.3, np.float32), (8, 8), "cover", time.perf_counter(), 3))
        result, seen = wait_result(worker, seen)
        assert (result.stamp, result.epoch, result.error) == (3, 1, "")
        assert worker.errors == 0 and worker.rendered == 2
    finally:
        old.release.set()
        worker.close()


def test_close_ends_the_worker_wait_at_once():
    """close() wakes the idle worker: its join does not wait out wait_newer's 0.5 s timeout."""
    worker = GeneratorWorker(SlowGenerator(), torch.device("cpu"))
    worker.start()
    worker.submit(request(0.0, 1))
    wait_result(worker, 0)  # the worker is back in wait_newer
    t0 = time.perf_counter()
    worker.close(timeout_s=0.3)  # shorter than the wait's 0.5 s timeout: only a wake ends it in time
    assert not worker._thread.is_alive(), f"close took {time.perf_counter() - t0:.2f} s"


def test_exception_and_nan_become_error_results_and_worker_survives(caplog):
    model = SlowGenerator()
    worker = GeneratorWorker(model, torch.device("cpu"))
    worker.start()
    try:
        model.fail.set()
        worker.submit(request(0.5, 1))
        result, seen = wait_result(worker, 0)
        assert result.frame_rgb is None and "RuntimeError: boom" in result.error
        assert "generator failed" in caplog.text
        model.fail.clear()
        model.nan.set()
        worker.submit(request(0.5, 2))
        result, seen = wait_result(worker, seen)
        assert result.frame_rgb is None and "NaN" in result.error
        model.nan.clear()
        worker.submit(request(0.5, 3))
        result, seen = wait_result(worker, seen)
        assert result.error == "" and result.frame_rgb is not None
        assert worker.errors == 2
    finally:
        worker.close()


def test_model_swap_raises_epoch():
    worker = GeneratorWorker(SlowGenerator(), torch.device("cpu"))
    worker.start()
    try:
        worker.submit(request(0.0, 1))
        result, seen = wait_result(worker, 0)
        assert result.epoch == 0
        assert worker.swap_model(SlowGenerator()) == 1
        worker.submit(request(0.0, 2))
        result, seen = wait_result(worker, seen)
        assert result.epoch == 1
    finally:
        worker.close()


def test_close_joins_the_thread():
    worker = GeneratorWorker(SlowGenerator(), torch.device("cpu"))
    worker.start()
    worker.close()
    assert not worker._thread.is_alive()


@pytest.mark.parametrize(
    "fit, out, crop, dst",
    [
        ("cover", (160, 90), (0, 14, 64, 36), (160, 90)),  # wide screen: crop top and bottom
        ("letterbox", (160, 90), (0, 0, 64, 64), (90, 90)),  # wide screen: bars left and right
        ("cover", (90, 160), (14, 0, 36, 64), (90, 160)),
    ],
)
def test_fit_rect(fit, out, crop, dst):
    assert fit_rect(64, 64, *out, fit) == (crop, dst)


def test_resolution_free_model_renders_the_screen_aspect():
    model, _ = load_generator("seeded-cppn")
    worker = GeneratorWorker(model, torch.device("cpu"), render_size=32)
    z = np.random.default_rng(0).standard_normal((1, model.z_dim)).astype(np.float32)
    frame = worker.render(model, RenderRequest(z, (320, 180), "cover", 0.0, 1))
    assert frame.shape == (180, 320, 3) and frame.dtype == np.uint8
    assert frame.std() > 10  # a picture, not a flat colour
