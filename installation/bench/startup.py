"""Start-up to first frame, as a kiosk reboot sees it: a fresh interpreter, imports included.

Run by the bench in a subprocess; prints one JSON line.
"""

from __future__ import annotations

import json
import sys
import time

import psutil

T_PROCESS_S = psutil.Process().create_time()  # wall-clock process start (10 ms resolution)


def main(argv: list[str]) -> int:
    from installation.app import App
    from installation.config import load_config

    t_imported = time.time()
    app = App(load_config(None, ["display.mode=headless", "run.log_level=WARNING", *argv]))
    try:
        app.setup()  # renders frame one before the loop starts
        app.update(0.0)
        app.draw(0.0)  # ... and this presents it
        t_first = time.time()
        print(
            json.dumps(
                {
                    "first_frame_s": round(t_first - T_PROCESS_S, 3),
                    "imports_s": round(t_imported - T_PROCESS_S, 3),
                    "model": app.model_entry.name,
                }
            )
        )
    finally:
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
