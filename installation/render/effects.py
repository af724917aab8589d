"""Post-processing on the main thread, at a modest working resolution, then one upscale to the screen.

- frame blend: crossfade from the previous generator frame to the newest over the measured
  generator interval, so 20-30 generator fps look continuous at 60 display fps;
- trails (feedback), kaleidoscope symmetry, hue shift, zoom, grain;
- a transition: the last picture of the old preset/model fades into the new one;
- the upscale hides low-resolution models: smooth (bilinear + grain dither) or sharp (bicubic).
OpenCV does the pixel work and releases the GIL while it runs. Frames stay uint8 end to end
(saturating cv2.addWeighted blends) and the screen-sized output buffer is reused, so a frame costs
one upscale and no large allocations; `effects_enabled = False` (the quality controller's cheap
level) keeps only the frame blend and transitions.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from installation.mapping.presets import EffectsPreset
from installation.render.worker import fit_rect

GRAIN_TILE = 256  # px side of the pre-made noise tile that grain samples from
MAX_LEAD_S = 1 / 30  # the blend never leads by more than this (a stalled display must not skip it)
SMOOTH_STEP = 0.1  # latent moved less than this (RMS per dimension) since the last frame: a plain crossfade
JUMP_STEP = 0.5  # moved this far or more: a jump (a kick, a new scene), shown at once, never smeared


def jump_weight(z_prev: np.ndarray | None, z: np.ndarray | None) -> float:
    """0..1: how much of the crossfade to skip for a new frame, from how far its latent moved.

    A walk moves the latent a little per generator frame and the blend hides the frame steps; a
    step in the mapped parameters moves it far, and blending would delay it by a generator interval."""
    if z_prev is None or z is None or z_prev.shape != z.shape:
        return 0.0
    step = float(np.sqrt(np.mean(np.square(z.astype(np.float32) - z_prev.astype(np.float32)))))
    return min(1.0, max(0.0, (step - SMOOTH_STEP) / (JUMP_STEP - SMOOTH_STEP)))


class Compositor:
    def __init__(self, screen_size: tuple[int, int], fit: str = "cover", work_height: int = 360, seed: int = 0) -> None:
        self.fit = fit
        self.work_height = work_height
        self.resize(screen_size)
        rng = np.random.default_rng(seed)
        self._grain = rng.normal(0.0, 1.0, (GRAIN_TILE, GRAIN_TILE, 1)).astype(np.float32)
        self._rng = rng
        self.effects_enabled = True  # False: skip kaleidoscope, hue, trails, grain (quality controller)
        self._big: np.ndarray | None = None  # reused screen-sized output: no 6 MB allocation per frame
        self._prev: np.ndarray | None = None  # uint8 frames at work size (never modified in place)
        self._cur: np.ndarray | None = None
        self._t_cur_s = 0.0
        self._jump = 0.0  # 0..1 of the blend skipped for the current frame (see jump_weight)
        self._interval_s = 1 / 30  # measured generator frame interval (EMA)
        self._display_dt_s = 1 / 60  # measured display frame interval (EMA), at most MAX_LEAD_S
        self._t_compose_s: float | None = None
        self._out: np.ndarray | None = None  # last output at work size (for trails)
        self._hold: np.ndarray | None = None  # picture a transition fades out of
        self._t_hold_s = 0.0
        self._hold_s = 0.0
        self._kaleido_maps: tuple[int, tuple[int, int], tuple[np.ndarray, np.ndarray]] | None = None

    def resize(self, screen_size: tuple[int, int]) -> None:
        self.screen_size = screen_size
        sw, sh = screen_size
        h = min(sh, self.work_height)
        self.work_size = (max(2, round(sw * h / sh)), h)  # same aspect as the screen

    # ------------------------------------------------------------------ input
    def add_frame(self, frame_rgb: np.ndarray, t_s: float, jump: float = 0.0) -> None:
        """A new generator frame (any size: it is brought to the working size here). jump: 0..1 of
        the crossfade to skip (1: show it at once), from jump_weight."""
        frame = frame_rgb  # uint8, read-only from here on: results are never written to
        if self._cur is not None and self._cur.shape == frame.shape:
            self._prev = self.current_blend(t_s)
            interval = t_s - self._t_cur_s
            if 0 < interval < 1.0:
                self._interval_s += (interval - self._interval_s) * 0.2
        else:
            self._prev = frame
            self._out = None
        self._cur = frame
        self._t_cur_s = t_s
        self._jump = jump

    def start_transition(self, t_s: float, duration_s: float) -> None:
        """Fade from what is on screen now into whatever comes next, over duration_s."""
        if self._out is not None and duration_s > 0:
            self._hold, self._t_hold_s, self._hold_s = self._out.copy(), t_s, duration_s

    def current_blend(self, t_s: float, enabled: bool = True) -> np.ndarray:
        assert self._cur is not None and self._prev is not None
        if not enabled:
            return self._cur
        # Sampled at the middle of the frame's time on screen (half a display frame ahead), so the
        # first frame after a new picture visibly moves toward it: the blend adds less latency.
        alpha = min(1.0, (t_s - self._t_cur_s + self._display_dt_s / 2) / max(self._interval_s, 1e-3))
        alpha = max(alpha, self._jump)
        if alpha >= 1.0:
            return self._cur
        return cv2.addWeighted(self._prev, 1.0 - alpha, self._cur, alpha, 0.0)

    # ------------------------------------------------------------------ output
    def compose(self, t_s: float, params: dict[str, float], effects: EffectsPreset) -> np.ndarray | None:
        """The frame to show now, (H, W, 3) uint8 sized to fill (cover) or fit (letterbox) the screen."""
        if self._t_compose_s is not None and t_s - self._t_compose_s > 0:
            dt_s = min(MAX_LEAD_S, t_s - self._t_compose_s)
            self._display_dt_s += (dt_s - self._display_dt_s) * 0.1
        self._t_compose_s = t_s
        if self._cur is None:
            return None
        img = self.current_blend(t_s, effects.frame_blend)
        if not self.effects_enabled:
            params = {}
        if effects.kaleidoscope >= 2 and self.effects_enabled:
            img = self._kaleidoscope(img, effects.kaleidoscope)
        hue = params.get("hue_shift", 0.0)
        if abs(hue) > 1e-3:
            img = _hue_rotate(img, hue)
        trails = params.get("trails", 0.0)
        if trails > 0.01 and self._out is not None and self._out.shape == img.shape:
            img = cv2.addWeighted(img, 1.0 - trails, self._out, trails, 0.0)
        self._out = img
        if self._hold is not None:
            progress = (t_s - self._t_hold_s) / self._hold_s
            if progress >= 1.0 or self._hold.shape != img.shape:
                self._hold = None
            else:
                eased = progress * progress * (3 - 2 * progress)
                img = cv2.addWeighted(self._hold, 1.0 - eased, img, eased, 0.0)
        return self._finish(img, params.get("zoom", 1.0), params.get("grain", 0.0), effects.upscale)

    def _finish(self, img: np.ndarray, zoom: float, grain: float, upscale: str) -> np.ndarray:
        h, w = img.shape[:2]
        if zoom > 1.001:
            cw, ch = max(2, round(w / zoom)), max(2, round(h / zoom))
            x, y = (w - cw) // 2, (h - ch) // 2
            img = img[y : y + ch, x : x + cw]
        (x, y, cw, ch), dst = fit_rect(img.shape[1], img.shape[0], *self.screen_size, self.fit)
        img = img[y : y + ch, x : x + cw]
        interp = cv2.INTER_CUBIC if upscale == "sharp" else cv2.INTER_LINEAR
        if grain > 0.002:
            noisy = img.astype(np.float32) + self._grain_patch(img.shape[:2]) * (grain * 255.0)
            img = np.clip(noisy, 0, 255).astype(np.uint8)
        if (img.shape[1], img.shape[0]) == dst:
            return np.ascontiguousarray(img)
        if self._big is None or (self._big.shape[1], self._big.shape[0]) != dst:
            self._big = np.empty((dst[1], dst[0], 3), np.uint8)
        return cv2.resize(img, dst, dst=self._big, interpolation=interp)

    def _grain_patch(self, shape: tuple[int, int]) -> np.ndarray:
        h, w = shape
        reps = (math.ceil(h / GRAIN_TILE) + 1, math.ceil(w / GRAIN_TILE) + 1, 1)
        tile = np.tile(self._grain, reps) if reps[:2] != (1, 1) else self._grain
        y = int(self._rng.integers(0, tile.shape[0] - h + 1))
        x = int(self._rng.integers(0, tile.shape[1] - w + 1))
        return tile[y : y + h, x : x + w]

    def _kaleidoscope(self, img: np.ndarray, segments: int) -> np.ndarray:
        h, w = img.shape[:2]
        if self._kaleido_maps is None or self._kaleido_maps[:2] != (segments, (w, h)):
            self._kaleido_maps = (segments, (w, h), kaleidoscope_maps(w, h, segments))
        map_x, map_y = self._kaleido_maps[2]
        return cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)


def kaleidoscope_maps(w: int, h: int, segments: int) -> tuple[np.ndarray, np.ndarray]:
    """Remap tables folding every angle into one wedge, mirrored, around the centre."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    cx, cy = (w - 1) / 2, (h - 1) / 2
    dx, dy = xs - cx, ys - cy
    r = np.sqrt(dx * dx + dy * dy)
    wedge = 2 * np.pi / segments
    a = np.mod(np.arctan2(dy, dx), wedge)
    a = np.where(a > wedge / 2, wedge - a, a)  # mirror inside the wedge: no seams
    return (cx + r * np.cos(a)).astype(np.float32), (cy + r * np.sin(a)).astype(np.float32)


def _hue_rotate(img: np.ndarray, turns: float) -> np.ndarray:
    hsv = cv2.cvtColor(img, cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0].astype(np.int16) + int(turns * 180)) % 180  # OpenCV hue is 0..179
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)
