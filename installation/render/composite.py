"""PictureCore: the App's one compositor, whatever the model outputs.

Colour frames go through the colour Compositor (effects at a working size, one upscale); fields go
through the FieldCompositor (morphs in field space, one render at screen resolution). Switching
between a colour model and a field model crossfades the last picture of one into the other — the
only place two kinds of picture meet, so the only place a dissolve is right.

`PictureCore` does all of that on the caller's thread; `installation/render/picture.py`'s `Picture`
(the App's) runs it on a compose thread.
"""

from __future__ import annotations

import cv2
import numpy as np

from installation.mapping.presets import EffectsPreset
from installation.render.effects import Compositor, jump_weight
from installation.render.morph import FieldCompositor
from installation.render.worker import RenderResult


class PictureCore:
    """The compositing itself, single-threaded (the compose thread's, or a synchronous caller's)."""

    def __init__(self, screen_size: tuple[int, int], fit: str = "cover", work_height: int = 360, seed: int = 0) -> None:
        self.colour = Compositor(screen_size, fit, work_height, seed)
        self.field = FieldCompositor(screen_size, seed)
        self.kind = "colour"  # which compositor the newest frame went to
        self._effects_enabled = True
        self._transition_s = 0.0  # the crossfade length last asked for
        self._hold: np.ndarray | None = None  # the other kind's last picture, at the working size
        self._t_hold_s = 0.0
        self._last: np.ndarray | None = None  # the last composed frame (a compositor's reused buffer)
        self._z: np.ndarray | None = None  # latent of the newest result: a far step skips the blend

    @property
    def work_size(self) -> tuple[int, int]:
        return self.colour.work_size

    @property
    def screen_size(self) -> tuple[int, int]:
        return self.colour.screen_size

    @property
    def effects_enabled(self) -> bool:
        return self._effects_enabled

    @effects_enabled.setter
    def effects_enabled(self, enabled: bool) -> None:
        self._effects_enabled = self.colour.effects_enabled = self.field.effects_enabled = enabled

    def resize(self, screen_size: tuple[int, int]) -> None:
        self.colour.resize(screen_size)
        self.field.resize(screen_size)
        self._hold = None

    def start_transition(self, t_s: float, duration_s: float) -> None:
        self._transition_s = duration_s
        self.colour.start_transition(t_s, duration_s)
        self.field.start_transition(t_s, duration_s)

    def add_frame(self, frame_rgb: np.ndarray, t_s: float, jump: float = 0.0) -> None:
        """A colour frame (kept for callers that only have pixels)."""
        self._switch("colour", t_s)
        self.colour.add_frame(frame_rgb, t_s, jump)

    def add_result(self, result: RenderResult, t_s: float) -> None:
        """A finished render: a field or a colour frame. A big latent step shows in the next frame."""
        jump = jump_weight(self._z, result.z)
        if result.z is not None:
            self._z = result.z
        if result.field is not None:
            self._switch("field", t_s)
            self.field.add_field(result.field, result.field_spread_px, t_s, jump)
        elif result.frame_rgb is not None:
            self.add_frame(result.frame_rgb, t_s, jump)

    def _switch(self, kind: str, t_s: float) -> None:
        if kind == self.kind:
            return
        if self._last is not None and self._transition_s > 0:
            self._hold = cv2.resize(self._last, self.work_size, interpolation=cv2.INTER_AREA)
            self._t_hold_s = t_s
        self.kind = kind

    def compose(self, t_s: float, params: dict[str, float], effects: EffectsPreset) -> np.ndarray | None:
        active = self.field if self.kind == "field" else self.colour
        out = active.compose(t_s, params, effects)
        if out is not None and self._hold is not None:
            progress = (t_s - self._t_hold_s) / max(self._transition_s, 1e-6)
            if progress >= 1.0:
                self._hold = None
            else:
                eased = progress * progress * (3 - 2 * progress)
                held = cv2.resize(self._hold, (out.shape[1], out.shape[0]), interpolation=cv2.INTER_LINEAR)
                out = cv2.addWeighted(held, 1.0 - eased, out, eased, 0.0)
        self._last = out
        return out
