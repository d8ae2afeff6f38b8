from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Query, Request

from service.api.deps import AdminKey, ServingDep, SettingsDep
from service.api.openapi import response_example
from service.core.errors import InvalidInput
from service.importer import ImportConflict, ImportTooLarge, MoviesPolicy, import_archive
from service.schemas import examples
from service.schemas.imports import ImportResult
from service.services.import_uploads import upload_folder

router = APIRouter(prefix="/api/import", tags=["import"])


@router.post(
    "/movielens",
    response_model=ImportResult,
    dependencies=[AdminKey],
    summary="Import a MovieLens archive",
    responses={
        200: response_example(examples.IMPORT_RESULT),
        **InvalidInput.openapi(), **ImportTooLarge.openapi(), **ImportConflict.openapi(),
    },
    openapi_extra={"requestBody": {
        "required": True,
        "description": "The zip exactly as GroupLens publishes it: ml-100k.zip, ml-1m.zip, ml-latest-small.zip, ...",
        "content": {"application/zip": {"schema": {"type": "string", "format": "binary"}}},
    }},
)
async def import_movielens(
    request: Request,
    settings: SettingsDep,
    serving: ServingDep,
    split: Annotated[str | None, Query(pattern=r"^u[1-5]$|^u[ab]$", description="Import only this official split's training part.")] = None,
    movies: Annotated[MoviesPolicy, Query(description="keep: movies already in the catalogue stay as they are; overwrite: take the archive's title, year and genres.")] = "keep",
) -> ImportResult:
    """Import a GroupLens MovieLens zip sent as the body; all of it or nothing.

    For example ``curl -H "X-API-Key: $ADMIN_API_KEY" -H "Content-Type: application/zip"
    --data-binary @ml-100k.zip http://localhost:8000/api/import/movielens``. Users whose
    ratings changed are re-solved against the active model, if there is one."""
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
