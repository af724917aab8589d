"""Resolution-free rendering of shape fields: a small signed-distance field in, a crisp screen frame out.

A field model outputs f in [-1, 1] at its own few dozen pixels (ink > 0, 0 on the edge, +-1 at
`spread_px` model pixels from it). Enlarging colours blurs the edge by the enlargement; enlarging the
*field* and thresholding it afterwards keeps the edge 1-2 screen pixels wide at any size (the way
SDF text is drawn). Per frame, on the main thread:

0. a Gaussian of FIELD_SMOOTH_MODEL_PX on the small field takes out the generator's pixel ripple;
1. two small matrix products (an interpolating cubic B-spline, separable) place, scale and zoom the
   field onto an intermediate grid of 1/INTER_STEP of the screen, padded with "no ink";
2. there the field becomes a signed distance in *screen* pixels, d = (f + threshold) * spread_px *
   screen_px_per_model_px, divided by its own gradient (clipped), so the edge ramp is a fixed number of
   screen pixels whatever the model's field looks like; d is stored as a uint8 "tone"
   128 + A * asinh(d / B): linear near the edge (B px), compressed further out, so one byte holds both
   a sub-pixel edge and the halo's distances;
3. one bilinear cv2.resize of the tone to the screen (exact enough: the grid is fine and the tone
   linear where the edge is), one 256-entry colour LUT (edge, wash/glow halo, ink), and one multiply
   with a paper/lacquer/glass texture made once per screen size at screen resolution.

The LUT holds everything the show drives (wetness, warmth, hue, palette), so changing those costs
256 colours, not a screen of pixels.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import cv2
import numpy as np

INTER_STEP = 3  # screen px per intermediate px: the bilinear step that carries the field to the screen
EDGE_PX = 2.0  # width of the anti-aliased ramp in screen px (10-90 % about 1.2 px)
TONE_LINEAR_PX = 4.0  # B: the tone is linear in d within about this many screen px of the edge
FIELD_FILL = 0.95  # the field's side covers this fraction of the screen's shorter side
GRAD_CLIP = (0.5, 2.0)  # the field's own gradient (screen px per screen px) is trusted within this range
FIELD_PAD = 6  # model px of "no ink" around the field before it is resampled (the spline's reach)
BLEED = 0.6  # log-scale (x wetness, 1 sd) by which the wash's outside distances grow in blots: a bleed, not a shade
BLEED_GRAIN = 0.012  # the bleed's blots, as a share of the screen's shorter side
# A generated field ripples at its own pixel scale (a GAN's texture noise); enlarged 15x, the ripple
# becomes lumpy, wormy stroke edges and specks. A Gaussian of this many model px on the small field
# smooths the edge to a brush's; at 1.0 the thinnest strokes (a ridge 2-3 px wide) start to vanish.
FIELD_SMOOTH_MODEL_PX = 0.6
HALO_MODEL_PX = 2.5  # at wetness 1 the wash reaches about this many model px out (it scales with the screen)


@dataclass(frozen=True)
class Palette:
    name: str
    paper_rgb: tuple[int, int, int]  # far from the ink
    ink_rgb: tuple[int, int, int]  # inside a stroke
    halo_rgb: tuple[int, int, int]  # wash (ink on paper) or glow (neon) just outside the edge
    halo: float  # halo opacity at the edge at wetness 1
    core_rgb: tuple[int, int, int] | None  # deep inside a stroke (neon's white-hot core); None = ink_rgb
    texture: str  # "paper" | "lacquer" | "glass"
    texture_depth: float  # how far the texture darkens (0 = flat)


PALETTES: dict[str, Palette] = {
    "ink": Palette(
        "ink",
        paper_rgb=(236, 228, 210),
        ink_rgb=(22, 20, 24),
        halo_rgb=(120, 116, 118),
        halo=0.35,
        core_rgb=None,
        texture="paper",
        texture_depth=0.07,
    ),
    "neon": Palette(
        "neon",
        paper_rgb=(6, 6, 12),
        ink_rgb=(40, 255, 220),
        halo_rgb=(255, 40, 170),
        halo=0.55,
        core_rgb=(235, 255, 250),
        texture="glass",
        texture_depth=0.12,
    ),
    "gold": Palette(
        "gold",
        paper_rgb=(92, 14, 16),
        ink_rgb=(232, 184, 84),
        halo_rgb=(40, 4, 6),
        halo=0.6,
        core_rgb=(255, 226, 150),
        texture="lacquer",
        texture_depth=0.18,
    ),
}


@dataclass(frozen=True)
class FieldStyle:
    palette: str = "ink"  # a key of PALETTES
    threshold: float = 0.0  # -1..1 field units: > 0 thickens the stroke (spread_px model px at 1)
    wetness: float = 0.3  # 0..1 how far and how strongly the wash/glow spreads from the edge
    warmth: float = 0.0  # -1..1 cooler .. warmer colours
    hue_shift: float = 0.0  # -1..1 turns of the colour wheel


def smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def beta3(x: np.ndarray) -> np.ndarray:
    """The cubic B-spline kernel."""
    x = np.abs(x)
    return np.where(x < 1, 2 / 3 - x**2 + x**3 / 2, np.where(x < 2, (2 - x) ** 3 / 6, 0.0))


def resample_matrix(n_src: int, n_dst: int, scale: float, dst_centre: float, src_centre: float) -> np.ndarray:
    """(n_dst, n_src) float32: samples -> pixel centres of a grid `scale` times finer, by an interpolating
    cubic B-spline (prefilter folded in). Unlike OpenCV's bicubic (a = -0.75, which bends a linear ramp),
    it reproduces the field's straight and round contours to a few hundredths of a screen pixel."""
    u = (np.arange(n_dst) - dst_centre) / scale + src_centre  # source coordinate of each pixel centre
    taps = np.floor(u).astype(np.int64)[:, None] + np.arange(-1, 3)[None, :]  # the 4 samples B reaches
    weights = beta3(u[:, None] - taps)
    weights[(taps < 0) | (taps >= n_src)] = 0.0  # beyond the samples: "no ink" (the caller's padding)
    prefilter = bspline_prefilter(n_src)
    # B @ prefilter with B's 4 non-zeros per row, gathered (no BLAS call: its threads stall a busy machine)
    rows = prefilter[np.clip(taps, 0, n_src - 1)]  # (n_dst, 4, n_src)
    return np.einsum("dt,dts->ds", weights, rows).astype(np.float32)


@functools.lru_cache(maxsize=8)
def bspline_prefilter(n: int) -> np.ndarray:
    """(n, n): samples -> cubic B-spline coefficients that interpolate them (one per field size)."""
    i = np.arange(n, dtype=np.float64)
    return np.linalg.inv(beta3(i[:, None] - i[None, :]))


def warm(rgb: np.ndarray, warmth: float) -> np.ndarray:
    """(..., 3) float 0..255 shifted toward amber (warmth > 0) or blue (< 0)."""
    return np.clip(rgb * np.array([1 + 0.10 * warmth, 1 + 0.03 * warmth, 1 - 0.16 * warmth], np.float32), 0, 255)


def hue_rotate_rgb(rgb: np.ndarray, turns: float) -> np.ndarray:
    """(N, 3) float 0..255 with the hue turned by `turns` (float HSV: H in degrees, no rounding)."""
    hsv = cv2.cvtColor((rgb / 255.0).astype(np.float32)[:, None, :], cv2.COLOR_RGB2HSV)
    hsv[..., 0] = (hsv[..., 0] + 360.0 * turns) % 360.0
    return cv2.cvtColor(hsv, cv2.COLOR_HSV2RGB)[:, 0, :] * 255.0


class ToneCodec:
    """d (screen px, ink > 0) <-> uint8 tone 128 + A * asinh(d / B); saturates at +-max_px."""

    def __init__(self, max_px: float, linear_px: float = TONE_LINEAR_PX) -> None:
        self.b = linear_px
        self.a = 127.0 / math.asinh(max(max_px, 2 * linear_px) / linear_px)

    def encode(self, d: np.ndarray) -> np.ndarray:
        return np.clip(128.0 + self.a * np.arcsinh(d / self.b), 0, 255).astype(np.uint8)

    def decode(self, tone: np.ndarray) -> np.ndarray:
        return self.b * np.sinh((tone.astype(np.float32) - 128.0) / self.a)


def make_lut(
    palette: Palette, style: FieldStyle, codec: ToneCodec, px_per_model_px: float, spread_px: float = 4.0
) -> np.ndarray:
    """(256, 1, 3) uint8: the colour of every tone (a signed distance in screen px)."""
    d = codec.decode(np.arange(256))
    alpha = smoothstep(-EDGE_PX / 2, EDGE_PX / 2, d)[:, None]  # ink coverage of the pixel
    wet = float(np.clip(style.wetness, 0.0, 1.0))
    reach_px = max(1.0, (0.4 + HALO_MODEL_PX * wet) * px_per_model_px)  # halo width grows with wetness
    outside = np.maximum(0.0, -d)
    halo = palette.halo * (0.25 + 0.75 * wet) * np.exp(-outside / reach_px)
    horizon = min(codec.b * math.sinh(127 / codec.a), spread_px * px_per_model_px)  # the field says nothing beyond
    halo *= smoothstep(0.95 * horizon, 0.6 * horizon, outside)
    paper = np.array(palette.paper_rgb, np.float32)
    ground = paper + (np.array(palette.halo_rgb, np.float32) - paper) * halo[:, None]
    ink = np.array(palette.ink_rgb, np.float32)[None, :].repeat(256, 0)
    if palette.core_rgb is not None:  # deep inside a stroke the colour moves to the core colour
        depth = smoothstep(0.5 * px_per_model_px, 2.0 * px_per_model_px, d)[:, None]
        ink = ink + (np.array(palette.core_rgb, np.float32) - ink) * depth
    rgb = warm(ground * (1 - alpha) + ink * alpha, style.warmth)
    if abs(style.hue_shift) > 1e-3:
        rgb = hue_rotate_rgb(rgb, style.hue_shift)
    return np.clip(rgb + 0.5, 0, 255).astype(np.uint8).reshape(256, 1, 3)


def make_texture(kind: str, depth: float, size: tuple[int, int], seed: int = 0) -> np.ndarray:
    """(H, W, 3) uint8 multiplier at screen resolution: 255 = no change; made once per screen size."""
    w, h = size
    rng = np.random.default_rng(seed)
    if kind == "paper":  # fibres: fine grain plus short strands in every direction, and a slow cloud
        tex = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.8) * 0.6
        strands = (rng.random((h, w)) > 0.9985).astype(np.float32)
        for angle in (0, 45, 90, 135):
            kernel = cv2.getRotationMatrix2D((7, 7), angle, 1.0)
            line = cv2.warpAffine(np.pad(np.ones((1, 15), np.float32), ((7, 7), (0, 0))), kernel, (15, 15))
            tex += 0.5 * cv2.filter2D(strands, -1, line / line.sum() * 6)
        tex += (
            cv2.resize(
                rng.standard_normal((max(2, h // 64), max(2, w // 64))).astype(np.float32),
                (w, h),
                interpolation=cv2.INTER_CUBIC,
            )
            * 0.3
        )
    elif kind == "lacquer":  # fine lacquer crackle and a slow sheen
        tex = cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.6) * 0.7
        tex += (
            cv2.resize(
                rng.standard_normal((max(2, h // 120), max(2, w // 120))).astype(np.float32),
                (w, h),
                interpolation=cv2.INTER_CUBIC,
            )
            * 1.2
        )
    else:  # glass: a faint even grain
        tex = np.asarray(cv2.GaussianBlur(rng.standard_normal((h, w)).astype(np.float32), (0, 0), 0.7))
    lo, hi = np.percentile(tex[::7, ::7], (0.5, 99.5))
    tex = np.clip((tex - lo) / max(1e-6, float(hi - lo)), 0.0, 1.0)  # 0..1, mostly mid-grey
    mult = 255.0 * (1.0 - depth * tex)
    return cv2.cvtColor(np.clip(mult, 0, 255).astype(np.uint8), cv2.COLOR_GRAY2RGB)


class FieldRenderer:
    """Field (h, w) float32 -> (H, W, 3) uint8 at the screen size. Reuses its buffers: the returned
    frame is overwritten by the next render (copy it to keep it)."""

    def __init__(self, screen_size: tuple[int, int], seed: int = 0, smooth_px: float = FIELD_SMOOTH_MODEL_PX) -> None:
        self.seed = seed
        self.smooth_px = smooth_px  # model px (0: the field as the model made it)
        self._textures: dict[tuple[str, float, tuple[int, int]], np.ndarray] = {}
        self._lut_key: tuple[object, ...] | None = None
        self._matrix_key: tuple[object, ...] | None = None
        self._wyx = (np.zeros((1, 1), np.float32), np.zeros((1, 1), np.float32))
        self._band = (0, 0, 0, 0)  # rows r0:r1, columns c0:c1 of the intermediate grid the field reaches
        self._lut = np.zeros((256, 1, 3), np.uint8)
        self.resize(screen_size)

    def resize(self, screen_size: tuple[int, int]) -> None:
        self.screen_size = (max(2, screen_size[0]), max(2, screen_size[1]))
        w, h = self.screen_size
        self.inter_size = (max(2, math.ceil(w / INTER_STEP)), max(2, math.ceil(h / INTER_STEP)))
        self._out = np.empty((h, w, 3), np.uint8)
        self._rgb = np.empty((h, w, 3), np.uint8)
        self._tone = np.empty((h, w), np.uint8)
        self._tone_grid = np.empty((self.inter_size[1], self.inter_size[0]), np.uint8)
        self._textures.clear()
        self._lut_key = None
        self._matrix_key = None
        self._bleed: np.ndarray | None = None

    @property
    def frame(self) -> np.ndarray:
        """The buffer render() draws into (and returns)."""
        return self._out

    def take_frame(self, spare: np.ndarray) -> np.ndarray:
        """The frame just rendered, for keeps; `spare` (same shape and type) becomes the buffer the next
        render draws into: a zero-copy handoff to the thread that shows it."""
        if spare.shape != self._out.shape or spare.dtype != self._out.dtype:
            raise ValueError(f"spare buffer {spare.shape} {spare.dtype} does not fit {self._out.shape}")
        frame, self._out = self._out, spare
        return frame

    def bleed(self) -> np.ndarray:
        """(ih, iw) float32 smooth noise, standard deviation 1, fixed to the paper (made once per size)."""
        if self._bleed is None:
            iw, ih = self.inter_size
            noise = np.random.default_rng(self.seed + 5).standard_normal((ih, iw)).astype(np.float32)
            noise = np.asarray(cv2.GaussianBlur(noise, (0, 0), BLEED_GRAIN * min(iw, ih)), np.float32)
            self._bleed = noise / max(1e-6, float(noise.std()))
        return self._bleed

    def texture(self, palette: Palette) -> np.ndarray:
        key = (palette.texture, palette.texture_depth, self.screen_size)
        if key not in self._textures:
            self._textures[key] = make_texture(palette.texture, palette.texture_depth, self.screen_size, self.seed)
        return self._textures[key]

    def _matrices(self, fh: int, fw: int, k: float, offset: tuple[float, float]) -> tuple[np.ndarray, np.ndarray]:
        """Row matrix (ih, fh + pad) and transposed column matrix (fw + pad, iw) for this field size,
        scale and offset (cached)."""
        k = round(k, 2)  # a zoom driven by a rule changes k every frame: new matrices only per 1/100 px
        key = (fh, fw, k, round(offset[0], 4), round(offset[1], 4), self.screen_size)
        if self._matrix_key != key:
            (sw, sh), (iw, ih) = self.screen_size, self.inter_size
            step_x, step_y = sw / iw, sh / ih
            # the field's centre sample lands on the screen's centre (+ offset), pixel centres aligned
            wy = resample_matrix(
                fh + 2 * FIELD_PAD,
                ih,
                k / step_y,
                (sh * (0.5 + offset[1])) / step_y - 0.5,
                (fh + 2 * FIELD_PAD - 1) / 2,
            )
            wx = resample_matrix(
                fw + 2 * FIELD_PAD,
                iw,
                k / step_x,
                (sw * (0.5 + offset[0])) / step_x - 0.5,
                (fw + 2 * FIELD_PAD - 1) / 2,
            )
            # Only the band the (padded) field reaches is computed; beyond it the field is exactly "no ink".
            rows, cols = np.nonzero(np.abs(wy).max(axis=1))[0], np.nonzero(np.abs(wx).max(axis=1))[0]
            r0, r1 = (int(rows.min()), int(rows.max()) + 1) if rows.size else (0, 0)
            c0, c1 = (int(cols.min()), int(cols.max()) + 1) if cols.size else (0, 0)
            self._matrix_key = key
            self._wyx = (np.ascontiguousarray(wy[r0:r1]), np.ascontiguousarray(wx[c0:c1].T))
            self._band = (r0, r1, c0, c1)
        return self._wyx

    def px_per_model_px(self, field_side: int, zoom: float = 1.0) -> float:
        """Screen px per model px: the field's side fills FIELD_FILL of the screen's shorter side."""
        return FIELD_FILL * min(self.screen_size) * max(zoom, 1e-3) / max(1, field_side)

    def tone(
        self,
        field: np.ndarray,
        spread_px: float,
        style: FieldStyle,
        zoom: float = 1.0,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> tuple[np.ndarray, ToneCodec, float]:
        """The intermediate tone grid (ih, iw) uint8, its codec, and screen px per model px.

        offset: where the field's centre sits, in fractions of the screen (0, 0 = centred)."""
        fh, fw = field.shape
        k = self.px_per_model_px(max(fh, fw), zoom)
        sw = self.screen_size[0]
        step_x = sw / self.inter_size[0]  # screen px per intermediate px (about INTER_STEP)
        wy, wx_t = self._matrices(fh, fw, k, offset)
        r0, r1, c0, c1 = self._band
        codec = ToneCodec(max_px=(0.4 + HALO_MODEL_PX) * k * 1.6)
        no_ink = -(1.0 - style.threshold) * spread_px * k  # d where the field is -1 (beyond it: everywhere)
        self._tone_grid.fill(int(codec.encode(np.array(no_ink, np.float32))))
        if r1 <= r0 or c1 <= c0:
            return self._tone_grid, codec, k
        field = field.astype(np.float32, copy=False)
        if self.smooth_px > 0:  # on the model's few dozen px: microseconds
            field = cv2.GaussianBlur(field, (0, 0), self.smooth_px, borderType=cv2.BORDER_REPLICATE)
        # f + 1 is 0 where there is no ink at all, so the padding (and the screen beyond the field) is -1.
        grown: np.ndarray = np.pad(field + 1.0, FIELD_PAD)
        # (rows, cols) of the band: the field, placed, scaled and zoomed (plus one). cv2.gemm, not numpy's
        # @: OpenBLAS's thread pool spins, and on a busy 2-core machine one 0.2 ms product took up to 80 ms.
        placed = np.asarray(cv2.gemm(wy, grown, 1.0, None, 0.0))  # type: ignore[call-overload]  # src3 None is fine
        f = np.asarray(cv2.gemm(placed, wx_t, 1.0, None, 0.0))  # type: ignore[call-overload]
        d = (f - (1.0 - style.threshold)) * (spread_px * k)  # signed distance in screen px, ink > 0 (thicker at > 0)
        gx = cv2.Sobel(d, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(d, cv2.CV_32F, 0, 1, ksize=3)
        grad = np.clip(cv2.magnitude(gx, gy) * (1.0 / (8.0 * step_x)), *GRAD_CLIP)  # screen px of d per screen px
        # Only near the edge: further out the cubic's gradient ripples with the model's pixel grid, and
        # dividing by it would draw that ripple into the halo as rings.
        near = np.clip((8.0 - np.abs(d)) * 0.2, 0.0, 1.0)
        d /= 1.0 + (grad - 1.0) * near
        if style.wetness > 0.01:  # the wash bleeds unevenly along the paper's fibres; the edge itself stays put
            reach = np.clip((-d - 3.0) * (1.0 / 6.0), 0.0, 1.0)  # 0 within 3 px of the edge, 1 from 9 px out
            # Outside distances only ever grow (the wash holds back in blots): never ink, never a wash where
            # the field says there is nothing (beyond its spread).
            stretch = np.exp(np.maximum(self.bleed()[r0:r1, c0:c1], 0.0) * (BLEED * style.wetness)) - 1.0
            d *= 1.0 + reach * stretch
        self._tone_grid[r0:r1, c0:c1] = codec.encode(d)
        return self._tone_grid, codec, k

    def render(
        self,
        field: np.ndarray,
        spread_px: float,
        style: FieldStyle,
        zoom: float = 1.0,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> np.ndarray:
        palette = PALETTES.get(style.palette, PALETTES["ink"])
        tone, codec, k = self.tone(field, spread_px, style, zoom, offset)
        lut_key = (palette, style.wetness, style.warmth, style.hue_shift, round(k, 3), codec.a, spread_px)
        if lut_key != self._lut_key:
            self._lut, self._lut_key = make_lut(palette, style, codec, k, spread_px), lut_key
        cv2.resize(tone, self.screen_size, dst=self._tone, interpolation=cv2.INTER_LINEAR)
        cv2.applyColorMap(self._tone, self._lut, dst=self._rgb)  # a 1-channel LUT into 3 channels
        return cv2.multiply(self._rgb, self.texture(palette), dst=self._out, scale=1.0 / 255.0)
