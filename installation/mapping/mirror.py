"""Mirror mode: a VAE encoder turns the (small, optionally silhouette-masked) camera frame into a
latent that the walk is pulled toward, so visitors see themselves in the model's style.

A field VAE (models/field.py) never sees the camera image: the visitor's silhouette mask becomes a
signed-distance field like the ones it was trained on (centred on its bounding box, at a glyph's
size), so the show writes the character nearest to the visitor's outline.

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
from models.field import field_info
from models.vae import VAE

log = logging.getLogger(__name__)

BACKGROUND_RGB = (255, 255, 255)  # the training data was composited over white
GLYPH_SHARE = 0.72  # the silhouette's longer side covers this share of the field (as glyphs do)
FIELD_OVERSAMPLE = 8  # distances are measured at 8x the field's side, then area-averaged down
MIN_SILHOUETTE = 0.002  # share of the mask that must be foreground to be worth encoding

FrameGetter = Callable[[], tuple[np.ndarray, np.ndarray | None] | None]  # -> (frame_rgb, mask or None)


def prepare(frame_rgb: np.ndarray, mask: np.ndarray | None, res: int) -> torch.Tensor:
    """(H, W, 3) uint8 [+ (h, w) mask] -> (1, 3, res, res) in [-1, 1]: centre square, masked over white."""
    h, w = frame_rgb.shape[:2]
    side = min(h, w)
    y, x = (h - side) // 2, (w - side) // 2
    img = frame_rgb[y : y + side, x : x + side].astype(np.float32)
    if mask is not None:
        m = cv2.resize(mask, (w, h), interpolation=cv2.INTER_NEAREST)[y : y + side, x : x + side]
        m = cv2.GaussianBlur(m.astype(np.float32) / 255.0, (5, 5), 0)[..., None]
        img = img * m + np.array(BACKGROUND_RGB, np.float32) * (1.0 - m)
    small = np.asarray(cv2.resize(img, (res, res), interpolation=cv2.INTER_AREA))
    return torch.from_numpy(small / 127.5 - 1.0).permute(2, 0, 1)[None]


def silhouette_field(mask: np.ndarray, res: int, spread_px: float) -> torch.Tensor | None:
    """(H, W) uint8 0/255 mask -> (1, 1, res, res) field in [-1, 1], ink > 0 inside the silhouette,
    encoded as the calligraphy data is (f = clip(-signed_distance / spread_px, -1, 1)); None if empty."""
    if mask.size == 0 or np.count_nonzero(mask) < MIN_SILHOUETTE * mask.size:
        return None
    ys, xs = np.nonzero(mask)
    cx, cy = (xs.min() + xs.max() + 1) / 2, (ys.min() + ys.max() + 1) / 2
    side = max(xs.max() - xs.min() + 1, ys.max() - ys.min() + 1) / GLYPH_SHARE
    big = res * FIELD_OVERSAMPLE
    scale = big / side  # big px per mask px: the silhouette's box centred at the glyph's size
    matrix = np.array([[scale, 0, big / 2 - cx * scale], [0, scale, big / 2 - cy * scale]], np.float32)
    ink = cv2.warpAffine(mask, matrix, (big, big), flags=cv2.INTER_LINEAR, borderValue=0) > 127
    inside = cv2.distanceTransform(ink.astype(np.uint8), cv2.DIST_L2, 5)
    outside = cv2.distanceTransform((~ink).astype(np.uint8), cv2.DIST_L2, 5)
    signed_px = (inside - outside) / FIELD_OVERSAMPLE  # model px, ink > 0
    field = cv2.resize(signed_px, (res, res), interpolation=cv2.INTER_AREA) / spread_px
    return torch.from_numpy(np.clip(field, -1.0, 1.0).astype(np.float32))[None, None]


class MirrorEncoder:
    def __init__(
        self, encoder: torch.nn.Module, get_frame: FrameGetter, rate_hz: float = 8.0, use_mask: bool = True
    ) -> None:
        if not isinstance(encoder, VAE):  # what find_encoder returns: the one architecture with encode()
            raise TypeError(f"mirror: a {type(encoder).__name__} cannot encode pictures (a VAE can)")
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

    def encode(self, frame_rgb: np.ndarray, mask: np.ndarray | None) -> np.ndarray | None:
        """The latent of the visitor (None when a field encoder has no silhouette to read)."""
        device = next(self.encoder.parameters()).device
        info = field_info(self.encoder)
        if info is not None:  # a field VAE reads only the silhouette, never the image
            x = silhouette_field(mask, self._res, info.spread_px) if mask is not None else None
            if x is None:
                return None
        else:
            x = prepare(frame_rgb, mask if self.use_mask else None, self._res)
        with torch.inference_mode():
            mu, _ = self.encoder.encode(x.to(device))
        return mu[0].float().cpu().numpy()

    def _run(self) -> None:
        while not self._stop.wait(self.period_s):
            got = self.get_frame()
            if got is None:
                continue
            try:
                latent = self.encode(*got)
                if latent is not None:
                    self.latent.put(latent)
            except Exception as exc:  # mirror is a nicety: say so once and stop trying
                if not self._failed:
                    log.error("mirror mode stopped: encoding the camera frame failed (%s)", exc)
                self._failed = True
                return
