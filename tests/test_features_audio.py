"""Audio features on known signals: level, bands, spectral centroid, chroma, onsets."""

import numpy as np
import pytest

from installation.features import audio, chroma, spectrum
from installation.features.listen import AudioAnalyser, hop_size

RATE = 44100


def sine(freq_hz, seconds=0.5, amplitude=0.5, rate=RATE):
    t = np.arange(round(seconds * rate)) / rate
    return (amplitude * np.sin(2 * np.pi * freq_hz * t)).astype(np.float32)


def clicks(bpm, seconds, rate=RATE, first_s=0.0, amplitude=0.8):
    """A click train: a 5 ms decaying noise burst on every beat."""
    rng = np.random.default_rng(1)
    out = np.zeros(round(seconds * rate), np.float32)
    burst = rng.uniform(-1, 1, round(0.005 * rate)) * np.exp(-np.arange(round(0.005 * rate)) / (0.001 * rate))
    t = first_s
    while t < seconds:
        i = round(t * rate)
        out[i : i + burst.shape[0]] += amplitude * burst[: out.shape[0] - i].astype(np.float32)
        t += 60.0 / bpm
    return out


def analyse(signal, rate=RATE):
    """Feed a signal hop by hop, as the hearing thread does; the list of results."""
    analyser = AudioAnalyser(rate)
    padded = np.concatenate([np.zeros(analyser.window, np.float32), signal])
    return [
        analyser.update(padded[end - analyser.window : end], end / rate)
        for end in range(analyser.window + analyser.hop, padded.shape[0] + 1, analyser.hop)
    ]


def test_rms_and_dbfs_of_a_sine_and_of_silence():
    assert audio.rms(sine(440, amplitude=1.0)) == pytest.approx(1 / np.sqrt(2), rel=1e-3)
    assert audio.dbfs(audio.rms(sine(440, amplitude=1.0))) == pytest.approx(-3.01, abs=0.02)
    assert audio.dbfs(0.0) == audio.SILENCE_DB and audio.rms(np.zeros(0)) == 0.0


def test_hop_is_about_6_ms_at_common_rates():
    assert hop_size(44100) == 256 and hop_size(48000) == 256 and hop_size(22050) == 128


def test_power_spectrum_sums_to_the_mean_square_so_band_levels_read_in_dbfs():
    x = sine(1000, amplitude=1.0)[:2048]
    power = spectrum.power_spectrum(x)
    window = spectrum.hann(2048)
    assert power.sum() == pytest.approx(np.mean((x * window) ** 2) / np.mean(window**2), rel=1e-3)
    assert spectrum.band_levels_db(power, RATE)["mid"] == pytest.approx(-3.0, abs=0.1)


@pytest.mark.parametrize("freq_hz, band", [(80.0, "low"), (700.0, "mid"), (5000.0, "high")])
def test_a_sine_lands_in_its_band(freq_hz, band):
    levels = spectrum.band_levels_db(spectrum.power_spectrum(sine(freq_hz)[:2048]), RATE)
    others = [v for k, v in levels.items() if k != band]
    assert levels[band] > max(others) + 30, levels


def test_spectral_centroid_follows_the_pitch_of_a_sine():
    for freq_hz in (200.0, 1000.0, 4000.0):
        power = spectrum.power_spectrum(sine(freq_hz)[:2048])
        assert spectrum.spectral_centroid_hz(power, RATE) == pytest.approx(freq_hz, rel=0.03)
    units = [spectrum.centroid_unit(hz) for hz in (30.0, 60.0, 850.0, 12000.0, 20000.0)]
    assert units[0] == 0.0 and units[1] == 0.0 and 0.45 < units[2] < 0.55 and units[3] == 1.0 and units[4] == 1.0


def test_chroma_of_a_sine_is_its_pitch_class():
    for freq_hz, pc in ((440.0, 9), (261.63, 0), (196.0, 7), (1318.5, 4)):  # A4, C4, G3, E6
        c = chroma.chroma(spectrum.power_spectrum(sine(freq_hz)[:8192]), RATE)
        assert int(np.argmax(c)) == pc and c[pc] == 1.0
        assert np.sort(c)[-2] < 0.5, (freq_hz, c.round(2))


def test_chroma_of_a_c_major_chord_has_c_e_and_g_on_top():
    chord = sine(261.63) + sine(329.63) + sine(392.0)
    c = chroma.chroma(spectrum.power_spectrum(chord[:8192]), RATE)
    assert set(np.argsort(c)[-3:]) == {0, 4, 7}
    assert np.all(chroma.chroma(np.zeros(4097), RATE) == 0.0)


def test_analyser_bands_loudness_and_chroma_on_a_held_low_note():
    results = analyse(sine(110.0, seconds=2.0, amplitude=0.5))  # A2
    f = results[-1].features
    assert f["band_low"] > 0.8 and f["band_mid"] < 0.2 and f["band_high"] < 0.2
    # loudness_db is one ~6 ms RMS window, shorter than one period of 110 Hz: hop by hop it wanders
    # within ~1 dB of the true -9.0 dBFS of a steady low note (the smoothed `loudness` does not)
    levels_db = [r.features["loudness_db"] for r in results[-60:]]
    assert f["loudness"] > 0.8 and min(levels_db) > -10.5 and max(levels_db) < -8.0
    assert int(np.argmax(results[-1].chroma)) == 9 and f["chroma_9"] == pytest.approx(1.0, abs=0.05)
    assert f["spectral_centroid"] == pytest.approx(spectrum.centroid_unit(110.0), abs=0.03)


def test_near_silence_reads_zero_everywhere_normalised():
    f = analyse(sine(220.0, seconds=3.0, amplitude=0.0005))[-1].features  # -69 dBFS
    assert f["loudness"] < 0.05 and f["onset"] < 1e-3 and f["onset_count"] == 0
    assert f["spectral_centroid"] == 0.0 and max(f[f"chroma_{i}"] for i in range(12)) == 0.0
    assert f["band_low"] == f["band_mid"] == f["band_high"] == 0.0


def test_onsets_of_a_click_train_are_counted_once_each():
    results = analyse(clicks(100.0, seconds=6.0, first_s=0.25))
    n_clicks = len(np.arange(0.25, 6.0, 0.6))
    assert results[-1].features["onset_count"] == n_clicks
    counts = np.array([r.features["onset_count"] for r in results])
    times = np.array([r.t_s for r in results]) - AudioAnalyser(RATE).window / RATE
    first = times[np.argmax(counts >= 1)]
    assert 0.25 < first < 0.25 + 0.05  # reported within ~2 hops of the click
    strength = np.array([r.features["onset"] for r in results])
    assert strength.max() > 0.8 and np.median(strength) < 0.2  # a spike per click, quiet between
