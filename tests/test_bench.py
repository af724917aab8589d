"""The benchmark: the latency detector on a synthetic sequence, and a short end-to-end run."""

import json

import numpy as np

from installation.bench.__main__ import main as bench_main
from installation.bench.latency import BLOCK, StepMicrophone, calibrate_threshold, detect_steps
from installation.bench.stages import STAGES, RecordingSlot, StepCamera, Timeline, breakdown, summarize_stages


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


def test_step_microphone_delivers_whole_blocks_and_wakes_per_block():
    mic = StepMicrophone()
    samples, newest_s = mic.read_latest(BLOCK * 4)
    assert samples.shape == (BLOCK * 4,)
    written = mic.wait_block(0, 1.0)
    later = mic.wait_block(written, 1.0)  # the next block, about 6 ms later
    assert later == written + BLOCK
    _, newer_s = mic.read_latest(BLOCK)
    assert newer_s > newest_s and round((newer_s - mic._t0_s) * mic.samplerate) % BLOCK == 0


def test_step_camera_shows_the_scene_of_its_capture_time():
    cam = StepCamera(fps=60.0, size=(8, 6))
    cam.start()
    try:
        first = cam.wait_newer(0, 2.0)
        assert first is not None and int(first.frame_rgb.mean()) < 100  # dark before any edge
        cam.schedule([first.t_s + 0.05])
        frame = first
        while frame is not None and frame.t_s < first.t_s + 0.05:
            frame = cam.wait_newer(frame.index, 2.0)
        assert frame is not None and int(frame.frame_rgb.mean()) > 150  # the first frame after the edge
    finally:
        cam.close()


class Result:  # what RecordingSlot reads from an analysis result
    def __init__(self, t_s: float, level: float) -> None:
        self.t_s, self.features = t_s, {"loudness_db": level}


def test_stage_breakdown_splits_a_traced_step_into_stages_that_add_up():
    tl = Timeline(sense=RecordingSlot("loudness_db", None))
    edge_s = 10.0
    tl.sense.puts += [(10.003, 9.995, -90.0), (10.009, 10.004, -90.0), (10.015, 10.010, -9.0)]  # (put, t_s, value)
    tl.inputs.update({7: 10.012, 8: 10.020})  # request 7 was read before the crossing result: not it
    tl.submits.update({7: 10.013, 8: 10.022})
    tl.renders[8] = (10.025, 10.035)
    tl.shown = [7, 8]
    tl.composed = [10.017, 10.040]
    frame_times = [10.018, 10.041]
    rows = breakdown(tl, frame_times, [edge_s], [1], -40.0)
    assert len(rows) == 1
    expected = {
        "capture": 4.0,
        "analysis": 11.0,
        "mapping": 7.0,
        "slot": 3.0,
        "render": 10.0,
        "compose": 5.0,
        "present": 1.0,
    }
    assert rows[0] == {k: np.float64(v) for k, v in expected.items()} or all(
        abs(rows[0][k] - v) < 1e-6 for k, v in expected.items()
    )
    assert abs(sum(rows[0].values()) - (frame_times[1] - edge_s) * 1e3) < 1e-6
    summary = summarize_stages(rows)
    assert summary["traced"] == 1 and set(STAGES) < set(summary)


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
        for step in (report[side], report[side]["camera_step"]):  # sound and camera: where the ms go
            assert step["detected"] >= 1 and step["stages"]["traced"] >= 1
            stages = step["stages"]
            assert all(stages[name]["p50_ms"] >= 0 for name in STAGES)
    assert report["ours"]["composed_fps"] > 0 and report["synchronous"]["composed_fps"] > 0
    # the synchronous baseline is the naive loop: it renders and composes on the main thread, in turn
    assert not {"generator", "compose"} & set(report["synchronous"]["thread_cpu_percent"])
    assert "seeded-cppn" in report["generators"] and report["generators"]["seeded-cppn"]["fps"] > 0
    assert report["machine"]["cores_logical"] >= 1 and report["machine"]["versions"]["torch"]
    field = report["field"]  # the Ink preset on a field model (an untrained one where none ships)
    assert field["display_fps"] > 0 and field["generator_fps"] > 0 and field["preset"] == "6-ink"
    assert field["render_ms"]["1920x1080"]["ms_p50"] > 0 and field["render_ms"]["3840x2160"]["ms_p50"] > 0
    printed = capsys.readouterr().out
    assert "ratio" in printed and "stage ms" in printed and report["bench_seconds"] > 0
