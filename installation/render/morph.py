"""FieldCompositor: frame blend, trails, transitions and ink splashes in *field* space, then one render.

A field model's output is blended before it is thresholded, so a change of picture is a morph — the
strokes of one character flow into the next, every in-between is itself a crisp shape — never a
dissolve of two pictures. All of it works on the model's own few-dozen-pixel field (cheap); the
screen-sized work is the single FieldRenderer pass at the end. The timing of the frame blend and
transitions is the colour Compositor's (shared code): only what is blended differs.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from installation.mapping.names import PARAMETERS
from installation.mapping.presets import EffectsPreset
from installation.render.effects import Compositor
from installation.render.field import FieldRenderer, FieldStyle

MORPH_GRAIN = 0.35  # field units of smooth noise added mid-morph (none at either end), see morph()
MORPH_GRAIN_PX = 2.0  # model px: the size of the blots the noise makes
SPLASH_RISE = 0.35  # the splash parameter crossing this upward throws drops
SPLASH_S = 1.6  # a drop dries (shrinks away) over this long
SPLASH_DROPS = (3, 9)  # drops per splash at splash 0.35 .. 1


def morph_grain(shape: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(h, w) float32 smooth noise with standard deviation MORPH_GRAIN (made once per field size)."""
    noise = np.random.default_rng(seed + 7).standard_normal(shape).astype(np.float32)
    noise = np.asarray(cv2.GaussianBlur(noise, (0, 0), MORPH_GRAIN_PX, borderType=cv2.BORDER_REFLECT), np.float32)
    return noise * (MORPH_GRAIN / max(1e-6, float(noise.std())))


def morph(a: np.ndarray, b: np.ndarray, t: float, grain: np.ndarray) -> np.ndarray:
    """Field a becoming field b at t in 0..1. A plain blend of clipped distance fields leaves the deep
    inside of a vanishing stroke at exactly the threshold at t = 0.5 (a grey flash, then it pops);
    smooth noise that is zero at both ends makes that happen blot by blot, like ink soaking away."""
    out = cv2.addWeighted(a, 1.0 - t, b, t, 0.0)
    return cv2.scaleAdd(grain, 4.0 * t * (1.0 - t), out)


class Splash:
    """Ink drops thrown around the strokes: discs in field units that shrink as they dry."""

    def __init__(self, seed: int = 0) -> None:
        self._rng = np.random.default_rng(seed + 11)
        self._drops: list[tuple[float, float, float, float]] = []  # (x, y, radius model px, born t_s)
        self._armed = True

    def update(self, level: float, field: np.ndarray, t_s: float) -> None:
        """Throw drops when `level` rises past SPLASH_RISE (once per rise), near the ink's edge."""
        if level < SPLASH_RISE * 0.7:
            self._armed = True
        elif level >= SPLASH_RISE and self._armed:
            self._armed = False
            near = np.argwhere((field > -0.75) & (field < -0.2))  # just outside a stroke
            if near.size:
                n = round(SPLASH_DROPS[0] + (SPLASH_DROPS[1] - SPLASH_DROPS[0]) * min(1.0, level))
                for y, x in near[self._rng.integers(0, len(near), n)]:
                    jitter = self._rng.normal(0.0, 1.2, 2)
                    self._drops.append(
                        (float(x + jitter[0]), float(y + jitter[1]), float(self._rng.uniform(0.35, 1.4)), t_s)
                    )
        self._drops = [d for d in self._drops if t_s - d[3] < SPLASH_S]

    def apply(self, field: np.ndarray, spread_px: float, t_s: float) -> np.ndarray:
        """field with the living drops unioned in (a new array when there are drops)."""
        if not self._drops:
            return field
        h, w = field.shape
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
        out = field.copy()
        for x, y, radius, born in self._drops:
            life = 1.0 - (t_s - born) / SPLASH_S
            r = radius * math.sqrt(max(0.0, life))
            drop = (r - np.sqrt((xs - x) ** 2 + (ys - y) ** 2)) / spread_px  # signed distance, ink > 0
            np.maximum(out, np.clip(drop, -1.0, 1.0), out=out)
        return out


class FieldCompositor(Compositor):
    """Takes (h, w) float32 fields via add_frame; compose() returns the screen frame (H, W, 3) uint8
    (a reused buffer: copy it to keep it)."""

    def __init__(self, screen_size: tuple[int, int], seed: int = 0) -> None:
        self.renderer = FieldRenderer(screen_size, seed)
        super().__init__(screen_size, "letterbox", 360, seed)
        self.spread_px = 4.0
        self.splash = Splash(seed)
        self._seed = seed
        self._grain = np.zeros((1, 1), np.float32)

    def resize(self, screen_size: tuple[int, int]) -> None:
        super().resize(screen_size)
        self.renderer.resize(screen_size)

    def add_field(self, field: np.ndarray, spread_px: float, t_s: float, jump: float = 0.0) -> None:
        self.spread_px = spread_px
        self.add_frame(field, t_s, jump)

    def compose(self, t_s: float, params: dict[str, float], effects: EffectsPreset) -> np.ndarray | None:
        if self._t_compose_s is not None and t_s - self._t_compose_s > 0:
            dt_s = min(1 / 30, t_s - self._t_compose_s)
            self._display_dt_s += (dt_s - self._display_dt_s) * 0.1
        self._t_compose_s = t_s
        if self._cur is None:
            return None
        field = self.current_blend(t_s, effects.frame_blend)  # a morph between generator frames
        if effects.kaleidoscope >= 2 and self.effects_enabled:
            field = self._kaleidoscope(field, effects.kaleidoscope)
        trails = params.get("trails", 0.0) if self.effects_enabled else 0.0
        if trails > 0.01 and self._out is not None and self._out.shape == field.shape:
            field = cv2.addWeighted(field, 1.0 - trails, self._out, trails, 0.0)  # strokes linger, then flow on
        self._out = field
        if self._hold is not None:
            progress = (t_s - self._t_hold_s) / self._hold_s
            if progress >= 1.0:
                self._hold = None
            else:
                if self._hold.shape != field.shape:  # another model's size: bring the old field to the new grid
                    self._hold = cv2.resize(
                        self._hold, (field.shape[1], field.shape[0]), interpolation=cv2.INTER_LINEAR
                    )
                if self._grain.shape != field.shape:
                    self._grain = morph_grain(field.shape, self._seed)
                field = morph(self._hold, field, progress * progress * (3 - 2 * progress), self._grain)
        self.splash.update(params.get("splash", 0.0) if self.effects_enabled else 0.0, field, t_s)
        field = self.splash.apply(field, self.spread_px, t_s)
        style = style_from(params, effects)
        return self.renderer.render(field, self.spread_px, style, params.get("zoom", 1.0))


def style_from(params: dict[str, float], effects: EffectsPreset) -> FieldStyle:
    """The mapped parameters that shape the drawing (neutral values where a parameter is absent)."""

    def get(name: str) -> float:
        return float(params.get(name, PARAMETERS[name]))

    return FieldStyle(
        palette=effects.palette,
        threshold=get("threshold"),
        wetness=get("wetness"),
        warmth=get("warmth"),
        hue_shift=get("hue_shift"),
    )
