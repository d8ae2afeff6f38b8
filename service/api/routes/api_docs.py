"""Swagger UI and ReDoc from the assets of the installed ``fastapi-offline`` package.

FastAPI's own pages load both from a CDN (and ReDoc its fonts from Google), so offline
they are blank. Only the files listed here are served, with a versioned URL so browsers
may keep them.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from importlib.metadata import version
from pathlib import Path

from fastapi import APIRouter, Request
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import FileResponse, HTMLResponse, Response

from service.core.errors import NotFound

router = APIRouter(tags=["docs"], include_in_schema=False)

ASSETS_URL = f"/docs-assets/{version('fastapi-offline')}"
ASSETS = {
    "swagger-ui-bundle.js": "text/javascript; charset=utf-8",
    "swagger-ui.css": "text/css; charset=utf-8",
    "redoc.standalone.js": "text/javascript; charset=utf-8",
    "favicon.png": "image/png",
}
LONG_CACHE = {"Cache-Control": "public, max-age=604800, immutable"}
OPENAPI_URL = "/openapi.json"
OAUTH2_REDIRECT_URL = "/docs/oauth2-redirect"


def _asset_path(name: str) -> Path:
    return Path(str(resources.files("fastapi_offline") / "static" / name))


@router.get("/docs", response_class=HTMLResponse)
async def swagger_ui(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_swagger_ui_html(
        openapi_url=f"{root}{OPENAPI_URL}",
        title=f"{request.app.title} - Swagger UI",
        oauth2_redirect_url=f"{root}{OAUTH2_REDIRECT_URL}",
        swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
        swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
        swagger_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        swagger_ui_parameters=request.app.swagger_ui_parameters,
    )


@router.get(OAUTH2_REDIRECT_URL, response_class=HTMLResponse)
async def swagger_ui_oauth2_redirect() -> HTMLResponse:
    return get_swagger_ui_oauth2_redirect_html()


@router.get("/redoc", response_class=HTMLResponse)
async def redoc(request: Request) -> HTMLResponse:
    root = request.scope.get("root_path", "")
    return get_redoc_html(
        openapi_url=f"{root}{OPENAPI_URL}",
        title=f"{request.app.title} - ReDoc",
        redoc_js_url=f"{root}{ASSETS_URL}/redoc.standalone.js",
        redoc_favicon_url=f"{root}{ASSETS_URL}/favicon.png",
        with_google_fonts=False,
    )


@router.get(ASSETS_URL + "/{name}", response_class=Response)
async def docs_asset(name: str) -> Response:
    if name not in ASSETS:  # a lookup in a fixed table: client input never reaches the filesystem
        raise NotFound(f"no docs asset {name[:100]!r}")
    if name == "redoc.standalone.js":
        return Response(_redoc_bundle(), media_type=ASSETS[name], headers=LONG_CACHE)
    return FileResponse(_asset_path(name), media_type=ASSETS[name], headers=LONG_CACHE)


REDOC_LOGO_URL = b"https://cdn.redoc.ly/redoc/logo-mini.svg"


@lru_cache(maxsize=1)
def _redoc_bundle() -> bytes:
    """ReDoc's bundle with its one outside request taken out: a logo it fetches from its
    CDN, with no option to leave it out. An unloadable ``data:`` image makes ReDoc hide it."""
    bundle = _asset_path("redoc.standalone.js").read_bytes()
    return bundle.replace(REDOC_LOGO_URL, b"data:,")
