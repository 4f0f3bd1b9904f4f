"""Loads a local HTML page in headless Chromium (Debian's `chromium`) and returns what its
console printed, with a probe that reports every image that failed to load."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--enable-logging=stderr",
    "--v=0",
    "--virtual-time-budget=5000",
    "--dump-dom",
)
PROBE = (
    "<script>window.addEventListener('load', () => {"
    "for (const img of document.images) {"
    "if (!img.complete || img.naturalWidth === 0) {"
    "console.error('image failed to load: ' + img.getAttribute('src'));}}"
    "console.log('images checked: ' + document.images.length);});</script>"
)
CONSOLE_LINE = re.compile(r':CONSOLE[^\]]*\] "(.*)", source:')


def find_chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


def console_messages(chromium: str, page: Path, user_data_dir: Path) -> tuple[list[str], str]:
    """Console messages of `page` (plus the image probe's) and the rendered DOM.

    The probe is injected into a copy next to `page`, so relative image paths still resolve.
    """
    probed = page.with_name(f"probe-{page.name}")
    probed.write_text(page.read_text().replace("</body>", PROBE + "</body>"))
    result = subprocess.run(
        [chromium, *FLAGS, f"--user-data-dir={user_data_dir}", probed.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    probed.unlink()
    return CONSOLE_LINE.findall(result.stderr), result.stdout
