"""The whole first load of an embedded widget stays under 25 KB gzipped, as served."""

from __future__ import annotations

import re

import httpx

BUDGET = 25_000  # bytes on the wire, gzipped: page, stylesheets, htmx, widget.js, embed.js


def test_the_first_load_of_an_embed_fits_its_budget(live_server, store) -> None:
    subscriber = store.create_subscriber("maison-lumiere")
    token = live_server.app.state.signer.mint("manage", "maison-lumiere", subscriber)
    sizes = {}
    with httpx.Client(base_url=live_server.url, headers={"Accept-Encoding": "gzip"}) as client:
        page = client.get("/c/maison-lumiere/preferences", params={"t": token})
        # What the browser loads with the page (stylesheets, scripts), not the pages it links to,
        # nor its icons: a browser fetches a top-level page's icon, never a frame's.
        linked = re.findall(r'<(?:link(?![^>]*\brel="icon")[^>]*\bhref|script[^>]*\bsrc)="(/(?:static|c)/[^"]+)"',
                            page.text)
        assets = ["/embed.js", *(url.replace("&amp;", "&") for url in linked)]
        for name, response in [("page", page), *((url, client.get(url)) for url in assets)]:
            assert response.status_code == 200, name
            assert response.headers.get("content-encoding") == "gzip", f"{name} is not compressed"
            sizes[name.split("?")[0]] = int(response.headers["content-length"])
    assert {"/static/widget.css", "/static/widget.js", "/embed.js"} <= set(sizes)
    assert any("htmx" in name for name in sizes) and any("theme.css" in name for name in sizes)
    total = sum(sizes.values())
    assert total <= BUDGET, f"first load is {total} bytes gzipped (budget {BUDGET}): {sizes}"
