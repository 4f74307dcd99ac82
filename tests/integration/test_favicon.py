"""The icon: linked from every page (SVG, and a 32 px PNG), and at /favicon.ico for those who ask there."""

from __future__ import annotations

import re
import struct
from xml.etree import ElementTree

from tests.helpers import ROOT

STATIC = ROOT / "static"


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def test_favicon_ico_answers_with_a_32_px_icon(client) -> None:
    answer = client.get("/favicon.ico")
    assert answer.status_code == 200 and answer.headers["content-type"] == "image/x-icon"
    assert answer.headers["cache-control"] == "public, max-age=86400"
    icon = answer.content
    reserved, kind, count = struct.unpack("<HHH", icon[:6])
    assert (reserved, kind, count) == (0, 1, 1)
    width, height, _, _, _, bits, size, offset = struct.unpack("<BBBBHHII", icon[6:22])
    assert (width, height, bits) == (32, 32, 32)
    assert png_size(icon[offset:offset + size]) == (32, 32)
    assert icon[offset:] == (STATIC / "favicon-32.png").read_bytes()  # the same drawing as the page's PNG


def test_every_page_links_the_svg_and_the_png_and_both_are_served(client) -> None:
    page = client.get("/c/maison-lumiere/link")  # any page: they share base.html
    links = dict(re.findall(r'<link rel="icon" href="([^"]+)"[^>]* type="([^"]+)"', page.text))
    assert set(links.values()) == {"image/svg+xml", "image/png"}, page.text
    for href, media_type in links.items():
        answer = client.get(href)
        assert answer.status_code == 200 and answer.headers["content-type"].startswith(media_type)
    png = next(href for href, kind in links.items() if kind == "image/png")
    assert png_size(client.get(png).content) == (32, 32)
    assert 'sizes="32x32"' in page.text


def test_the_svg_is_small_and_well_formed() -> None:
    data = (STATIC / "favicon.svg").read_bytes()
    assert len(data) < 1024
    root = ElementTree.fromstring(data)
    assert root.tag == "{http://www.w3.org/2000/svg}svg" and root.get("viewBox") == "0 0 32 32"


def test_error_pages_have_the_icon_too(client) -> None:
    assert 'rel="icon"' in client.get("/c/nowhere/preferences").text
