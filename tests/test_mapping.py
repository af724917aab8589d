import json

import numpy as np
import pytest

from installation.mapping.walk import LatentWalk, WalkInputs, slerp

DT = 1 / 60


def run(walk: LatentWalk, seconds: float, inputs: WalkInputs = WalkInputs()) -> list:
    return [walk.update(DT, inputs) for _ in range(int(seconds / DT))]


def zs(states) -> np.ndarray:
    return np.concatenate([s.z for s in states])


def test_slerp_endpoints_and_norm():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(64), rng.standard_normal(64)
    assert np.allclose(slerp(a, b, 0.0), a) and np.allclose(slerp(a, b, 1.0), b)
    mid = slerp(a, b, 0.5)
    # slerp keeps a Gaussian latent near its typical norm; lerp would shrink it by ~1/sqrt(2)
    assert abs(np.linalg.norm(mid) - (np.linalg.norm(a) + np.linalg.norm(b)) / 2) < 0.15 * np.linalg.norm(a)


def test_keyframe_walk_animates_smoothly_and_goes_somewhere():
    path = zs(run(LatentWalk(16), 20.0))
    assert path.shape[1] == 16 and path.dtype == np.float32
    steps = np.linalg.norm(np.diff(path, axis=0), axis=1)
    assert steps.min() > 0, "the picture froze"
    assert steps.max() < 0.2, "the walk jumped"  # continuous across keyframe changes
    assert np.linalg.norm(path[-1] - path[0]) > 1.0


def test_faster_speed_moves_faster():
    slow = np.mean([s.latent_speed for s in run(LatentWalk(16), 3.0, WalkInputs(speed_kf_s=0.08))])
    fast = np.mean([s.latent_speed for s in run(LatentWalk(16), 3.0, WalkInputs(speed_kf_s=0.5))])
    assert fast > 4 * slow


def test_perfect_loop_returns_exactly_to_its_start():
    walk = LatentWalk(16)
    inputs = WalkInputs(loop_s=4.0)
    path = zs(run(walk, 4.0, inputs))
    start = walk.update(0.0, inputs).z[0]
    assert np.allclose(path[-1], start, atol=1e-3)  # 240 frames of 1/60 s = one full turn
    assert np.linalg.norm(path[len(path) // 2] - start) > 1.0  # and it really went round


def test_drift_diversity_and_target():
    walk = LatentWalk(16)
    base = walk.update(DT, WalkInputs(speed_kf_s=0.0)).z
    truncated = walk.update(0.0, WalkInputs(speed_kf_s=0.0, diversity=0.0)).z
    assert np.allclose(truncated, 0.0)  # diversity 0 = the average image
    target = np.full(16, 3.0)
    pulled = walk.update(0.0, WalkInputs(speed_kf_s=0.0, target=target, pull=1.0)).z
    assert np.allclose(pulled[0], target)
    drifting = zs(run(walk, 2.0, WalkInputs(speed_kf_s=0.0, drift=1.0)))
    assert np.linalg.norm(drifting[-1] - base[0]) > 0.2


def test_pulse_jumps_then_decays_and_drag_nudges_then_fades():
    walk = LatentWalk(16)
    still = WalkInputs(speed_kf_s=0.0)
    z0 = walk.update(DT, still).z
    jump = walk.update(DT, WalkInputs(speed_kf_s=0.0, pulse=1.0, pulse_decay_s=0.2)).z
    assert np.linalg.norm(jump - z0) > 1.0
    settled = run(walk, 2.0, WalkInputs(speed_kf_s=0.0, pulse_decay_s=0.2))[-1].z
    assert np.linalg.norm(settled - z0) < 0.01
    pushed = walk.update(DT, WalkInputs(speed_kf_s=0.0, drag=(2.0, 0.0), decay_s=1.0))
    assert pushed.nudge == pytest.approx(2.0, rel=0.02)
    assert run(walk, 6.0, WalkInputs(speed_kf_s=0.0, decay_s=1.0))[-1].nudge < 0.01


def test_rotating_the_plane_changes_where_a_drag_goes():
    a, b = LatentWalk(16, seed=4), LatentWalk(16, seed=4)
    b.update(0.0, WalkInputs(speed_kf_s=0.0, plane_turn=np.pi / 2))
    za = a.update(0.0, WalkInputs(speed_kf_s=0.0, drag=(1.0, 0.0))).z
    zb = b.update(0.0, WalkInputs(speed_kf_s=0.0, drag=(1.0, 0.0))).z
    assert np.linalg.norm(za - zb) > 1.0


def test_steer_moves_along_principal_directions():
    walk = LatentWalk(16)
    walk.principal = np.eye(16)[:2]
    z0 = walk.update(0.0, WalkInputs(speed_kf_s=0.0)).z[0]
    z1 = walk.update(1.0, WalkInputs(speed_kf_s=0.0, steer=(1.0, 0.0), decay_s=1e9)).z[0]
    delta = z1 - z0
    assert delta[0] == pytest.approx(1.0, abs=1e-6) and np.abs(delta[1:]).max() < 1e-6


def test_same_seed_same_path():
    assert np.array_equal(run(LatentWalk(8, seed=3), 1.0)[-1].z, run(LatentWalk(8, seed=3), 1.0)[-1].z)


def test_state_round_trip_continues_the_same_path():
    a = LatentWalk(8, seed=5)
    run(a, 7.3, WalkInputs(speed_kf_s=0.3))
    b = LatentWalk(8, seed=99)
    b.import_state(json.loads(json.dumps(a.export_state())))
    assert np.allclose(run(a, 20.0, WalkInputs(speed_kf_s=0.3))[-1].z, run(b, 20.0, WalkInputs(speed_kf_s=0.3))[-1].z)


def test_state_that_does_not_fit_is_refused_unchanged():
    walk = LatentWalk(8)
    before = walk.export_state()
    other = LatentWalk(16).export_state()
    for bad in (other, {"z_dim": 8}, {**before, "phase": 7.0}, {**before, "rng": "nope"}):
        with pytest.raises(ValueError):
            walk.import_state(bad)
    assert walk.export_state() == before
