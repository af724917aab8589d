import numpy as np

from installation.config import MappingConfig
from installation.mapping.walk import LatentWalk, slerp
from installation.sources.touch import TouchFrame

DT = 1 / 60
STILL = TouchFrame()


def run(walk: LatentWalk, seconds: float, features: dict, touch: TouchFrame = STILL) -> list:
    return [walk.update(DT, features, touch) for _ in range(int(seconds / DT))]


def test_slerp_endpoints_and_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    assert np.allclose(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)
    mid = slerp(a, b, 0.5)
    # slerp keeps a Gaussian latent near its typical norm; lerp would shrink it by ~1/sqrt(2)
    assert abs(np.linalg.norm(mid) - (np.linalg.norm(a) + np.linalg.norm(b)) / 2) < 0.15 * np.linalg.norm(a)


def test_walk_animates_with_nobody_there_and_is_smooth():
    walk = LatentWalk(16, MappingConfig())
    states = run(walk, 20.0, {})
    zs = np.concatenate([s.z for s in states])
    assert zs.shape == (len(states), 16) and zs.dtype == np.float32
    steps = np.linalg.norm(np.diff(zs, axis=0), axis=1)
    assert steps.min() > 0, "the picture froze"
    assert steps.max() < 0.2, "the walk jumped"  # continuous across keyframe changes
    assert np.linalg.norm(zs[-1] - zs[0]) > 1.0, "the walk went nowhere"


def test_loudness_and_motion_speed_the_walk_up():
    speeds = {}
    for name, features in [("silence", {"loudness": 0.0, "motion": 0.0}),
                           ("loud", {"loudness": 1.0, "motion": 0.0}),
                           ("moving", {"loudness": 0.0, "motion": 1.0})]:
        walk = LatentWalk(16, MappingConfig())
        states = run(walk, 3.0, features)[60:]  # after the speed smoothing settles
        speeds[name] = np.mean([s.latent_speed for s in states])
    assert speeds["loud"] > 3 * speeds["silence"]
    assert speeds["moving"] > 2 * speeds["silence"]


def test_same_seed_same_path():
    a = run(LatentWalk(8, MappingConfig(seed=3)), 1.0, {})
    b = run(LatentWalk(8, MappingConfig(seed=3)), 1.0, {})
    assert np.array_equal(a[-1].z, b[-1].z)


def test_touch_drag_nudges_then_fades_back():
    config = MappingConfig(walk_speed=0.0, touch_decay_s=1.0)
    walk = LatentWalk(16, config)
    z0 = walk.update(DT, {}, STILL).z
    pushed = walk.update(DT, {}, TouchFrame(drag_dx=0.5, drag_dy=0.0))
    assert np.linalg.norm(pushed.z - z0) > 0.5 * config.touch_gain * 0.9
    assert pushed.nudge > 1.0
    later = run(walk, 5.0, {})[-1]
    assert later.nudge < 0.02 and np.linalg.norm(later.z - z0) < 0.05


def test_state_round_trip_continues_the_same_path():
    a = LatentWalk(8, MappingConfig(seed=5))
    run(a, 7.3, {"loudness": 0.5})
    state = a.export_state()
    import json
    b = LatentWalk(8, MappingConfig(seed=99))
    b.import_state(json.loads(json.dumps(state)))
    za = run(a, 20.0, {})[-1].z
    zb = run(b, 20.0, {})[-1].z
    assert np.allclose(za, zb)


def test_state_that_does_not_fit_is_refused_unchanged():
    walk = LatentWalk(8, MappingConfig())
    before = walk.export_state()
    other = LatentWalk(16, MappingConfig()).export_state()
    for bad in (other, {"z_dim": 8}, {**before, "phase": 7.0}, {**before, "rng": "nope"}):
        try:
            walk.import_state(bad)
        except ValueError:
            pass
        else:
            raise AssertionError(f"accepted {bad}")
    assert walk.export_state() == before
