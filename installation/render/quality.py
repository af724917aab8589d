"""Automatic quality: hold the target frame rate by trading picture quality for speed, and back.

Pure logic with injected measurements (the App feeds it once per second), so it is testable with
a manual clock. The ladder, from best to cheapest:

    render size steps (resolution-free models only) -> effects off -> a lighter model

Hysteresis: a step down needs `down_after_s` of falling behind; a step up needs `up_after_s` of
headroom, and a step up that is undone soon after doubles the wait before the next try (so a
machine on the edge settles instead of oscillating).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)

BEHIND = 0.9  # below 90 % of a target counts as falling behind
HEADROOM = 1.25  # predicted generator capacity must beat its target by 25 % before stepping up
RETRY_MAX_S = 120.0  # the longest wait between attempts to step up


@dataclass(frozen=True)
class QualityLevel:
    index: int  # 0 = best
    render_size: int  # px height for resolution-free models
    effects: bool  # kaleidoscope, hue, trails, grain on
    light_model: bool  # True: the lighter model replaces the configured one

    def describe(self) -> str:
        parts = [f"render {self.render_size} px", "effects on" if self.effects else "effects off"]
        if self.light_model:
            parts.append("light model")
        return ", ".join(parts)


@dataclass(frozen=True)
class Measurements:
    display_fps: float  # frames presented per second
    generator_fps: float  # generator frames received per second
    render_ms: float  # median time of one generator render (its capacity, even when idle-waiting)


@dataclass(frozen=True)
class Decision:
    level: QualityLevel
    previous: QualityLevel
    reason: str

    def line(self, total: int) -> str:
        arrow = "down" if self.level.index > self.previous.index else "up"
        return f"quality {arrow} to {self.level.index}/{total - 1} ({self.level.describe()}): {self.reason}"


def build_ladder(
    render_size: int, min_render_size: int, resolution_free: bool, has_light_model: bool, steps: int = 3
) -> list[QualityLevel]:
    """Levels from best to cheapest; render sizes shrink by 1/sqrt(2) (half the pixels) per step."""
    sizes = [render_size]
    if resolution_free:
        while len(sizes) <= steps and round(sizes[-1] / 2**0.5) >= min_render_size:
            sizes.append(round(sizes[-1] / 2**0.5))
    levels = [QualityLevel(i, s, True, False) for i, s in enumerate(sizes)]
    levels.append(QualityLevel(len(levels), sizes[-1], False, False))
    if has_light_model:
        levels.append(QualityLevel(len(levels), sizes[-1], False, True))
    return levels


def latch_timeout_s(render_ms_p50: float, display_fps: int, latch_fraction: float) -> float:
    """How long the display loop may wait for the frame it just requested: only when the usual
    render takes at most `latch_fraction` of a display frame, and then at most that share (or
    twice the usual render, if less), so the frame still fits its period (0: do not wait)."""
    budget_s = latch_fraction / display_fps
    render_s = render_ms_p50 / 1e3
    if render_s <= 0.0 or render_s > budget_s:
        return 0.0
    return min(budget_s, 2.0 * render_s)


class QualityController:
    """Feed `update(now_s, Measurements)` about once per second; it returns a Decision on a change."""

    def __init__(
        self,
        levels: list[QualityLevel],
        display_fps: float,
        generator_fps: float,
        down_after_s: float = 2.0,
        up_after_s: float = 5.0,
    ) -> None:
        self.levels = levels
        self.display_target = display_fps
        self.generator_target = generator_fps
        self.down_after_s = down_after_s
        self.up_after_s = up_after_s
        self.index = 0
        self._behind_s = 0.0
        self._ahead_s = 0.0
        self._up_wait_s = up_after_s
        self._last_s: float | None = None
        self._t_up_s = -1e9  # when we last stepped up

    @property
    def level(self) -> QualityLevel:
        return self.levels[self.index]

    def update(self, now_s: float, m: Measurements) -> Decision | None:
        dt_s = 0.0 if self._last_s is None else max(0.0, now_s - self._last_s)
        self._last_s = now_s
        display_behind = m.display_fps < self.display_target * BEHIND
        generator_behind = m.generator_fps < self.generator_target * BEHIND
        if display_behind or generator_behind:
            self._ahead_s = 0.0
            self._behind_s += dt_s
            if self._behind_s >= self.down_after_s and self.index < len(self.levels) - 1:
                if now_s - self._t_up_s < 2 * self.up_after_s + self.down_after_s:  # the last step up failed
                    self._up_wait_s = min(RETRY_MAX_S, self._up_wait_s * 2)
                what = "display" if display_behind else "generator"
                fps = m.display_fps if display_behind else m.generator_fps
                target = self.display_target if display_behind else self.generator_target
                return self._go(self.index + 1, now_s, f"{what} {fps:.1f} fps < target {target:g}")
            return None
        self._behind_s = 0.0
        if self.index == 0 or not self._room_above(m):
            self._ahead_s = 0.0
            return None
        self._ahead_s += dt_s
        if self._ahead_s >= self._up_wait_s:
            self._t_up_s = now_s
            return self._go(
                self.index - 1, now_s, f"headroom (render {m.render_ms:.1f} ms, display {m.display_fps:.1f} fps)"
            )
        return None

    def _room_above(self, m: Measurements) -> bool:
        """Would the next better level still hold the generator target? (Pixels scale the render time.)"""
        up, cur = self.levels[self.index - 1], self.level
        if m.render_ms <= 0:
            return True
        scale = (up.render_size / cur.render_size) ** 2 if up.render_size != cur.render_size else 1.0
        predicted_fps = 1000.0 / (m.render_ms * scale)
        return predicted_fps >= self.generator_target * HEADROOM

    def _go(self, index: int, now_s: float, reason: str) -> Decision:
        previous = self.level
        self.index = index
        self._behind_s = self._ahead_s = 0.0
        decision = Decision(self.level, previous, reason)
        log.info(decision.line(len(self.levels)))
        return decision
