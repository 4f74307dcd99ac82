"""Draw static/favicon-32.png and static/favicon.ico from static/favicon.svg (run after changing the SVG).

    .venv/bin/python scripts/favicon.py

Debian's Chromium renders the SVG (through Playwright, as the browser tests drive it), so
the PNG is the SVG exactly; the ICO holds that PNG (an ICO may hold PNG images, which
every browser reads).
"""

import os
import shutil
import struct
from pathlib import Path

from playwright.sync_api import sync_playwright

STATIC = Path(__file__).resolve().parent.parent / "static"
CHROMIUM = os.environ.get("CHROMIUM_PATH") or shutil.which("chromium") or "/usr/bin/chromium"


def main() -> None:
    svg = (STATIC / "favicon.svg").read_text()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 32, "height": 32})
        page.set_content(f"<body style='margin:0'><div style='width:32px;height:32px'>{svg}</div></body>")
        png = page.locator("svg").screenshot(omit_background=True)
        browser.close()
    (STATIC / "favicon-32.png").write_bytes(png)
    # ICONDIR (reserved, type 1 = icon, one image), then ICONDIRENTRY (32 x 32, no palette, 1 plane,
    # 32 bits, the image's size and offset), then the PNG itself.
    icon = struct.pack("<HHH", 0, 1, 1) + struct.pack("<BBBBHHII", 32, 32, 0, 0, 1, 32, len(png), 6 + 16) + png
    (STATIC / "favicon.ico").write_bytes(icon)


if __name__ == "__main__":
    main()
