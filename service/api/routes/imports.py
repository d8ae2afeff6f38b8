from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.api.deps import AdminKey
from service.core.errors import InvalidInput
from service.importer import ImportRejected, import_archive
from service.schemas.imports import ImportResult

router = APIRouter(prefix="/api/import", tags=["import"])


@router.post(
    "/movielens",
    response_model=ImportResult,
    dependencies=[AdminKey],
    responses=InvalidInput.openapi(),
    openapi_extra={"requestBody": {"required": True, "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def import_movielens(
    request: Request,
    split: Annotated[str | None, Query(pattern=r"^u[1-5]$|^u[ab]$", description="Import only this official split's training part.")] = None,
) -> ImportResult:
    """Import a GroupLens MovieLens zip sent as the body; all of it or nothing."""
    with tempfile.TemporaryDirectory(prefix="recsys-import-") as folder:
        archive = Path(folder) / "upload.zip"
        with archive.open("wb") as out:
            async for chunk in request.stream():
                out.write(chunk)
        if archive.stat().st_size == 0:
            raise InvalidInput("the request body must be a MovieLens zip archive", field="body")
        try:
            counts = await asyncio.to_thread(import_archive, archive, split)
        except ImportRejected as exc:
            raise InvalidInput(str(exc), field="body") from exc
    return ImportResult(**counts)
