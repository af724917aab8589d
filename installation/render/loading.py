"""Choosing a device, loading generators (with a fallback that always works), finding an encoder,
and loading on a background thread so a model swap never stalls the display."""

from __future__ import annotations

import logging
import os
import threading

import torch

from installation.slot import LatestSlot
from models.field import field_info
from models.protocol import latent_size
from models.registry import ModelEntry, default_model_name, list_models, load_generator

log = logging.getLogger(__name__)

FALLBACK_MODEL = "seeded-cppn"  # needs no file, so it always loads


def pick_device(requested: str) -> torch.device:
    if requested == "cuda" and not torch.cuda.is_available():
        log.warning("generator.device = cuda but no CUDA GPU is available; using the CPU")
        return torch.device("cpu")
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(requested)


def set_torch_threads(requested: int) -> int:
    """Torch's pool and the capture/display threads share the cores; leave at least one free."""
    threads = requested or max(1, min(4, (os.cpu_count() or 2) - 1))
    torch.set_num_threads(threads)
    return threads


def load_model(spec: str, device: torch.device) -> tuple[torch.nn.Module, ModelEntry]:
    """Load the model a spec names ("auto" = the best shipped one); on any failure say why and
    fall back to the built-in one."""
    name = default_model_name() if spec == "auto" else spec
    try:
        return load_generator(name, device)
    except Exception as exc:  # a broken file must not stop the show
        log.error("cannot load model %r (%s); falling back to the built-in %r", name, exc, FALLBACK_MODEL)
        return load_generator(FALLBACK_MODEL, device)


def find_encoder(model: torch.nn.Module, device: torch.device) -> torch.nn.Module | None:
    """The model itself if it can encode, else a shipped VAE with the same latent length and the same
    kind of output (a field model's encoder must read fields, a colour model's colours)."""
    if hasattr(model, "encode"):
        return model
    for entry in list_models():
        if entry.arch != "vae" or entry.path is None:
            continue
        try:
            candidate, _ = load_generator(entry.name, device)
        except Exception as exc:
            log.warning("encoder %s unusable: %s", entry.name, exc)
            continue
        if candidate.z_dim == latent_size(model) and (field_info(candidate) is None) == (field_info(model) is None):
            return candidate
    return None


class ModelLoader:
    """Loads one model at a time on a daemon thread; the main thread polls `ready`."""

    def __init__(self) -> None:
        self.ready: LatestSlot[tuple[torch.nn.Module, ModelEntry, str]] = LatestSlot()
        self._seen = 0
        self._thread: threading.Thread | None = None

    def request(self, spec: str, device: torch.device, keep_on_failure: bool = False) -> None:
        """Load spec in the background. keep_on_failure (a hot swap): a file that does not load is
        reported and nothing is swapped, instead of falling back to the built-in model."""

        def work() -> None:
            model: torch.nn.Module
            if keep_on_failure:
                try:
                    model, entry = load_generator(default_model_name() if spec == "auto" else spec, device)
                except Exception as exc:  # noqa: BLE001 - a broken file must not stop the show, nor replace a good model
                    log.error("cannot load the replaced model %r (%s); keeping the current one", spec, exc)
                    return
            else:
                model, entry = load_model(spec, device)
            self.ready.put((model, entry, spec))

        self._thread = threading.Thread(target=work, name="model-loader", daemon=True)
        self._thread.start()

    def poll(self) -> tuple[torch.nn.Module, ModelEntry, str] | None:
        item, self._seen = self.ready.get_newer(self._seen)
        return item

    def close(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            self._thread.join(10.0)
