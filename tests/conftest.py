"""Session-wide setup shared by every test module."""

from __future__ import annotations

import pytest

from installation.sources import jack_metadata


@pytest.fixture(scope="session", autouse=True)
def usable_jack() -> None:
    """The test harness's own JACK tools (jack_lsp, jackd) hang on a JACK database a killed program
    left locked in /dev/shm, which outlives runs on some CI machines; the show clears it for itself
    (installation/sources/jack_metadata.py), the harness does the same before it starts."""
    jack_metadata.repair()
