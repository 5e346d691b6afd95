"""Open one built page of the course site in headless Chromium and check what a reader sees.

    python docs/site/check_page.py _build/site/_build/html/notebooks/03_training.html

A copy of the page, beside it (so its relative links hold), gets a script that waits for
the page to load and writes into <body> how many of its figures the browser decoded.
Chromium (Debian's `chromium`) loads that copy and prints the DOM; this script then checks:
* at least `--min-figures` figures, every one of them decoded (naturalWidth > 0);
* the "Open in Colab" badge, linking to this notebook on Colab.
Exit status 0 when all hold, 1 with the reason otherwise. Standard library only.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
import sys
from pathlib import Path

PROBE = """<script>
window.addEventListener("load", () => {
  const figures = [...document.images].filter(image => image.src.includes("/_images/"));
  const decoded = figures.filter(image => image.complete && image.naturalWidth > 0);
  document.body.setAttribute("data-figures", figures.length);
  document.body.setAttribute("data-figures-decoded", decoded.length);
});
</script>"""


def browser() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return name
    sys.exit("error: no Chromium found; on Debian: apt-get install chromium")


def rendered_dom(page: Path) -> str:
    """The page's DOM after Chromium has loaded it and run the probe."""
    probe = page.with_name(f".check-{page.name}")
    probe.write_text(page.read_text(encoding="utf-8").replace("</body>", PROBE + "</body>"), encoding="utf-8")
    try:
        result = subprocess.run([browser(), "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                                 "--virtual-time-budget=10000", "--dump-dom", probe.resolve().as_uri()],
                                capture_output=True, text=True, timeout=120)
    finally:
        probe.unlink(missing_ok=True)
    if result.returncode != 0 or "<body" not in result.stdout:
        sys.exit(f"error: Chromium could not load {page}: {result.stderr.strip()[-500:]}")
    return result.stdout


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("page", type=Path)
    parser.add_argument("--min-figures", type=int, default=3)
    args = parser.parse_args()
    if not args.page.is_file():
        sys.exit(f"error: {args.page} does not exist; build the site first")
    dom = rendered_dom(args.page)
    body = re.search(r"<body[^>]*>", dom).group(0)
    counts = [re.search(rf'{name}="(\d+)"', body) for name in ("data-figures", "data-figures-decoded")]
    if not all(counts):
        sys.exit(f"error: the page did not finish loading in Chromium's time budget: {args.page}")
    figures, decoded = (int(found.group(1)) for found in counts)
    badge = re.search(r'<a[^>]+href="(https://colab\.research\.google\.com/github/[^"]+)"[^>]*>\s*<img[^>]+'
                      r'colab-badge\.svg', dom)
    problems = []
    if figures < args.min_figures:
        problems.append(f"{figures} figures on the page, expected at least {args.min_figures}")
    if decoded != figures:
        problems.append(f"only {decoded} of {figures} figures were decoded by the browser")
    if not badge or not badge.group(1).endswith(f"/{args.page.stem}.ipynb"):
        problems.append("no Open-in-Colab badge linking to this notebook")
    print(f"{args.page.name}: {decoded} of {figures} figures decoded by Chromium; Colab badge: "
          f"{badge.group(1) if badge else 'missing'}")
    for problem in problems:
        print(f"error: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
