import threading
import time

from installation.slot import LatestSlot


def test_newest_value_wins_and_versions_rise():
    slot: LatestSlot[int] = LatestSlot()
    assert slot.get() == (None, 0)
    slot.put(1)
    slot.put(2)
    assert slot.get() == (2, 2)
    assert slot.get_newer(2) == (None, 2)
    assert slot.get_newer(1) == (2, 2)


def test_wait_newer_wakes_on_put_and_times_out():
    slot: LatestSlot[str] = LatestSlot()
    assert slot.wait_newer(0, timeout_s=0.05) == (None, 0)
    threading.Timer(0.05, slot.put, args=("hello",)).start()
    t0 = time.perf_counter()
    value, version = slot.wait_newer(0, timeout_s=5.0)
    assert (value, version) == ("hello", 1)
    assert time.perf_counter() - t0 < 2.0


def test_slow_consumer_sees_only_the_latest():
    slot: LatestSlot[int] = LatestSlot()
    for i in range(1000):
        slot.put(i)
    value, version = slot.get_newer(0)
    assert value == 999 and version == 1000


def test_wake_ends_a_wait_at_once():
    """wake() (the worker's close) must end wait_newer, not leave it to its timeout."""
    slot: LatestSlot[int] = LatestSlot()
    waiting, done = threading.Event(), threading.Event()
    got: list[tuple[int | None, int]] = []

    def wait() -> None:
        waiting.set()
        got.append(slot.wait_newer(0, timeout_s=30.0))
        done.set()

    thread = threading.Thread(target=wait, daemon=True)
    thread.start()
    assert waiting.wait(5.0)
    # The waiter may not be inside wait_for yet: wake until it returns (each wake ends a wait in progress).
    deadline = time.monotonic() + 5.0
    while not done.is_set() and time.monotonic() < deadline:
        slot.wake()
        done.wait(0.01)
    assert done.is_set(), "wake() did not end wait_newer"
    assert got == [(None, 0)]
    thread.join(5.0)


def test_discard_drops_the_held_value_unread():
    slot: LatestSlot[int] = LatestSlot()
    slot.put(1)
    slot.discard()
    assert slot.get_newer(0) == (None, 2)
    assert slot.wait_newer(0, timeout_s=0.01) == (None, 2)
