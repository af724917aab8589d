"""Heads-up display: performance figures, source meters and the current model, drawn over the picture."""

from __future__ import annotations

import pygame

PANEL_RGBA = (0, 0, 0, 170)
TEXT_RGB = (235, 235, 235)
METER_RGB = (90, 200, 120)
REFRESH_S = 0.25  # re-render text four times a second; every frame would cost the loop for nothing


class Hud:
    def __init__(self, font_px: int) -> None:
        pygame.font.init()
        self.font = pygame.font.Font(None, font_px)  # pygame's bundled font: no system fonts needed
        self.line_h = self.font.get_linesize()
        self._panel: pygame.Surface | None = None
        self._age_s = REFRESH_S

    def draw(self, target: pygame.Surface, dt_s: float, lines: list[str], meters: list[tuple[str, float]]) -> None:
        self._age_s += dt_s
        if self._panel is None or self._age_s >= REFRESH_S:
            self._age_s = 0.0
            self._panel = self._render(lines, meters)
        target.blit(self._panel, (12, 12))

    def _render(self, lines: list[str], meters: list[tuple[str, float]]) -> pygame.Surface:
        texts = [self.font.render(line, True, TEXT_RGB) for line in lines]
        labels = [self.font.render(label, True, TEXT_RGB) for label, _ in meters]
        label_w = max((t.get_width() for t in labels), default=0)
        meter_w = 160
        width = max([t.get_width() for t in texts] + [label_w + meter_w + 10]) + 20
        height = (len(texts) + len(meters)) * self.line_h + 16
        panel = pygame.Surface((width, height), pygame.SRCALPHA)
        panel.fill(PANEL_RGBA)
        y = 8
        for text in texts:
            panel.blit(text, (10, y))
            y += self.line_h
        for label, (_, value) in zip(labels, meters):
            panel.blit(label, (10, y))
            bar = pygame.Rect(20 + label_w, y + 3, meter_w, self.line_h - 6)
            pygame.draw.rect(panel, TEXT_RGB, bar, 1)
            fill = bar.inflate(-4, -4)
            fill.width = int(fill.width * min(1.0, max(0.0, value)))
            pygame.draw.rect(panel, METER_RGB, fill)
            y += self.line_h
        return panel
