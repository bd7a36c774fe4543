"""Open a report.html in headless Chromium (Debian's `chromium` package) and write a PNG of it.

    python scripts/screenshot_report.py out/report/report.html -o docs/report.png [--width 1280 --height 2000]

The page is loaded from a file:// URL with the network disabled (the report needs none). CI need not
install Chromium: this script is for looking at the rendered report as a user would.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def find_chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "chrome"):
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(html: Path, png: Path, width: int = 1280, height: int = 2000, timeout: float = 120.0) -> Path:
    """Render `html` at `width` x `height` CSS pixels into `png` (replaced only when Chromium succeeded)."""
    exe = find_chromium()
    if exe is None:
        raise SystemExit("chromium not found: apt-get install -y chromium")
    png.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as profile:
        tmp = Path(profile) / "shot.png"
        cmd = [exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--mute-audio",
               f"--user-data-dir={profile}", "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>",
               f"--window-size={width},{height}", f"--screenshot={tmp}", html.resolve().as_uri()]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
        if done.returncode != 0 or not tmp.is_file():
            raise SystemExit(f"chromium failed ({done.returncode}): {done.stderr[-2000:]}")
        shutil.move(str(tmp), png)
    return png


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("html", type=Path, help="report.html")
    p.add_argument("-o", "--out", type=Path, default=Path("report.png"))
    p.add_argument("--width", type=int, default=1280)
    p.add_argument("--height", type=int, default=2000)
    args = p.parse_args(argv)
    if not args.html.is_file():
        raise SystemExit(f"{args.html}: not a file")
    print(f"wrote {screenshot(args.html, args.out, args.width, args.height)}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
