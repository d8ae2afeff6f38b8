"""Swagger UI and ReDoc come from the installed package: every URL the pages load is ours."""

from __future__ import annotations

import re

import pytest


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
async def test_the_docs_pages_load_only_assets_this_server_serves(client, page):
    html = (await client.get(page)).text
    urls = re.findall(r"""(?:src|href|url)\s*[=:(]\s*['"]([^'"]+)['"]""", html)
    assert [u for u in urls if u.endswith(".js")], html
    assert not [u for u in urls if re.match(r"(https?:)?//", u)], urls  # no CDN, no Google fonts
    for url in urls:
        response = await client.get(url)
        assert response.status_code == 200, url
        if url.endswith(".js"):
            assert len(response.content) > 100_000  # the real bundle, not a placeholder
            assert response.headers["cache-control"].startswith("public")


async def test_an_unknown_docs_asset_is_not_found(client):
    from service.api.routes.api_docs import ASSETS_URL

    assert (await client.get(f"{ASSETS_URL}/../../pyproject.toml")).status_code == 404
    assert (await client.get(f"{ASSETS_URL}/swagger-ui.js")).status_code == 404



async def test_the_redoc_bundle_asks_no_other_host_for_its_logo(client):
    from service.api.routes.api_docs import ASSETS_URL, REDOC_LOGO_URL, _asset_path

    assert REDOC_LOGO_URL in _asset_path("redoc.standalone.js").read_bytes()  # the package's own still does
    served = (await client.get(f"{ASSETS_URL}/redoc.standalone.js")).content
    assert REDOC_LOGO_URL not in served and b"cdn.redoc.ly" not in served
