"""Attract-mode state machine, driven by a manual clock."""

from installation.mapping.attract import AttractMode
from installation.mapping.presets import AttractPreset

CFG = AttractPreset(idle_s=10.0, reset_after_s=60.0)


def run(mode, t0, t1, presence=0.0, touched=False, dt=0.05):
    states, t = [], t0
    while t < t1 - 1e-9:
        t += dt
        states.append((t, mode.update(t, presence, touched)))
    return states


def test_idle_enters_attract_and_arrival_wakes_within_half_a_second():
    mode = AttractMode(CFG, t_s=0.0)
    states = run(mode, 0.0, 9.9)
    assert all(s.mode == "active" for _, s in states)
    states = run(mode, 9.9, 20.0)
    assert states[-1][1].mode == "attract" and states[-1][1].amount > 0.9
    arrived = run(mode, 20.0, 20.6, presence=0.9)
    assert arrived[0][1].wake and arrived[0][1].mode == "active"
    assert sum(s.wake for _, s in arrived) == 1
    t_visible = next(t for t, s in arrived if s.amount < 0.2)
    assert t_visible - 20.0 <= 0.5  # the attract look has mostly gone within half a second


def test_touch_counts_as_interaction_and_reset_fires_once_per_lull():
    mode = AttractMode(CFG, t_s=0.0)
    states = run(mode, 0.0, 130.0, dt=0.5)
    resets = [t for t, s in states if s.reset]
    assert resets == [60.0]
    woke = run(mode, 130.0, 131.0, touched=True, dt=0.5)
    assert woke[0][1].wake
    later = run(mode, 131.0, 200.0, dt=0.5)
    assert [t for t, s in later if s.reset] == [191.0]
