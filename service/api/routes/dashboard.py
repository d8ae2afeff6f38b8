from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response

from service import dashboard
from service.core.errors import NotFound

router = APIRouter(tags=["dashboard"], include_in_schema=False)

REVALIDATE = {"Cache-Control": "no-cache"}
LONG_CACHE = {"Cache-Control": "public, max-age=604800, immutable"}


@router.get("/dashboard", response_class=HTMLResponse)
async def dashboard_page() -> HTMLResponse:
    """The ML training dashboard."""
    return HTMLResponse(dashboard.index_html(), headers=REVALIDATE)


@router.get("/dashboard/", response_class=RedirectResponse)
async def dashboard_slash() -> RedirectResponse:
    """Redirect to the page without the trailing slash (relative URLs resolve from it)."""
    return RedirectResponse("/dashboard", status_code=308)


@router.get("/dashboard/static/vendor/plotly.min.js", response_class=Response)
async def plotly_bundle(request: Request) -> Response:
    """The plotly.js bundle from the installed plotly package, gzipped when accepted."""
    headers = {**LONG_CACHE, "Vary": "Accept-Encoding"}
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = dashboard.plotly_bundle_gzip()
        return Response(body, media_type="text/javascript", headers={**headers, "Content-Encoding": "gzip"})
    return FileResponse(dashboard.plotly_bundle_path(), media_type="text/javascript", headers=headers)


@router.get("/dashboard/static/{path:path}", response_class=FileResponse)
async def dashboard_static(path: str) -> FileResponse:
    """The dashboard's own CSS and JS modules."""
    found = dashboard.static_file(path)
    if found is None:
        raise NotFound(f"no dashboard file {path[:100]!r}")  # not a 10 KB path echoed back
    return FileResponse(found, media_type=dashboard.media_type(found), headers=REVALIDATE)
