"""Chaos soak parts: real servers the show depends on (PulseAudio, JACK, a network camera, a tmpfs),
each of which can fail and come back on cue, and the faults built from them (issue #15).

Used by `python -m installation.soak --chaos` and by the fault tests; nothing here runs in the show.
"""
