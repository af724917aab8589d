"""Reverie: parse arguments and config, build the App, run it, return an exit code.

python main.py                       fullscreen show with the default config
python main.py --config my-show.toml --set display.fit=letterbox
python main.py --headless --seconds 20 --record out.mp4
python main.py --supervise           the gallery way: restarted on crash or hang, state kept
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import os
import sys

os.environ.setdefault("PYGAME_HIDE_SUPPORT_PROMPT", "1")

log = logging.getLogger("reverie")

EXIT_CONFIG = 2  # bad command line or config: nothing started


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="main.py", description="Reverie: an interactive generative-art installation.")
    p.add_argument("--config", metavar="TOML", help="show config file (defaults apply to anything it leaves out)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one config value, e.g. --set display.fps=30 (repeatable)",
    )
    mode = p.add_mutually_exclusive_group()
    mode.add_argument(
        "--headless", action="store_true", help="no window (SDL dummy driver); pair with --record/--stats"
    )
    mode.add_argument("--windowed", action="store_true", help="a window instead of fullscreen; Esc or Q quits")
    p.add_argument("--seconds", type=float, help="stop after this many seconds")
    p.add_argument("--record", metavar="MP4", help="record the output as H.264 MP4")
    p.add_argument("--camera", metavar="0|PATH|URL|none", help="camera index, video file (loops), stream URL or none")
    p.add_argument(
        "--mic",
        metavar="NAME|INDEX|FILE|synthetic|none",
        help="microphone name or index, a sound file played as the room, synthetic, or none",
    )
    p.add_argument("--model", metavar="NAME|PATH", help="generator to use (see --list-models)")
    p.add_argument("--stats", metavar="PATH", help="append one JSON line of figures per second to PATH")
    p.add_argument("--list-models", action="store_true", help="list the shipped generators and exit")
    p.add_argument("--log-level", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="log verbosity")
    p.add_argument(
        "--supervise",
        action="store_true",
        help="run the show as a child process: restart it on crash or hang, keep its state, rotating log",
    )
    return p.parse_args(argv)


def cli_overrides(args: argparse.Namespace) -> list[str]:
    """Turn the convenience flags into --set overrides so one validator checks everything."""
    out = list(args.overrides)

    def text(key: str, value: str) -> None:
        out.append(f'{key}="{value}"' if '"' not in value else f"{key}='{value}'")

    if args.headless:
        text("display.mode", "headless")
    if args.windowed:
        text("display.mode", "windowed")
    if args.seconds is not None:
        out.append(f"run.seconds={args.seconds}")
    if args.record:
        text("record.path", args.record)
    if args.camera is not None:
        text("camera.source", args.camera)
    if args.mic is not None:
        text("microphone.source", args.mic)
    if args.model:
        text("generator.model", args.model)
    if args.stats:
        text("stats.path", args.stats)
    if args.log_level:
        text("run.log_level", args.log_level)
    return out


def list_models() -> int:
    from models.registry import default_model_name
    from models.registry import list_models as entries

    default = default_model_name()
    for entry in entries():
        mark = "*" if entry.name == default else " "
        print(f"{mark} {entry.name:24s} {entry.arch:8s} {entry.description}")
    print("(* = the default; choose one with --model NAME or generator.model in the config)")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.list_models:
        return list_models()
    from installation.config import ConfigError, load_config

    try:
        config = load_config(args.config, cli_overrides(args))
    except ConfigError as exc:
        print(f"reverie: config error: {exc}", file=sys.stderr)
        return EXIT_CONFIG
    if args.supervise:
        from installation.supervisor import supervise

        return supervise(list(sys.argv[1:] if argv is None else argv), config)
    from installation.stderr_limit import StderrLimiter

    limiter = StderrLimiter()  # C libraries' stderr floods (PortAudio on a dead server) are rate-limited
    limiter.install()
    # A crash's traceback goes to the real stderr (the supervisor's log), not through the limiter's pipe,
    # whose reading thread dies with the process.
    faulthandler.enable(file=sys.stderr)
    logging.basicConfig(level=config.run.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    from installation.app import App
    from installation.sources.microphone import portaudio_stuck
    from installation.standby import wait_for_go

    if not wait_for_go():  # a supervisor's warm standby that was never needed
        limiter.close()
        return 0
    try:
        code = App(config).run()
    except ConfigError as exc:
        log.error("config error: %s", exc)
        return EXIT_CONFIG
    finally:
        limiter.close()
    if portaudio_stuck():  # its spinning thread crashes the interpreter's shutdown (SIGSEGV): leave now
        logging.shutdown()
        os._exit(code)
    return code


if __name__ == "__main__":
    sys.exit(main())
