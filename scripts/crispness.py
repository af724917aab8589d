#!/usr/bin/env python3
"""Crispness of a recording (issue 11's measure): see installation/bench/crispness.py.

.venv/bin/python scripts/crispness.py recording.mp4 [--every N] [--skip N] [--json PATH]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from installation.bench.crispness import main

if __name__ == "__main__":
    sys.exit(main())
