"""Reloading a model must not leak: the CPU TorchScript path traces each model structure once.

TorchScript never frees what a trace registers (about 6 MB per trace and freeze), and the show
loads a model on every hot swap, preset change and quality step. Before the fix every load was
traced and frozen again: 20 loads of the default model took RSS from 266 to 379 MB.
"""

from __future__ import annotations

import gc

import psutil
import pytest
import torch

from installation.render.accel import Accelerator, z_dim_of
from models.registry import build_model


def fresh(arch: str, seed: int) -> torch.nn.Module:
    """A newly built model, as a reload gives: same architecture, its own weights."""
    torch.manual_seed(seed)
    return build_model(arch, {}).eval()


def render_traced(acc: Accelerator, model: torch.nn.Module, z: torch.Tensor, size: int = 0) -> torch.Tensor:
    """Render until the trace runs (the first frames run eagerly while it is made in the background)."""
    with torch.inference_mode():
        acc.run(model, z, size, size)
    acc.settle()
    runner = acc.cpu_runner(model, size, size)
    assert isinstance(runner, torch.jit.ScriptModule), "the trace is used once it is ready"
    with torch.inference_mode():
        return runner(z)


@pytest.fixture
def trace_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    real = torch.jit.trace

    def counting(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(torch.jit, "trace", counting)
    return calls


@pytest.mark.parametrize("arch, size", [("sagan", 0), ("cppn", 24)])
def test_reloaded_models_reuse_one_trace_and_render_their_own_weights(trace_calls, arch, size):
    acc = Accelerator(torch.device("cpu"))
    z = torch.randn(1, z_dim_of(fresh(arch, 0)))
    for seed in range(6):
        model = fresh(arch, seed)
        out = render_traced(acc, model, z, size)
        with torch.inference_mode():
            eager = model(z, size, size) if size else model(z)
        # The reused trace runs this model's weights, not the first model's.
        assert float((out - eager).abs().max()) < 1e-3, seed
    assert len(trace_calls) == 1, "one trace per structure, not one per load"


def test_rss_plateaus_over_twenty_reloads(trace_calls):
    """RSS after 25 loads is within a generous margin of RSS after 5 (before the fix: +5-6 MB a load,
    over 100 MB for these 20); a loaded machine moves RSS by a few MB at most here."""
    acc = Accelerator(torch.device("cpu"))
    proc = psutil.Process()
    z = torch.randn(1, z_dim_of(fresh("sagan", 0)))
    rss_mb: list[float] = []
    for seed in range(25):
        render_traced(acc, fresh("sagan", seed), z)
        gc.collect()
        rss_mb.append(proc.memory_info().rss / 2**20)
    assert rss_mb[-1] - rss_mb[4] < 40.0, [round(r) for r in rss_mb]
    assert len(rss_mb) == 25 and len(trace_calls) == 1


def test_a_model_that_renders_nan_runs_eagerly_and_the_next_good_one_uses_the_trace_again():
    """The chaos soak's NaN burst: an overflowing model fails the check against eager (NaN), runs
    eagerly (the worker reports the NaN), and the good model swapped back uses the trace."""
    acc = Accelerator(torch.device("cpu"))
    z = torch.randn(1, z_dim_of(fresh("sagan", 0)))
    render_traced(acc, fresh("sagan", 0), z)
    bad = fresh("sagan", 1)
    with torch.no_grad():
        for p in bad.parameters():
            p.fill_(float("nan"))
    assert not isinstance(acc.cpu_runner(bad), torch.jit.ScriptModule)
    good = fresh("sagan", 2)
    out = render_traced(acc, good, z)
    with torch.inference_mode():
        assert torch.allclose(out, good(z), atol=1e-3)
    assert acc.traces_made == 1
