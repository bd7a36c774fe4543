"""Regenerate seed 002's LeNet analysis (same as `caffecx lenet`): python scripts/lenet_analysis.py [OUT_DIR]."""

import sys

from caffecx.cli import main

if __name__ == "__main__":
    sys.exit(main(["lenet", "--out-dir", sys.argv[1] if len(sys.argv) > 1 else "out/lenet"]))
