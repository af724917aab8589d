"""The field renderer: crisp edges in screen pixels at any size, palettes, morphs in field space."""

import cv2
import numpy as np
import pytest

from installation.mapping.presets import EffectsPreset
from installation.render.effects import Compositor
from installation.render.field import PALETTES, FieldRenderer, FieldStyle
from installation.render.morph import FieldCompositor

SPREAD_PX = 4.0
SIDE = 64


def disc_field(cx: float, cy: float, radius: float, side: int = SIDE) -> np.ndarray:
    """The dataset's encoding of a disc: f = clip(-signed_distance / spread, -1, 1), ink > 0."""
    ys, xs = np.mgrid[0:side, 0:side].astype(np.float32)
    return np.clip((radius - np.hypot(xs - cx, ys - cy)) / SPREAD_PX, -1.0, 1.0).astype(np.float32)


def luma(img: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(img, cv2.COLOR_RGB2GRAY).astype(np.float32)


def radial_profile(grey: np.ndarray, centre: tuple[float, float], r_lo: float, r_hi: float, step: float = 0.1):
    """Mean grey along 720 rays from centre, sampled every `step` px (texture averages out)."""
    radii = np.arange(r_lo, r_hi, step, dtype=np.float32)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False, dtype=np.float32)
    map_x = (centre[0] + np.cos(angles)[:, None] * radii[None, :]).astype(np.float32)
    map_y = (centre[1] + np.sin(angles)[:, None] * radii[None, :]).astype(np.float32)
    samples = cv2.remap(grey, map_x, map_y, cv2.INTER_LINEAR)
    return radii, samples.mean(axis=0)


def edge_width_px(img: np.ndarray, field_radius_model_px: float, px_per_model_px: float) -> float:
    """10-90 % rise distance of the ink edge, in screen px, from the rendered image."""
    h, w = img.shape[:2]
    centre = ((w - 1) / 2, (h - 1) / 2)  # the disc is centred in the field, the field on the screen
    r_edge = field_radius_model_px * px_per_model_px
    radii, prof = radial_profile(luma(img), centre, r_edge - 8, r_edge + 8)
    ink, paper = prof[:10].mean(), prof[-10:].mean()
    t = (prof - ink) / (paper - ink)
    return float(radii[np.argmax(t >= 0.9)] - radii[np.argmax(t >= 0.1)])


@pytest.mark.parametrize("size", [(1280, 720), (3840, 2160)])
def test_edge_is_one_to_two_screen_pixels_wide_at_any_size(size):
    renderer = FieldRenderer(size)
    centre = (SIDE - 1) / 2
    img = renderer.render(disc_field(centre, centre, 18.0), SPREAD_PX, FieldStyle(palette="ink", wetness=0.0))
    k = renderer.px_per_model_px(SIDE)
    assert k > 10  # a 64 px field enlarged 10x (720p) and 32x (4K): a colour enlargement blurs that much
    width = edge_width_px(img, 18.0, k)
    assert 0.6 <= width <= 2.0, (size, width)
    # The same measure on the colour route (render small, enlarge the colours) sees the blur.
    small = FieldRenderer((SIDE, SIDE)).render(
        disc_field(centre, centre, 18.0), SPREAD_PX, FieldStyle(palette="ink", wetness=0.0)
    )
    # the small render's field fills FIELD_FILL of its side: enlarge by the same on-screen scale
    enlarged = cv2.resize(
        small, (round(SIDE * k / FieldRenderer((SIDE, SIDE)).px_per_model_px(SIDE)),) * 2, interpolation=cv2.INTER_CUBIC
    )
    pad_x, pad_y = (size[0] - enlarged.shape[1]) // 2, (size[1] - enlarged.shape[0]) // 2
    canvas = cv2.copyMakeBorder(
        enlarged,
        max(0, pad_y),
        max(0, size[1] - enlarged.shape[0] - pad_y),
        max(0, pad_x),
        max(0, size[0] - enlarged.shape[1] - pad_x),
        cv2.BORDER_REPLICATE,
    )
    assert edge_width_px(canvas[: size[1], : size[0]], 18.0, k) > 4 * width


def region_mean(img: np.ndarray, mask: np.ndarray) -> np.ndarray:
    return img[mask].astype(np.float32).mean(axis=0)


def test_palettes_draw_their_documented_colours_and_differ():
    size = (640, 360)
    renderer = FieldRenderer(size)
    centre = (SIDE - 1) / 2
    field = disc_field(centre, centre, 14.0)
    h, w = size[1], size[0]
    ys, xs = np.mgrid[0:h, 0:w]
    r = np.hypot(xs - (w - 1) / 2, ys - (h - 1) / 2)
    k = renderer.px_per_model_px(SIDE)
    inside = (r < 14.0 * k * 0.3) & (r > 14.0 * k * 0.15)  # near the centre, but past neon's white core
    edge_inside = (r > 14.0 * k - 0.8 * k) & (r < 14.0 * k - 0.4 * k)  # in the stroke, near its edge
    far = r > 34.0 * k  # beyond the halo
    images = {}
    for name, palette in PALETTES.items():
        img = renderer.render(field, SPREAD_PX, FieldStyle(palette=name, wetness=0.0)).copy()
        images[name] = img
        texture = renderer.texture(palette)
        paper = np.array(palette.paper_rgb, np.float32) * region_mean(texture, far) / 255.0
        assert np.abs(region_mean(img, far) - paper).max() <= 4, (name, region_mean(img, far), paper)
        ink = np.array(palette.ink_rgb, np.float32) * region_mean(texture, edge_inside) / 255.0
        assert np.abs(region_mean(img, edge_inside) - ink).max() <= 12, (name, region_mean(img, edge_inside), ink)
        core = palette.core_rgb or palette.ink_rgb
        assert np.abs(region_mean(img, inside) - np.array(core) * region_mean(texture, inside) / 255.0).max() <= 12
    names = list(images)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            assert np.abs(images[a].astype(np.int16) - images[b]).mean() > 25, (a, b)


def test_threshold_thickens_and_wetness_spreads_the_wash():
    renderer = FieldRenderer((640, 360))
    centre = (SIDE - 1) / 2
    field = disc_field(centre, centre, 12.0)
    ink_area = [
        float((luma(renderer.render(field, SPREAD_PX, FieldStyle(threshold=t))) < 100).mean()) for t in (-0.3, 0.0, 0.3)
    ]
    assert ink_area[0] < ink_area[1] < ink_area[2]
    # Just outside the stroke the wash darkens the paper more when wet.
    k = renderer.px_per_model_px(SIDE)
    ys, xs = np.mgrid[0:360, 0:640]
    r = np.hypot(xs - 319.5, ys - 179.5)
    ring = (r > 12.0 * k + 3) & (r < 12.0 * k + 1.5 * k)
    dry = luma(renderer.render(field, SPREAD_PX, FieldStyle(wetness=0.0)))[ring].mean()
    wet = luma(renderer.render(field, SPREAD_PX, FieldStyle(wetness=1.0)))[ring].mean()
    assert wet < dry - 10, (dry, wet)


def test_warmth_moves_paper_toward_amber():
    renderer = FieldRenderer((320, 180))
    field = disc_field(10, 10, 3)
    cool = renderer.render(field, SPREAD_PX, FieldStyle(warmth=-1.0))[170:, 300:].reshape(-1, 3).mean(0)
    warm = renderer.render(field, SPREAD_PX, FieldStyle(warmth=1.0))[170:, 300:].reshape(-1, 3).mean(0)
    assert warm[0] - warm[2] > cool[0] - cool[2] + 40


def binary_share(img: np.ndarray, ink_level: float, paper_level: float) -> float:
    """Share of pixels that are neither ink nor paper (between 25 % and 75 % of the way)."""
    t = (luma(img) - ink_level) / (paper_level - ink_level)
    return float(((t > 0.25) & (t < 0.75)).mean())


def test_a_change_of_picture_is_a_morph_not_a_dissolve():
    size = (640, 360)
    left, right = disc_field(20, 31.5, 9.0), disc_field(43, 31.5, 9.0)
    effects = EffectsPreset(frame_blend=False)
    fields = FieldCompositor(size)
    fields.add_field(left, SPREAD_PX, 0.0)
    before = fields.compose(0.0, {"wetness": 0.0}, effects).copy()
    fields.start_transition(0.0, 2.0)
    fields.add_field(right, SPREAD_PX, 0.01)
    middle = fields.compose(1.0, {"wetness": 0.0}, effects).copy()
    after = fields.compose(2.5, {"wetness": 0.0}, effects).copy()
    ink, paper = float(np.percentile(luma(before), 1)), float(np.percentile(luma(before), 90))
    # The colour compositor, given the two end pictures, dissolves them: a large half-tone ghost.
    colours = Compositor(size, "cover", 360)
    colours.add_frame(before, 0.0)
    colours.compose(0.0, {}, effects)
    colours.start_transition(0.0, 2.0)
    colours.add_frame(after, 0.01)
    dissolve = colours.compose(1.0, {}, effects)
    assert binary_share(dissolve, ink, paper) > 0.03
    # The field morph is a shape at every moment: grey only on its 1-2 px edge, and it is new ink in
    # between the two discs, not two half-strength discs.
    assert binary_share(middle, ink, paper) < 0.005, binary_share(middle, ink, paper)
    inked = luma(middle) < (ink + paper) / 2
    assert inked.any() and not np.array_equal(inked, luma(before) < (ink + paper) / 2)
    assert not np.array_equal(inked, luma(after) < (ink + paper) / 2)


def test_trails_and_frame_blend_work_on_the_field():
    size = (320, 180)
    fields = FieldCompositor(size)
    effects = EffectsPreset(frame_blend=True)
    fields.add_field(disc_field(20, 31.5, 9.0), SPREAD_PX, 0.0)
    fields.compose(0.0, {}, effects)
    fields.add_field(disc_field(43, 31.5, 9.0), SPREAD_PX, 0.1)  # the next generator frame
    halfway = fields.compose(0.1 + fields._interval_s / 2 - fields._display_dt_s / 2, {}, effects)
    ink, paper = 30.0, 220.0
    assert binary_share(halfway, ink, paper) < 0.01  # an in-between shape, not a double exposure


def test_splash_throws_drops_near_the_strokes_and_they_dry():
    size = (320, 180)
    fields = FieldCompositor(size, seed=3)
    effects = EffectsPreset(frame_blend=False)
    fields.add_field(disc_field(31.5, 31.5, 10.0), SPREAD_PX, 0.0)
    calm = luma(fields.compose(0.0, {"splash": 0.0}, effects).copy()) < 100
    splashed = luma(fields.compose(0.05, {"splash": 1.0}, effects).copy()) < 100
    assert splashed.sum() > calm.sum()  # drops appeared
    assert (splashed & ~calm).any()
    dry = luma(fields.compose(3.0, {"splash": 1.0}, effects).copy()) < 100  # held high: no new drops
    assert dry.sum() == calm.sum()


def test_switching_between_a_colour_model_and_a_field_model_crossfades_then_draws_the_field():
    from installation.render.picture import Picture
    from installation.render.worker import RenderResult

    size = (320, 180)
    picture = Picture(size, "cover", 90, threaded=False)
    effects = EffectsPreset(frame_blend=False)
    red = np.zeros((90, 160, 3), np.uint8)
    red[..., 0] = 200
    picture.add_result(RenderResult(red, 1, 0, 0.0, 1.0), 0.0)
    colour = picture.compose(0.0, {}, effects).copy()
    assert picture.kind == "colour" and colour.shape == (180, 320, 3) and colour[..., 0].mean() > 190
    picture.start_transition(0.0, 2.0)  # the model swap asks for a crossfade
    field = disc_field(31.5, 31.5, 12.0)
    picture.add_result(RenderResult(None, 2, 1, 0.0, 1.0, field=field, field_spread_px=SPREAD_PX), 0.1)
    assert picture.kind == "field"
    halfway = picture.compose(1.1, {}, effects).copy()
    done = picture.compose(2.5, {}, effects).copy()
    assert done.shape == halfway.shape == (180, 320, 3)
    reference = FieldRenderer(size).render(field, SPREAD_PX, FieldStyle())
    assert np.abs(done.astype(np.int16) - reference).mean() < 1.0  # after the fade: the field, drawn

    def red_share(img: np.ndarray) -> float:
        return float(img[..., 0].astype(np.int16).mean() - img[..., 2].astype(np.int16).mean())

    assert red_share(colour) > red_share(halfway) > red_share(done) + 20  # in between: both, fading


def test_hue_shift_turns_the_palette():
    renderer = FieldRenderer((320, 180))
    centre = (SIDE - 1) / 2
    field = disc_field(centre, centre, 12.0)
    plain = renderer.render(field, SPREAD_PX, FieldStyle(palette="gold", wetness=0.0))[90, 160].astype(int)
    turned = renderer.render(field, SPREAD_PX, FieldStyle(palette="gold", wetness=0.0, hue_shift=0.5))[90, 160].astype(
        int
    )
    assert plain[0] > plain[2] + 60  # pale gold: red over blue
    assert turned[2] > turned[0] + 60  # half a turn of the wheel: blue over red


def edge_radii_px(grey: np.ndarray, centre: tuple[float, float], r_lo: float, r_hi: float) -> np.ndarray:
    """Per ray (720 of them), the radius where grey first crosses halfway from ink to paper."""
    radii = np.arange(r_lo, r_hi, 0.1, dtype=np.float32)
    angles = np.linspace(0, 2 * np.pi, 720, endpoint=False, dtype=np.float32)
    map_x = (centre[0] + np.cos(angles)[:, None] * radii[None, :]).astype(np.float32)
    map_y = (centre[1] + np.sin(angles)[:, None] * radii[None, :]).astype(np.float32)
    rays = cv2.remap(grey, map_x, map_y, cv2.INTER_LINEAR)
    half = (rays[:, :5].mean() + rays[:, -5:].mean()) / 2
    return radii[np.argmax(rays >= half, axis=1)]


def test_a_generators_pixel_ripple_is_smoothed_out_of_the_stroke_edge_but_thin_strokes_stay():
    size = (1280, 720)
    centre_model = (SIDE - 1) / 2
    ripple = 0.12 * np.where(np.add.outer(np.arange(SIDE), np.arange(SIDE)) % 2 == 0, 1.0, -1.0).astype(np.float32)
    field = np.clip(disc_field(centre_model, centre_model, 18.0) + ripple, -1.0, 1.0)
    style = FieldStyle(palette="ink", wetness=0.0)
    centre = ((size[0] - 1) / 2, (size[1] - 1) / 2)
    raw, smooth = FieldRenderer(size, smooth_px=0.0), FieldRenderer(size)
    k = smooth.px_per_model_px(SIDE)
    r_lo, r_hi = 18.0 * k - 12, 18.0 * k + 12
    wobble_raw = float(np.std(edge_radii_px(luma(raw.render(field, SPREAD_PX, style)), centre, r_lo, r_hi)))
    edge = edge_radii_px(luma(smooth.render(field, SPREAD_PX, style)), centre, r_lo, r_hi)
    assert wobble_raw > 0.5, wobble_raw  # the model's ripple, enlarged, wobbles the edge by screen px
    assert float(np.std(edge)) < 0.5 * wobble_raw, (float(np.std(edge)), wobble_raw)
    assert abs(float(np.mean(edge)) - 18.0 * k) < 0.05 * k  # the stroke keeps its place and width
    # A stroke 3 model px wide (the thinnest a 64 px kai character has) still draws ink along its length.
    ys, xs = np.mgrid[0:SIDE, 0:SIDE].astype(np.float32)
    stroke = np.clip((1.5 - np.abs(xs - centre_model)) / SPREAD_PX, -1.0, 1.0) * (np.abs(ys - centre_model) < 20)
    stroke = np.where(np.abs(ys - centre_model) < 20, stroke, -1.0).astype(np.float32)
    img = luma(smooth.render(stroke, SPREAD_PX, style))
    column = img[int(centre[1] - 15 * k) : int(centre[1] + 15 * k), round(centre[0])]
    paper = float(np.median(img[:, :50]))
    assert float(column.max()) < 0.5 * paper, (float(column.max()), paper)
