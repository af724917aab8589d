"""Mirror mode: a VAE encoder turns the (small, optionally silhouette-masked) camera frame into a
latent that the walk is pulled toward, so visitors see themselves in the model's style.

The encoder runs on its own thread a few times a second; the camera image never leaves memory.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

import cv2
import numpy as np
import torch

from installation.slot import LatestSlot

log = logging.getLogger(__name__)

BACKGROUND_RGB = (255, 255, 255)  # the training data was composited over white

FrameGetter = Callable[[], tuple[np.ndarray, np.ndarray | None] | None]  # -> (frame_rgb, mask or None)


def prepare(frame_rgb: np.ndarray, mask: np.ndarray | None, res: int) -> torch.Tensor:
    """(H, W, 3) uint8 [+ (h, w) mask] -> (1, 3, res, res) in [-1, 1]: centre square, masked over white."""
    h, w = frame_rgb.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    img = frame_rgb[y:y + side, x:x + side].astype(np.float32)
    if mask is not None:
        m = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)[y:y + side, x:x + side]
        m = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (5, 5), 0)[..., None]
        img = img * m + np.array(BACKGROUND_RGB, np.float32) * (1.0 - m)
    img = cv2.resize(img, (res, res), interpolation=cv2.INTER_AREA)
    return torch.from_numpy(img / 127.5 - 1.0).permute(2, 0, 1)[None]


class MirrorEncoder:
    def __init__(self, encoder: torch.nn.Module, get_frame: FrameGetter, rate_hz: float = 8.0,
                 use_mask: bool = True) -> None:
        self.encoder = encoder
        self.get_frame = get_frame
        self.period_s = 1.0 / rate_hz
        self.use_mask = use_mask
        self.latent: LatestSlot[np.ndarray] = LatestSlot()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="mirror", daemon=True)
        self._res = int(getattr(encoder, "img_resolution", 64))
        self._failed = False

    def start(self) -> None:
        self._thread.start()

    def close(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(2.0)

    def encode(self, frame_rgb: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
        device = next(self.encoder.parameters()).device
        with torch.inference_mode():
            mu, _ = self.encoder.encode(prepare(frame_rgb, mask if self.use_mask else None, self._res).to(device))
        return mu[0].float().cpu().numpy()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            got = self.get_frame()
            if got is None:
                continue
            try:
                self.latent.put(self.encode(*got))
            except Exception as exc:  # mirror is a nicety: say so once and stop trying
                if not self._failed:
                    log.error("mirror mode stopped: encoding the camera frame failed (%s)", exc)
                self._failed = True
                return
