"""Camera features on known pictures: flow, background/presence, colour, faces, and a real video."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from installation.features import flow, presence, video
from installation.features.faces import FaceDetector
from installation.features.look import VideoAnalyser

DATA = Path(__file__).parent / "data"
W, H = 160, 120


def texture(width, height, seed=0):
    """Smooth random grey texture (uint8): something optical flow can follow."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0, 255, (height, width)).astype(np.float32)
    return cv2.GaussianBlur(noise, (0, 0), 2.0).clip(0, 255).astype(np.uint8)


def moving_window(dx, dy, frames=6):
    """Grey frames cropped from a large texture, the crop moving by (-dx, -dy) px per frame, so the
    picture content moves by (+dx, +dy)."""
    big = cv2.normalize(texture(W + 100, H + 100), None, 0, 255, cv2.NORM_MINMAX)
    return [big[50 - i * dy : 50 - i * dy + H, 50 - i * dx : 50 - i * dx + W] for i in range(frames)]


def stats_of(frames, dt_s=1 / 30):
    dense = flow.DenseFlow()
    out = None
    for f in frames:
        out = flow.motion_stats(dense.update(np.ascontiguousarray(f)), dt_s)
    return out


@pytest.mark.parametrize("dx, dy", [(2, 0), (-2, 0), (0, 2), (0, -2)])
def test_flow_direction_of_a_moving_picture(dx, dy):
    s = stats_of(moving_window(dx, dy))
    assert s.direction_x == pytest.approx(np.sign(dx), abs=0.15)
    assert s.direction_y == pytest.approx(np.sign(dy), abs=0.15)
    assert s.speed == pytest.approx(2 * 30 / W, rel=0.3)  # 2 px per frame at 30 fps, in widths per second
    assert s.moving > 0.8


def test_flow_centroid_is_where_things_move_and_still_pictures_do_not_move():
    background = texture(W, H, seed=1)
    patch = texture(30, 30, seed=2)
    frames = []
    for i in range(6):
        f = background.copy()
        f[70:100, 10 + 3 * i : 40 + 3 * i] = patch  # a patch sliding right in the bottom-left
        frames.append(f)
    s = stats_of(frames)
    assert s.centroid_x < 0.4 and s.centroid_y > 0.55 and s.direction_x > 0.5
    still = stats_of([background] * 4)
    assert still.speed == 0.0 and (still.centroid_x, still.centroid_y) == (0.5, 0.5)


def test_flow_ignores_sensor_noise():
    rng = np.random.default_rng(0)
    base = texture(W, H).astype(np.float32)
    frames = [np.clip(base + rng.normal(0, 3, base.shape), 0, 255).astype(np.uint8) for _ in range(10)]
    assert stats_of(frames).speed < 0.002


def scene(gain=1.0, blob=None):
    """A textured room; optionally a dark person-sized blob at (x, y); gain scales the light."""
    f = texture(W, H, seed=4).astype(np.float32) * 0.6 + 60
    if blob is not None:
        x, y = blob
        f[y : y + 60, x : x + 24] = 20
    return np.clip(f * gain, 0, 255).astype(np.uint8)


def run_foreground(frames, dt_s=0.1):
    fg = presence.Foreground()
    return [fg.update(f, dt_s) for f in frames]


def test_a_person_entering_the_room_shows_up_in_the_mask_and_area():
    out = run_foreground([scene()] * 30 + [scene(blob=(40 + 2 * i, 40)) for i in range(10)])
    mask, occupied = out[-1]
    assert mask.shape == (H, W) and mask.dtype == np.uint8 and set(np.unique(mask)) <= {0, 255}
    assert occupied == pytest.approx(24 * 60 / (W * H), rel=0.4)
    assert mask[70, 40 + 18 + 12] == 255 and mask[10, 10] == 0  # on the blob; an empty corner
    assert presence.presence_from_area(occupied) == 1.0 and presence.presence_from_area(0.0005) == 0.0


def test_slow_light_changes_and_a_sudden_dimming_are_not_visitors():
    ramp = [scene(gain=1.0 + 0.6 * i / 300) for i in range(300)]  # 30 s of dawn: 60% brighter
    assert max(occ for _, occ in run_foreground(ramp)[20:]) < 0.02
    step = [scene()] * 30 + [scene(gain=0.6)] * 30  # the lights dim at once
    occupied = [occ for _, occ in run_foreground(step)]
    assert max(occupied[32:]) < 0.05


def test_someone_who_stays_put_fades_into_the_background_slowly():
    frames = [scene()] * 20 + [scene(blob=(60, 30))] * 600  # a visitor sits still for a minute
    occupied = [occ for _, occ in run_foreground(frames)]
    assert occupied[25] > 0.05  # seen at once ...
    assert occupied[20 + 50] > 0.05  # ... still there 5 s later ...
    assert occupied[-1] < 0.01  # ... and part of the room after a minute


@pytest.mark.parametrize("rgb, hue", [((220, 30, 30), 0.0), ((30, 200, 40), 0.33), ((30, 40, 210), 0.66)])
def test_dominant_colour_of_plain_frames(rgb, hue):
    frame = np.zeros((H, W, 3), np.uint8)
    frame[:] = rgb
    h, s = video.dominant_colour(frame)
    assert min(abs(h - hue), 1 - abs(h - hue)) < 0.03 and s > 0.75


def test_a_grey_room_has_no_saturation_and_a_red_coat_wins_the_hue():
    grey = np.full((H, W, 3), 128, np.uint8)
    assert video.dominant_colour(grey)[1] < 0.02
    grey[40:80, 60:100] = (200, 20, 20)  # a red coat on a fifth of the picture
    h, s = video.dominant_colour(grey)
    assert min(h, 1 - h) < 0.03 and 0.05 < s < 0.4


def load_rgb(name, size=(W, H)):
    bgr = cv2.imread(str(DATA / name))
    return cv2.cvtColor(cv2.resize(bgr, size, interpolation=cv2.INTER_AREA), cv2.COLOR_BGR2RGB)


def test_haar_finds_the_astronauts_face_at_camera_resolution():
    photo = load_rgb("astronaut_320x240.jpg")
    faces = FaceDetector().detect(video.gray_u8(photo))
    assert len(faces) == 1
    x, y, w, h = faces[0]
    assert 0.36 < x + w / 2 < 0.54 and 0.2 < y + h / 2 < 0.42 and 0.12 < w < 0.3  # her face, hand-measured
    assert FaceDetector().detect(np.full((H, W), 128, np.uint8)) == ()


def test_video_analyser_on_a_still_portrait_reports_the_face_and_presence():
    photo = load_rgb("astronaut_320x240.jpg")
    analyser = VideoAnalyser()
    for i in range(10):
        result = analyser.update(photo, i / 10)
    f = result.features
    assert f["faces"] == 1 and f["presence"] > 0.7 and 0.12 < f["face_size"] < 0.3
    assert 0.36 < f["face_x"] < 0.54 and 0.2 < f["face_y"] < 0.42
    assert f["motion"] == 0.0 and f["saturation"] > 0.2  # an orange suit
    assert min(f["hue"], 1 - f["hue"]) < 0.1  # orange-red


def read_video(name):
    cap = cv2.VideoCapture(str(DATA / name))
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames


def test_people_walking_in_a_real_video():
    frames = read_video("vtest_people_160x120.avi")  # 4 s at 10 fps
    assert len(frames) == 40 and frames[0].shape == (H, W, 3)
    analyser = VideoAnalyser()
    results = [analyser.update(f, i / 10) for i, f in enumerate(frames * 2)]  # looped, as the camera does
    second = results[40:]
    motion = np.array([r.features["motion"] for r in second])
    occupied = np.array([r.features["occupied"] for r in second])
    assert motion.mean() > 0.1 and np.all(np.isfinite(motion))
    assert 0.002 < occupied.mean() < 0.1  # a few small people in a big street
    assert np.mean([r.features["presence"] for r in second]) > 0.15
    assert max(r.features["faces"] for r in results) == 0  # heads 6 px tall: no false faces
    # The silhouette mask sits on the people. Truth: where a frame differs from the clip's median
    # (a clean plate: people keep moving, so the median is the empty street).
    grays = np.stack([video.gray_u8(f).astype(np.float32) for f in frames])
    plate = np.median(grays, axis=0)
    precision, recall = [], []
    for i, r in enumerate(second):
        truth = np.abs(grays[i] - plate) > 20
        near_truth = cv2.dilate(truth.astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
        mask = r.silhouette_mask > 0
        precision.append(near_truth[mask].mean() if mask.any() else 0.0)
        recall.append(mask[truth].mean() if truth.any() else 1.0)
    assert np.mean(precision) > 0.65 and np.mean(recall) > 0.6, (np.mean(precision), np.mean(recall))
    # a frozen picture of the same street: nothing moves
    frozen = VideoAnalyser()
    for i in range(20):
        still = frozen.update(frames[0], i / 10)
    assert still.features["motion"] == 0.0 and still.features["occupied"] < 0.002
