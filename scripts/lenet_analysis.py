"""Regenerate seed 002's LeNet analysis; the same as `caffecx lenet` and takes the same arguments.

python scripts/lenet_analysis.py [--dir DIR] [--out-dir OUT_DIR]   (default: the bundled nets, out/lenet)
A single positional OUT_DIR is accepted too.
"""

import sys

from caffecx.cli import main

if __name__ == "__main__":
    args = sys.argv[1:]
    if len(args) == 1 and not args[0].startswith("-"):
        args = ["--out-dir", args[0]]
    sys.exit(main(["lenet", *args]))
