"""The benchmark: the latency detector on a synthetic sequence, and a short end-to-end run."""

import json

import numpy as np

from installation.bench.__main__ import main as bench_main
from installation.bench.latency import StepMicrophone, calibrate_threshold, detect_steps


def test_detector_finds_a_known_injected_step():
    rng = np.random.default_rng(0)
    base, other = rng.integers(0, 255, (45, 80, 3)), rng.integers(0, 255, (45, 80, 3))
    times = [i / 60 for i in range(120)]  # 2 s at 60 fps
    step_s, shows_at = 0.905, 60  # the step lands between frames 54 and 55; frame 60 shows it
    thumbs = []
    for i in range(120):
        noise = rng.normal(0, 0.5, base.shape)  # no-step variation, well under the threshold
        picture = other if i >= shows_at else base
        thumbs.append(np.clip(picture + noise, 0, 255).astype(np.uint8))
    threshold = calibrate_threshold(thumbs[:40])
    result = detect_steps(times, thumbs, [step_s], threshold)
    assert result.missed == 0
    assert abs(result.latencies_ms[0] - (times[shows_at] - step_s) * 1e3) < 1e-6
    none = detect_steps(times, [thumbs[0]] * 120, [step_s], threshold)
    assert none.missed == 1 and none.latencies_ms == []


def test_step_microphone_switches_at_the_scheduled_times():
    mic = StepMicrophone(samplerate=1000)
    mic.schedule([10.0, 20.0])
    loud = mic.loud_at(np.array([9.9, 10.0, 15.0, 20.0, 25.0]))
    assert loud.tolist() == [False, True, True, False, False]


def test_bench_runs_end_to_end_and_writes_the_required_keys(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert bench_main(["--quick", "--seconds", "1", "--steps", "3", "--size", "480x270", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    for key in ("machine", "generators", "ours", "synchronous", "ratio_fps"):
        assert key in report
    for side in ("ours", "synchronous"):
        for key in ("display_fps", "generator_fps", "frame_time_p99_ms", "latency_p50_ms", "latency_p95_ms"):
            assert key in report[side], (side, key)
        assert report[side]["display_fps"] > 0 and report[side]["detected"] >= 1
    assert "seeded-cppn" in report["generators"] and report["generators"]["seeded-cppn"]["fps"] > 0
    assert report["machine"]["cores_logical"] >= 1 and report["machine"]["versions"]["torch"]
    field = report["field"]  # the Ink preset on a field model (an untrained one where none ships)
    assert field["display_fps"] > 0 and field["generator_fps"] > 0 and field["preset"] == "6-ink"
    assert field["render_ms"]["1920x1080"]["ms_p50"] > 0 and field["render_ms"]["3840x2160"]["ms_p50"] > 0
    assert "ratio" in capsys.readouterr().out
