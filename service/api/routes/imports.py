from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.api.deps import AdminKey, ServingDep, SettingsDep
from service.core.errors import InvalidInput
from service.importer import ImportConflict, ImportTooLarge, MoviesPolicy, import_archive
from service.schemas.imports import ImportResult
from service.services.import_uploads import upload_folder

router = APIRouter(prefix="/api/import", tags=["import"])


@router.post(
    "/movielens",
    response_model=ImportResult,
    dependencies=[AdminKey],
    responses={**InvalidInput.openapi(), **ImportTooLarge.openapi(), **ImportConflict.openapi()},
    openapi_extra={"requestBody": {"required": True, "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}}}},
)
async def import_movielens(
    request: Request,
    settings: SettingsDep,
    serving: ServingDep,
    split: Annotated[str | None, Query(pattern=r"^u[1-5]$|^u[ab]$", description="Import only this official split's training part.")] = None,
    movies: Annotated[MoviesPolicy, Query(description="keep: movies already in the catalogue stay as they are; overwrite: take the archive's title, year and genres.")] = "keep",
) -> ImportResult:
    """Import a GroupLens MovieLens zip sent as the body; all of it or nothing."""
    with upload_folder(settings) as folder:
        archive = folder / "upload.zip"
        await _receive(request, archive)
        if archive.stat().st_size == 0:
            raise InvalidInput("the request body must be a MovieLens zip archive", field="body")
        counts = await asyncio.to_thread(import_archive, archive, settings, split, movies)
    await serving.reload()  # the others reload within a poll (the import moved the data generation)
    return ImportResult(**counts)


async def _receive(request: Request, archive: Path) -> None:
    with archive.open("wb") as out:
        async for chunk in request.stream():
            out.write(chunk)
