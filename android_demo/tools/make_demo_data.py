"""Write the Android demo's local data: a shard of scikit-learn's bundled 8×8 digits as CSV.

    .venv/bin/python android_demo/tools/make_demo_data.py [--rows 400] [--seed 1]

Output: android_demo/app/src/main/assets/digits_local.csv with a header ``label,p0..p63`` and
pixel intensities 0–16 (the app divides by 16, as ``fedlite.examples.load_digits_split`` does).
Rows come from the training split only, so the server's held-out evaluation set stays unseen.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ASSET = Path(__file__).resolve().parents[1] / "app" / "src" / "main" / "assets" / "digits_local.csv"


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=400, help="examples on the phone (default 400)")
    parser.add_argument("--seed", type=int, default=1, help="which shard (default 1)")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
    import numpy as np

    from fedlite.examples import load_digits_split

    x_train, y_train, _, _ = load_digits_split(seed=0)
    rows = np.random.default_rng(args.seed).permutation(len(x_train))[: args.rows]
    pixels = np.rint(x_train[rows].reshape(len(rows), -1) * 16).astype(int)
    lines = ["label," + ",".join(f"p{i}" for i in range(pixels.shape[1]))]
    lines += [f"{label}," + ",".join(map(str, row)) for label, row in zip(y_train[rows], pixels)]
    ASSET.parent.mkdir(parents=True, exist_ok=True)
    ASSET.write_text("\n".join(lines) + "\n")
    print(f"wrote {len(rows)} examples to {ASSET}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
