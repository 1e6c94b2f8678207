"""python scripts/compare.py <sweep dir | run dir | results.json> ... [--out DIR]

The comparison report on demand: over one sweep (written into it, as at the end of a multirun), or
over several sweeps and runs (written into --out, by default a new outputs/comparisons/<date>_<time>).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from convlab.cli.compare import main

if __name__ == "__main__":
    main()
