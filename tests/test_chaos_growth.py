"""The chaos soak's growth figures: each show process against its own warmed-up RSS, every show's
descriptors and threads against the first show's warmed baseline, only quiet samples counted."""

from __future__ import annotations

from installation.chaos.growth import WARM_S, WINDOW_S, headline, lifetimes
from installation.chaos.observe import Resources
from installation.chaos.report import Bounds, ChaosReport


def sample(t_s: float, pid: int, rss: float, fds: int = 38, threads: int = 24, quiet: bool = True) -> Resources:
    return Resources(t_s, pid, rss, fds, threads, 64.0, 9, 5, quiet)


def life(pid: int, t0_s: float, seconds: float, rss0: float, slope: float = 0.0, **kw) -> list[Resources]:
    return [sample(t0_s + t, pid, rss0 + slope * t, **kw) for t in range(0, int(seconds), 2)]


def test_each_show_is_compared_with_itself_not_with_the_first_show():
    # Show 1 is 200 MB bigger than show 2 (a different process): no growth in either.
    first = life(1, 0.0, 40.0, 700.0)
    second = life(2, 40.0, 60.0, 500.0)
    baseline = first[:10]
    shows = lifetimes(first + second, baseline, t0_s=20.0)
    assert [s.pid for s in shows] == [1, 2]
    assert all(s.rss_growth_mb == 0.0 for s in shows)
    figures = headline(shows, baseline, second[-5:])
    assert figures["rss_growth_mb"] == 0.0 and figures["shows_judged"] == 2
    assert figures["fd_growth"] == 0 and figures["thread_growth"] == 0


def test_growth_within_one_restarted_show_is_found():
    first = life(1, 0.0, 40.0, 700.0)
    leaky = life(2, 40.0, 80.0, 500.0, slope=1.0)  # +1 MB a second
    shows = lifetimes(first + leaky, first[:10], t0_s=20.0)
    second = shows[1]
    # Baseline: its first quiet window after WARM_S; end: its last window, 70-80 s into its life.
    assert second.rss_growth_mb is not None and second.rss_growth_mb > 40.0
    figures = headline(shows, first[:10], leaky[-5:])
    assert figures["rss_growth_pid"] == 2 and figures["rss_growth_mb"] > Bounds().rss_growth_mb


def test_a_restarted_show_with_one_more_descriptor_or_thread_counts_as_growth():
    first = life(1, 0.0, 40.0, 700.0)
    second = life(2, 40.0, 60.0, 700.0, fds=39, threads=25)
    shows = lifetimes(first + second, first[:10], t0_s=20.0)
    assert (shows[1].fd_growth, shows[1].thread_growth) == (1, 1)


def test_samples_during_a_fault_and_a_short_lived_show_do_not_count():
    first = life(1, 0.0, 40.0, 700.0)
    # During a fault: the camera closed (fewer fds) and a model reloaded (RSS peak); not quiet.
    busy = [sample(40.0 + t, 1, 900.0, fds=28, quiet=False) for t in range(0, 10, 2)]
    short = life(2, 50.0, WARM_S + WINDOW_S, 600.0)  # killed before it had two separate windows
    shows = lifetimes(first + busy + short, first[:10], t0_s=20.0)
    assert shows[0].rss_end_mb == 700.0 and shows[0].fds_end == 38
    assert shows[1].rss_growth_mb is None and shows[1].quiet_samples > 0


def test_the_report_fails_on_growth_and_says_which_show():
    first = life(1, 0.0, 40.0, 700.0)
    leaky = life(2, 40.0, 80.0, 500.0, slope=1.0, fds=40)
    shows = lifetimes(first + leaky, first[:10], t0_s=20.0)
    report = ChaosReport(
        minutes=1.0,
        model="m",
        preset="p",
        crashes=0,
        show_restarts=1,
        faults=[],
        skipped={},
        **headline(shows, first[:10], leaky[-5:]),
        shows=shows,
        fps_mean=30.0,
        fps_p5=25.0,
        stderr_limit_reports=0,
        osc_traffic=0,
        bounds=Bounds(),
    )
    report.judge(supervisor_alive=True, returncode=None)
    assert any(f.startswith("show 2 RSS growth") for f in report.failures), report.failures
    assert any(f.startswith("show descriptor growth 2") for f in report.failures), report.failures
    assert "FAIL" in report.line()


def test_a_first_show_still_finishing_its_start_up_early_in_the_spell_is_not_the_reference():
    # Seen in CI: the spell's first sample caught the show before its JACK client and a thread pool
    # were up (20 fds, 20 threads); from then on every show sat at 38 / 23 and counted as growth.
    starting = [sample(0.0, 1, 495.0, fds=20, threads=20)]
    first = starting + life(1, 2.0, 40.0, 576.0, fds=38, threads=23)
    second = life(2, 42.0, 60.0, 570.0, fds=38, threads=23)
    shows = lifetimes(first + second, first[:10], t0_s=20.0)
    assert [(s.fd_growth, s.thread_growth) for s in shows] == [(0, 0), (0, 0)]
    leaky = life(3, 102.0, 60.0, 570.0, fds=39, threads=24)  # and a real extra descriptor still counts
    shows = lifetimes(first + second + leaky, first[:10], t0_s=20.0)
    assert (shows[2].fd_growth, shows[2].thread_growth) == (1, 1)
