"""The smile feature on real faces: NASA's smiling astronaut vs Grace Hopper's neutral portrait,
each filmed as a shaky 160x120 camera video (tests/media.py), through the real VideoAnalyser."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from installation.features.faces import FaceDetector, SmileDetector
from installation.features.look import VideoAnalyser
from installation.features.video import gray_u8
from tests.media import write_photo_video

DATA = Path(__file__).parent / "data"


def analyse(video: Path) -> list[dict[str, float]]:
    cap = cv2.VideoCapture(str(video))
    analyser, features, i = VideoAnalyser(), [], 0
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        features.append(analyser.update(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB), i / 10).features)
        i += 1
    cap.release()
    return features


@pytest.fixture(scope="module")
def videos(tmp_path_factory):
    d = tmp_path_factory.mktemp("faces")
    return {
        name: write_photo_video(DATA / f"{name}_320x240.jpg", d / f"{name}.avi", seconds=4.0)
        for name in ("astronaut", "grace_hopper")
    }


def test_a_smiling_face_reads_as_a_smile_and_a_neutral_one_does_not(videos):
    smiling, neutral = analyse(videos["astronaut"]), analyse(videos["grace_hopper"])
    assert len(smiling) == len(neutral) == 40
    # both faces are found (so the smile detector ran on both)
    assert sum(f["faces"] >= 1 for f in smiling) > 20 and sum(f["faces"] >= 1 for f in neutral) > 20
    smile_s = np.array([f["smile"] for f in smiling])
    smile_n = np.array([f["smile"] for f in neutral])
    assert np.all((smile_s >= 0.0) & (smile_s <= 1.0)) and np.all((smile_n >= 0.0) & (smile_n <= 1.0))
    assert smile_s.max() > 0.5, smile_s.round(2)
    assert smile_n.max() < 0.2, smile_n.round(2)
    assert smile_s[10:].mean() > smile_n[10:].mean() + 0.25


def test_no_face_no_smile_and_the_detector_counts_more_windows_on_a_smile():
    photo = cv2.cvtColor(cv2.imread(str(DATA / "astronaut_320x240.jpg")), cv2.COLOR_BGR2RGB)
    small = cv2.resize(photo, (160, 120), interpolation=cv2.INTER_AREA)
    faces = FaceDetector().detect(gray_u8(small))
    assert faces
    detector = SmileDetector()
    assert detector.available
    score, count = detector.score(gray_u8(small), faces[0])
    assert count > 0 and 0.0 < score <= 1.0
    blank = VideoAnalyser()
    for i in range(10):
        result = blank.update(np.full((120, 160, 3), 90, np.uint8), i / 10)
    assert result.features["smile"] == 0.0 and result.features["faces"] == 0
    assert ("smile", 0.0, 0.0, 8.0, 26.0) in result.calibration  # shown on the F3 calibration page
