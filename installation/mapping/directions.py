"""Principal latent directions of a generator (as in GANSpace, on outputs instead of activations):
the two directions in z along which the pictures change the most, so camera flow can steer along
them. Sampled once per model on a background thread; the walk uses random directions until then.
"""

from __future__ import annotations

import logging
import threading

import numpy as np
import torch
import torch.nn.functional as F

from installation.slot import LatestSlot
from models.protocol import latent_size, resolution_free

log = logging.getLogger(__name__)


def principal_directions(model: torch.nn.Module, n: int = 96, res: int = 24, seed: int = 0) -> np.ndarray:
    """(2, z_dim) unit vectors: least-squares directions in z that explain the top-2 image PCs."""
    z_dim = latent_size(model)
    gen = torch.Generator().manual_seed(seed)
    device = next(model.parameters()).device
    z = torch.randn(n, z_dim, generator=gen).to(device)
    with torch.inference_mode():
        images = model(z, res, res) if resolution_free(model) else model(z)
        images = F.interpolate(images.float(), size=(res, res), mode="area")
    x = images.reshape(n, -1).cpu().numpy().astype(np.float64)
    x -= x.mean(axis=0)
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    scores = u[:, :2] * s[:2]  # (n, 2): each sample's position along the top-2 image components
    zn = z.cpu().numpy().astype(np.float64)
    directions, *_ = np.linalg.lstsq(zn, scores, rcond=None)  # (z_dim, 2)
    directions = directions.T
    return directions / np.linalg.norm(directions, axis=1, keepdims=True)


def find_directions_async(model: torch.nn.Module, slot: LatestSlot[np.ndarray]) -> threading.Thread:
    """Compute directions on a short-lived daemon thread; the result lands in slot."""

    def work() -> None:
        try:
            slot.put(principal_directions(model))
        except Exception as exc:  # steering then keeps its random directions
            log.warning("could not find principal directions (%s); steering uses random directions", exc)

    thread = threading.Thread(target=work, name="directions", daemon=True)
    thread.start()
    return thread
