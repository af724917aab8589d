"""Tempo, beat phase and beat counting: synthetic click trains and real drum loops of known tempo.

The real loops (tests/data/README.md) are whole loops, so their tempo is exact: 60 x beats / length.
A half- or double-tempo answer is a classic tempo-estimator failure; it is reported by name
("HALF"/"DOUBLE") in the failure message and the printed table, never counted as a pass.
"""

from pathlib import Path

import numpy as np
import pytest

from installation.features import tempo
from installation.features.listen import AudioAnalyser
from installation.sources.microphone import read_wav_mono, resample_linear
from tests.test_features_audio import clicks

DATA = Path(__file__).parent / "data"
RATE = 22050
# file: (true BPM, whether its hits sit on the beat; see test_beat_phase_on_real_loops)
LOOPS = {
    "loop_breakbeat": (126.0, False),
    "loop_amen_full": (140.0, False),
    "loop_compus": (148.0, True),
    "loop_mika": (120.0, True),
    "house_loop01": (142.0, True),
    "electro_beat01": (120.0, False),
}


def run(signal, rate):
    """(times of each hop's newest sample, feature dicts) from feeding signal hop by hop."""
    analyser = AudioAnalyser(rate)
    ends = range(analyser.window, signal.shape[0] + 1, analyser.hop)
    results = [analyser.update(signal[end - analyser.window : end], end / rate) for end in ends]
    return np.array([end / rate for end in ends]), [r.features for r in results]


def looped(name, seconds, rate, start_s=0.0):
    """The loop repeated as the room would hear it, resampled to rate, starting start_s into it."""
    samples, file_rate = read_wav_mono(str(DATA / f"{name}.wav"))
    samples = resample_linear(samples, file_rate, rate)
    reps = int(np.ceil((seconds + start_s) * rate / samples.shape[0])) + 1
    first = round(start_s * rate)
    return np.tile(samples, reps)[first : first + round(seconds * rate)]


def verdict(detected, true):
    for label, factor in (("ok", 1.0), ("DOUBLE", 2.0), ("HALF", 0.5), ("TRIPLE", 3.0), ("THIRD", 1 / 3)):
        if abs(detected / (true * factor) - 1.0) <= 0.02:
            return label
    return "WRONG"


@pytest.mark.parametrize("bpm", [72.0, 97.3, 120.0, 133.0, 160.0])
def test_tempo_of_click_trains(bpm):
    _, features = run(clicks(bpm, 10.0, rate=RATE, first_s=0.1), RATE)
    f = features[-1]
    assert f["tempo_bpm"] == pytest.approx(bpm, rel=0.01), verdict(f["tempo_bpm"], bpm)
    assert f["beat_confidence"] > 0.5


def test_a_fast_click_train_is_heard_at_half_tempo():
    """Known confusion, kept visible: bare clicks at 174 BPM fit 87 BPM (with eighth notes) as well.

    Nothing in a click train says which; the tempo prior (centred on 120 BPM) picks 87. Drum and
    bass is often felt at half time too. A consumer that wants the fast pulse can use 2 x tempo_bpm.
    """
    _, features = run(clicks(174.0, 10.0, rate=RATE, first_s=0.1), RATE)
    detected = features[-1]["tempo_bpm"]
    print(f"\nclick train 174 BPM: detected {detected:.2f} BPM: {verdict(detected, 174.0)}")
    assert verdict(detected, 174.0) == "HALF"


def test_beat_phase_and_count_follow_a_click_train():
    bpm, first_s = 120.0, 0.13
    times, features = run(clicks(bpm, 10.0, rate=RATE, first_s=first_s), RATE)
    late = times > 6.0
    expected = ((times[late] - first_s) * bpm / 60.0) % 1.0
    errors = np.array([tempo.wrap_phase(f["beat_phase"] - e) for f, e in zip(np.array(features)[late], expected)])
    assert np.abs(errors).max() < 0.06, errors  # 30 ms at 120 BPM
    counts = np.array([f["beat_count"] for f in features])
    assert np.all(np.diff(counts) >= 0) and np.all(np.diff(counts) <= 1)  # monotonic, one at a time
    assert counts[times > 9.9][0] - counts[times > 5.0][0] == pytest.approx(2 * 4.9, abs=1)


def test_noise_has_no_confident_tempo_and_counts_no_beats():
    rng = np.random.default_rng(3)
    _, features = run((0.3 * rng.standard_normal(8 * RATE)).astype(np.float32), RATE)
    assert features[-1]["beat_confidence"] < 0.3 and features[-1]["beat_count"] == 0


def test_silence_has_no_tempo():
    _, features = run(np.zeros(6 * RATE, np.float32), RATE)
    assert features[-1]["tempo_bpm"] == 0.0 and features[-1]["beat_confidence"] == 0.0


def test_estimate_tempo_needs_a_few_beats_of_history():
    assert tempo.estimate_tempo(np.ones(50), 86.0) == tempo.TempoEstimate(0.0, 0.0)


@pytest.mark.parametrize("name", LOOPS)
def test_tempo_of_real_drum_loops_within_2_percent(name):
    true_bpm, _ = LOOPS[name]
    # Heard live: 44.1 kHz (as the microphone delivers it), starting mid-loop, 10 s of it.
    _, features = run(looped(name, 10.0, 44100, start_s=0.37), 44100)
    detected = features[-1]["tempo_bpm"]
    label = verdict(detected, true_bpm)
    print(
        f"\n{name}: true {true_bpm:.2f} BPM, detected {detected:.2f} BPM "
        f"({(detected / true_bpm - 1) * 100:+.2f}%), {label}, confidence {features[-1]['beat_confidence']:.2f}"
    )
    assert label == "ok", f"{name}: true {true_bpm} BPM, detected {detected:.2f} BPM: {label}"


def test_beat_phase_on_real_loops():
    """Loops whose hits sit on the beat (four-on-the-floor) must lock on the beat.

    Syncopated breaks (the Amen, loop_breakbeat, electro_beat01) put as much energy on the
    off-beats; the tracker may lock half a beat off there. That is printed, not asserted.
    """
    rows = []
    for name, (bpm, on_beat) in LOOPS.items():
        times, features = run(looped(name, 9.0, RATE, start_s=0.37), RATE)
        late = times > 6.0
        expected = ((times[late] + 0.37) * bpm / 60.0) % 1.0  # each loop starts on a downbeat
        errors = [tempo.wrap_phase(f["beat_phase"] - e) for f, e in zip(np.array(features)[late], expected)]
        median = float(np.median(np.abs(errors)))
        rows.append((name, on_beat, median))
        print(
            f"\n{name}: median beat phase error {median:.3f} beats ({median * 60000 / bpm:.0f} ms)"
            f"{'' if on_beat else ' (syncopated: not asserted)'}"
        )
    assert all(median < 0.06 for _, on_beat, median in rows if on_beat), rows


def test_tempo_is_re_estimated_every_half_second_not_every_hop(monkeypatch):
    calls = []
    real = tempo.estimate_tempo
    monkeypatch.setattr(tempo, "estimate_tempo", lambda env, fps: calls.append(1) or real(env, fps))
    for fps in (86.13, 93.75, 172.27):  # 512-sample hops at 44.1 and 48 kHz, 256 at 44.1 kHz
        calls.clear()
        tracker = tempo.BeatTracker(fps)
        for _ in range(round(20 * fps)):
            tracker.update(0.0)
        assert len(calls) == pytest.approx((20 - tempo.MIN_HISTORY_S) / tempo.ESTIMATE_EVERY_S, abs=2)
