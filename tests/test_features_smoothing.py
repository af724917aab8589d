"""Smoothing and normalisation: EMA, attack/release, One-Euro, automatic gain."""

import numpy as np

from installation.features.smoothing import AttackRelease, AutoGain, Ema, OneEuro


def test_ema_reaches_63_percent_after_one_time_constant_at_any_frame_rate():
    for fps in (20, 60, 144):
        ema = Ema(0.5)
        for _ in range(round(0.5 * fps)):
            ema.update(1.0, 1 / fps)
        assert abs(ema.value - (1 - np.exp(-1))) < 0.02


def test_attack_release_rises_fast_and_falls_slowly():
    f = AttackRelease(attack_s=0.1, release_s=2.0)
    for _ in range(30):
        f.update(1.0, 1 / 60)
    assert f.value > 0.99
    for _ in range(60):
        f.update(0.0, 1 / 60)
    assert 0.55 < f.value < 0.65  # one second of a two-second release


def test_one_euro_removes_jitter_at_rest_and_follows_a_fast_move_with_little_lag():
    rng = np.random.default_rng(0)
    dt = 1 / 60
    euro, ema = OneEuro(min_cutoff_hz=1.0, beta=2.0), Ema(0.5)
    still = 0.5 + 0.01 * rng.standard_normal(120)
    out = [euro.update(x, dt) for x in still]
    assert np.std(out[30:]) < 0.3 * np.std(still)
    # a step: the One-Euro filter gets most of the way in 100 ms, a plain EMA of similar calm does not
    for _ in range(6):
        y_euro, y_ema = euro.update(0.9, dt), ema.update(0.9, dt)
    assert y_euro > 0.8 and y_ema < 0.7 * 0.9


def level_track(mean_db, swing_db, seconds=40.0, dt=0.0116, seed=0):
    """A room level in dB: slow swells and random sound events around mean_db."""
    rng = np.random.default_rng(seed)
    t = np.arange(0, seconds, dt)
    return mean_db + swing_db * (0.6 * np.sin(2 * np.pi * t / 3.0) + 0.4 * rng.uniform(-1, 1, t.shape)), dt


def test_auto_gain_makes_a_quiet_gallery_and_a_loud_club_both_span_the_range():
    for mean_db in (-48.0, -12.0):  # a quiet gallery, a loud club: 36 dB apart
        levels, dt = level_track(mean_db, 10.0)
        gain = AutoGain(floor=-60.0, min_span=18.0)
        out = np.array([gain.update(x, dt) for x in levels])[len(levels) // 2 :]  # after settling
        assert np.percentile(out, 5) < 0.2 and np.percentile(out, 95) > 0.8, (mean_db, np.percentile(out, [5, 95]))


def test_auto_gain_keeps_a_steady_hum_and_near_silence_at_zero():
    hum = AutoGain(floor=-60.0, min_span=18.0)
    for _ in range(2000):
        hum.update(-35.0, 0.0116)  # a steady fan: no dynamics, nothing to show
    assert hum.value < 0.1
    silence = AutoGain(floor=-60.0, min_span=18.0)
    for _ in range(2000):
        silence.update(-69.0, 0.0116)  # 0.0005 amplitude: below the noise gate
    assert silence.value == 0.0 and silence.range() == (-60.0, -42.0)


def test_auto_gain_reports_its_window_for_the_calibration_page():
    gain = AutoGain(floor=0.0, min_span=1.0)
    gain.update(5.0, 0.01)
    lo, hi = gain.range()
    assert lo < 0.01 and hi == 5.0 and gain.raw == 5.0 and gain.value == 1.0
