"""Latency cuts (issue #12): each test fails on the code before its cut."""

import time

import numpy as np
import pytest

from installation.mapping.presets import EffectsPreset
from installation.render.picture import Picture
from installation.render.worker import RenderResult


def colour(value: int, z: np.ndarray, stamp: int) -> RenderResult:
    return RenderResult(np.full((36, 64, 3), value, np.uint8), stamp, 0, 0.0, 1.0, z=z)


def field(value: float, z: np.ndarray, stamp: int) -> RenderResult:
    return RenderResult(None, stamp, 0, 0.0, 1.0, field=np.full((16, 16), value, np.float32), field_spread_px=4.0, z=z)


def latent(scale: float, seed: int = 0) -> np.ndarray:
    return (scale * np.random.default_rng(seed).standard_normal((1, 64))).astype(np.float32)


def picture_after(results: list[RenderResult], interval_s: float = 0.05) -> tuple[Picture, float]:
    """A Picture fed `results` one generator interval apart; returns it and the last result's time."""
    pic = Picture((128, 72), work_height=36, threaded=False)
    t_s = 0.0
    for i, result in enumerate(results):
        t_s = i * interval_s
        pic.add_result(result, t_s)
        pic.compose(t_s, {}, EffectsPreset())
    return pic, t_s


def test_a_latent_jump_shows_in_the_next_colour_frame_not_blended_away():
    z0 = latent(0.0)
    pic, t_s = picture_after([colour(0, z0, 1), colour(0, z0, 2), colour(0, z0, 3), colour(200, latent(2.0), 4)])
    shown = pic.compose(t_s + 0.001, {}, EffectsPreset())  # the very next presented frame
    assert shown.mean() == pytest.approx(200, abs=1)


def test_a_small_latent_step_is_still_crossfaded():
    z0 = latent(1.0)
    z1 = z0 + 0.02  # a walk's step between two generator frames
    pic, t_s = picture_after([colour(0, z0, 1), colour(0, z0, 2), colour(0, z0, 3), colour(200, z1, 4)])
    shown = pic.compose(t_s + 0.001, {}, EffectsPreset())
    assert 5 < shown.mean() < 150  # on its way, not there yet: the blend still hides frame steps


def test_a_latent_jump_shows_in_the_next_field_frame_not_morphed_away():
    z0 = latent(0.0)
    pic, t_s = picture_after([field(-1.0, z0, 1), field(-1.0, z0, 2), field(-1.0, z0, 3), field(1.0, latent(2.0), 4)])
    assert pic.kind == "field"
    blended = pic.field.current_blend(t_s + 0.001)
    assert np.allclose(blended, 1.0)
    small, t2_s = picture_after([field(-1.0, z0, 1), field(-1.0, z0, 2), field(-1.0, z0, 3), field(1.0, z0 + 0.02, 4)])
    assert float(small.field.current_blend(t2_s + 0.001).mean()) < 0.9  # a walk still morphs


# --- hearing: woken per block, short windows, the loudest hop since the last read -------------------------------------

RATE = 44100


def hop_by_hop(signal: np.ndarray) -> list:
    """Feed a signal to the analyser hop by hop, as the hearing thread does; results in order."""
    from installation.features.listen import AudioAnalyser

    analyser = AudioAnalyser(RATE)
    padded = np.concatenate([np.zeros(analyser.window, np.float32), signal.astype(np.float32)])
    return [
        analyser.update(padded[end - analyser.window : end], (end - analyser.window) / RATE)
        for end in range(analyser.window + analyser.hop, padded.shape[0] + 1, analyser.hop)
    ]


def tone(seconds: float, amplitude: float = 0.5) -> np.ndarray:
    t = np.arange(round(seconds * RATE)) / RATE
    return amplitude * np.sin(2 * np.pi * 440.0 * t)


def test_hops_are_at_most_256_samples_at_44_1_khz():
    from installation.features.listen import AudioAnalyser

    assert AudioAnalyser(RATE).hop <= 256


def test_loudness_falls_soon_after_a_sound_stops():
    """A long loudness average delays the end of a sound by its length (25 ms before issue #12)."""
    off_s = 86 * 256 / RATE  # ~0.5 s, on a hop boundary (of 256 and of 512-sample hops)
    signal = np.concatenate([tone(off_s), np.zeros(round(0.3 * RATE))])
    results = hop_by_hop(signal)
    quiet = [r.t_s for r in results if r.t_s > off_s and r.features["loudness_db"] < -40.0]
    assert quiet, "the level never fell"
    assert quiet[0] - off_s <= 0.020


def read_every(results: list, hops_per_read: int) -> list:
    """What a ~60 Hz reader takes: the hearing thread publishes each hop into the outbox, the reader
    takes the newest result after every `hops_per_read` hops (3 hops = 17.4 ms at 44.1 kHz)."""
    from installation.features.listen import AudioResult
    from installation.senses import AudioOutbox
    from installation.slot import LatestSlot

    outbox = AudioOutbox(LatestSlot[AudioResult]())
    taken = []
    for i, result in enumerate(results, 1):
        outbox.publish(result)
        if i % hops_per_read == 0:
            taken.append(outbox.take())
    return taken


def test_a_one_millisecond_click_between_two_reads_is_seen_by_the_next_read():
    """The outbox holds the loudest hop since the last read, so a click shorter than a frame is never missed."""
    click_at_s = 0.3
    signal = np.zeros(round(0.6 * RATE))
    start = round(click_at_s * RATE)
    signal[start : start + round(0.001 * RATE)] = tone(0.001, 0.5)
    results = hop_by_hop(signal)
    loud_hops = [r for r in results if r.features["loudness_db"] > -20.0]
    assert len(loud_hops) == 1, "the click should be loud in exactly one hop of the analyser"
    for phase in range(3):  # wherever the reads fall relative to the click
        reads = read_every(results[phase:], 3)
        loud = [r.t_s for r in reads if r.features["loudness_db"] > -20.0]
        assert len(loud) == 1, f"phase {phase}: the click was read {len(loud)} times"
        assert 0.0 <= loud[0] - click_at_s < 3 * 256 / RATE + 0.006


def test_a_sound_that_stops_reads_quiet_at_the_first_read_after_it_stopped():
    """A fixed peak-hold (17 ms, issue #12's first pass) delayed every fall by its length: the first
    read whose newest hop came after the sound stopped must read quiet, however often the reader reads."""
    off_s = 86 * 256 / RATE  # on a hop boundary
    signal = np.concatenate([tone(off_s), np.zeros(round(0.3 * RATE))])
    results = hop_by_hop(signal)
    for hops_per_read in (1, 2, 3, 4):
        for phase in range(hops_per_read):
            reads = read_every(results[phase:], hops_per_read)
            first = next(r for r in reads if r.t_s > off_s + 1e-9)
            late_ms = round((first.t_s - off_s) * 1e3, 1)
            assert first.features["loudness_db"] < -40.0, (
                f"every {hops_per_read} hops: loud {late_ms} ms after the stop"
            )


def test_hearing_wakes_on_each_audio_block_not_on_a_tick(tmp_path, monkeypatch):
    """With the fixed tick made a minute long, a sound is still heard at once: blocks wake hearing."""
    import wave

    from installation import senses as senses_module
    from installation.config import CameraConfig, MicrophoneConfig

    monkeypatch.setattr(senses_module, "HOPS_PER_TICK", 10_000)  # ~58 s: only a block can wake it
    path = tmp_path / "tone.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(RATE)
        out.writeframes((tone(2.0) * 32767).astype("<i2").tobytes())
    senses = senses_module.Senses(CameraConfig(source="none"), MicrophoneConfig(source=str(path)))
    senses.start()
    try:
        deadline_s = time.perf_counter() + 5.0
        heard = senses.read(1 / 60)["loudness_db"]
        while heard < -20.0 and time.perf_counter() < deadline_s:
            time.sleep(0.01)
            heard = senses.read(1 / 60)["loudness_db"]
        _, version = senses._audio.slot.get()
        while version < 20 and time.perf_counter() < deadline_s:  # and it keeps hearing, block by block
            time.sleep(0.01)
            _, version = senses._audio.slot.get()
    finally:
        senses.close()
    assert heard > -20.0, "hearing did not wake for the sound"
    assert version >= 20  # many blocks analysed within the deadline, each without a tick
