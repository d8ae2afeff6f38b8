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
