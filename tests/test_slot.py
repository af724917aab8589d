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
