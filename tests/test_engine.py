"""The preset-driven mapping: determinism, responses to sound/motion/touch, learning, engagement."""

import json

import numpy as np
import pytest

from installation.mapping.engagement import Engagement
from installation.mapping.engine import PresetMapping
from installation.mapping.learn import Demonstrations, LearnedMapping
from installation.mapping.presets import load_preset
from installation.sources.touch import Touch, TouchFrame

DT = 1 / 60


def run(mapping, seconds, features, touch=TouchFrame(), t0=0.0):
    outs, t = [], t0
    for _ in range(int(seconds / DT)):
        t += DT
        outs.append(mapping.update(DT, t, features, touch))
    return outs


def mean_speed(outs):
    return float(np.mean([o.state.latent_speed for o in outs[30:]]))


def test_same_seed_same_inputs_same_picture():
    a = run(PresetMapping(16, load_preset("4-club"), seed=3), 3.0, {"loudness": 0.5, "onset_count": 1.0})
    b = run(PresetMapping(16, load_preset("4-club"), seed=3), 3.0, {"loudness": 0.5, "onset_count": 1.0})
    assert np.array_equal(a[-1].state.z, b[-1].state.z)


@pytest.mark.parametrize("preset", ["1-gallery", "4-club"])
def test_loudness_moves_the_latent_more_than_silence(preset):
    present = {"presence": 1.0}
    quiet = mean_speed(run(PresetMapping(16, load_preset(preset)), 3.0, present))
    loud = mean_speed(run(PresetMapping(16, load_preset(preset)), 3.0, {**present, "loudness": 1.0}))
    assert loud > 2 * quiet


def test_motion_and_touch_move_the_latent_more_than_their_absence():
    present = {"presence": 1.0}
    still = mean_speed(run(PresetMapping(16, load_preset("1-gallery")), 3.0, present))
    moving = mean_speed(run(PresetMapping(16, load_preset("1-gallery")), 3.0, {**present, "motion": 1.0}))
    assert moving > 2 * still
    garden = load_preset("3-touch-garden")
    untouched = mean_speed(run(PresetMapping(16, garden), 3.0, present))
    finger = TouchFrame(touches=(Touch(1, 0.5, 0.5),), drag_dx=0.01)
    touched = mean_speed(run(PresetMapping(16, garden), 3.0, present, finger))
    assert touched > 2 * untouched


def test_onsets_fire_pulses_in_the_club_preset():
    mapping = PresetMapping(16, load_preset("4-club"))
    run(mapping, 1.0, {"presence": 1.0, "onset_count": 5.0})
    before = mapping.update(DT, 1.1, {"presence": 1.0, "onset_count": 5.0}, TouchFrame()).state.z
    after = mapping.update(DT, 1.12, {"presence": 1.0, "onset_count": 6.0}, TouchFrame()).state.z
    assert np.linalg.norm(after - before) > 1.0


def test_preset_switch_crossfades_parameters():
    mapping = PresetMapping(16, load_preset("1-gallery"))
    run(mapping, 1.0, {})
    assert mapping.params["trails"] == 0.0
    garden = load_preset("2-mirror")  # trails 0.35 base, crossfade 4 s
    mapping.set_preset(garden, 1.0)
    halfway = run(mapping, 2.0, {}, t0=1.0)[-1].params["trails"]
    done = run(mapping, 3.0, {}, t0=3.0)[-1].params["trails"]
    assert 0.05 < halfway < 0.33 and done == pytest.approx(0.35, abs=0.01)


def test_attract_mode_slows_the_walk_and_a_tap_wakes_it():
    mapping = PresetMapping(16, load_preset("3-touch-garden"))  # idle_s 15
    outs = run(mapping, 25.0, {})
    assert outs[-1].attract.mode == "attract" and outs[-1].params["trails"] > 0.3
    tap = TouchFrame(taps=1)
    woke = mapping.update(DT, 25.1, {}, tap)
    assert woke.attract.wake


def test_long_press_asks_for_a_snapshot_once():
    mapping = PresetMapping(16, load_preset("3-touch-garden"))
    hold = TouchFrame(touches=(Touch(1, 0.5, 0.5),))
    outs = run(mapping, 1.5, {}, hold)
    assert sum(o.snapshot for o in outs) == 1


def test_mirror_target_pulls_when_someone_is_present():
    target = np.full(8, 2.0)
    distances = {}
    for presence in (0.0, 1.0):
        mapping = PresetMapping(8, load_preset("2-mirror"))
        mapping.mirror_target = target
        z = run(mapping, 4.0, {"presence": presence})[-1].state.z[0]
        distances[presence] = np.linalg.norm(z - target)
    assert distances[1.0] < 0.5 * distances[0.0]  # the preset pulls at most 60% of the way


def test_learned_mapping_round_trip_and_prediction(tmp_path):
    demos = Demonstrations(("loudness", "motion"))
    rng = np.random.default_rng(0)
    quiet_z, loud_z = rng.standard_normal(8), rng.standard_normal(8)
    for _ in range(5):
        demos.record({"loudness": 0.0, "motion": rng.uniform(0, 0.1)}, quiet_z)
        demos.record({"loudness": 1.0, "motion": rng.uniform(0, 0.1)}, loud_z)
    learned = demos.fit()
    path = tmp_path / "p.learned.json"
    learned.save(path)
    loaded = LearnedMapping.load(path)
    assert np.linalg.norm(loaded.predict({"loudness": 1.0, "motion": 0.05}) - loud_z) < 0.5
    assert np.linalg.norm(loaded.predict({"loudness": 0.0, "motion": 0.05}) - quiet_z) < 0.5
    path.write_text(
        json.dumps(
            {
                "format": "reverie-learned/1",
                "features": ["a"],
                "mean": [0],
                "std": [1],
                "weights": [[1, 2]],
                "bias": [float("nan"), 0],
            }
        )
    )
    with pytest.raises(ValueError, match="not a usable learned mapping"):
        LearnedMapping.load(path)


def test_engagement_biases_new_keyframes_toward_liked_regions():
    e = Engagement(16, regions=8)
    liked = e.anchors[3]
    for _ in range(600):
        e.observe(liked, DT, present=True, touches=0)
    assert e.region(liked) == 3 and e.dwell_s[3] == pytest.approx(10.0)
    rng = np.random.default_rng(0)
    regions = [e.region(e.choose_keyframe(rng)) for _ in range(400)]
    assert regions.count(3) / len(regions) > 0.4  # vs 1/8 without feedback
    state = json.loads(json.dumps(e.export_state()))
    fresh = Engagement(16, regions=8)
    fresh.import_state(state)
    assert fresh.dwell_s[3] == pytest.approx(10.0)
    e.reset()
    assert e.scores().sum() == 0
    with pytest.raises(ValueError):
        fresh.import_state({**state, "dwell_s": [-1.0] * 8})
