"""Senses as the app uses it: analysis threads fed by a video file and a sound file."""

import math
import shutil
import threading
import time
import wave
from pathlib import Path

import numpy as np

from installation.config import CameraConfig, MicrophoneConfig
from installation.senses import Senses, SenseSnapshot
from tests.media import write_test_video
from tests.runner import wait_for
from tests.test_features_audio import clicks

DATA = Path(__file__).parent / "data"
NAMES = {
    "loudness",
    "loudness_db",
    "motion",
    "brightness",
    "motion_x",
    "motion_y",
    "motion_cx",
    "motion_cy",
    "presence",
    "occupied",
    "faces",
    "face_x",
    "face_y",
    "face_size",
    "smile",
    "hue",
    "saturation",
    "band_low",
    "band_mid",
    "band_high",
    "spectral_centroid",
    "onset",
    "onset_count",
    "tempo_bpm",
    "beat_phase",
    "beat_confidence",
    "beat_count",
    *(f"chroma_{i}" for i in range(12)),
}


def read_until(senses, predicate, timeout_s):
    """The first features (read in 1/60 s steps) that satisfy predicate; the last read on timeout."""
    last = [{}]

    def check():
        last[0] = senses.read(1 / 60)
        return predicate(last[0])

    wait_for(check, timeout_s, interval_s=0.02)
    return last[0]


def senses_threads():
    return [t for t in threading.enumerate() if t.name.startswith("senses-") and t.is_alive()]


def test_senses_before_start_and_with_no_sources_reads_every_feature_at_rest():
    senses = Senses(CameraConfig(source="none"), MicrophoneConfig(source="none"))
    features = senses.read(1 / 60)
    assert set(features) == NAMES and all(isinstance(v, float) and math.isfinite(v) for v in features.values())
    assert features["loudness"] == 0.0 and features["motion"] == 0.0 and features["tempo_bpm"] == 0.0
    senses.start()
    time.sleep(0.2)
    snap = senses.snapshot()
    assert snap.silhouette_mask is None and snap.camera_frame_rgb is None and snap.faces == ()
    senses.close()
    assert not senses_threads()


def test_senses_threads_hear_a_real_drum_loop_and_see_a_moving_square(tmp_path):
    video = write_test_video(tmp_path / "room.avi", seconds=2.0, fps=20.0, size=(320, 240))
    wav = shutil.copy(DATA / "house_loop01.wav", tmp_path / "room.wav")  # 142 BPM
    senses = Senses(CameraConfig(source=str(video)), MicrophoneConfig(source=str(wav)))
    senses.start()
    try:
        assert {t.name for t in senses_threads()} == {"senses-vision", "senses-hearing"}
        first = senses.read(1 / 60)
        features = read_until(senses, lambda f: abs(f["tempo_bpm"] / 142.0 - 1) < 0.02 and f["beat_count"] >= 2, 9.0)
        assert abs(features["tempo_bpm"] / 142.0 - 1) < 0.02, features["tempo_bpm"]
        assert features["beat_confidence"] > 0.5 and features["onset_count"] > first["onset_count"] + 5
        assert features["loudness"] > 0.3 and features["loudness_db"] > -50 and features["motion"] > 0.0
        assert features["presence"] > 0.0 and set(features) == NAMES

        # The beat phase read at display rate moves on smoothly between analysis ticks.
        phases = []
        for _ in range(30):
            phases.append(senses.read(1 / 60)["beat_phase"])
            time.sleep(1 / 60)
        steps = np.diff(phases) % 1.0
        assert np.median(steps) > 0.0 and np.median(steps) < 0.2

        # read() only merges two published results: cheap enough for every display frame.
        costs = []
        for _ in range(300):
            t0 = time.perf_counter()
            senses.read(1 / 60)
            costs.append(time.perf_counter() - t0)
        assert np.median(costs) < 0.5e-3, np.median(costs)

        snap = senses.snapshot()
        assert isinstance(snap, SenseSnapshot) and snap.features.keys() == NAMES
        assert snap.silhouette_mask is not None and snap.silhouette_mask.shape == (120, 160)
        assert snap.silhouette_mask.dtype == np.uint8 and snap.camera_frame_rgb.shape == (120, 160, 3)
        assert snap.chroma.shape == (12,) and snap.chroma.dtype == np.float32
        rows = senses.calibration()
        assert {r[0] for r in rows} >= {"loudness", "band_low", "band_mid", "band_high", "onset", "motion"}
        assert all(len(r) == 5 and r[3] <= r[4] and 0.0 <= r[2] <= 1.0 for r in rows)
        assert senses.status()["camera"].state == "live" and senses.status()["microphone"].state == "live"
        assert sum(senses.cpu_seconds().values()) > 0.0
    finally:
        t0 = time.perf_counter()
        senses.close()
    assert time.perf_counter() - t0 < 3.0
    assert not senses_threads()


def test_every_click_played_into_the_microphone_is_heard_once(tmp_path):
    """The hearing thread places hops by the ring's timestamps: no audio analysed twice or skipped."""
    path = tmp_path / "clicks.wav"
    with wave.open(str(path), "wb") as out:  # 4 clicks per 2.4 s loop, the first at 0.1 s
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(44100)
        out.writeframes((clicks(100.0, 2.4, first_s=0.1) * 32767).astype("<i2").tobytes())
    senses = Senses(CameraConfig(source="none"), MicrophoneConfig(source=str(path)))
    senses.start()
    try:
        read_until(senses, lambda f: f["onset_count"] >= 1, 3.0)
        t_first = time.perf_counter()  # about 0.1 s into the file
        time.sleep(3.5)
        heard = senses.read(1 / 60)["onset_count"]
        elapsed_s = time.perf_counter() - t_first
    finally:
        senses.close()
    played = 1 + math.floor(elapsed_s / 0.6)  # clicks every 0.6 s, the loop keeps the spacing
    assert abs(heard - played) <= 1, (heard, played)


def test_synthetic_camera_never_claims_someone_is_there():
    senses = Senses(CameraConfig(source="/nonexistent/camera.mp4", retry_s=5.0), MicrophoneConfig(source="none"))
    senses.start()
    try:
        assert wait_for(lambda: senses.camera.status().state == "fallback", 10.0, interval_s=0.05)
        # Positive check: the drifting shapes are analysed (they light the picture and move), so the
        # zeros below are the senses' answer, not the absence of one.
        assert wait_for(lambda: senses.read(0.0)["brightness"] > 0.1 and senses.read(0.0)["motion"] > 0.0, 5.0), (
            senses.read(0.0)
        )
        time.sleep(1.0)  # analysed for a while: a presence would have risen by now (it attacks in 0.3 s)
        features = senses.read(0.0)
        assert senses.camera.status().state == "fallback"
        assert features["brightness"] > 0.1 and features["motion"] > 0.0  # still analysing
        assert features["presence"] == 0.0 and features["faces"] == 0.0
        assert senses.snapshot().camera_frame_rgb is None  # mirror mode gets nothing to encode
    finally:
        senses.close()
