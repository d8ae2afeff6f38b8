"""The 1-10 scale on the real stack: the scaled release imported by `recsys import-movielens`,
trained by a Celery worker on PostgreSQL, served by uvicorn (the in-process run of the same
scenario, on both scales, is tests/service/test_rating_scales.py)."""

from __future__ import annotations

import httpx
import pytest

from service.testing.stack import launch_stack
from tests.conftest import data_dir
from tests.service.test_rating_scales import scale_scenario, write_release

pytestmark = pytest.mark.integration

SCALE = (1.0, 10.0)


async def test_the_1_to_10_scale_end_to_end_on_the_real_stack(tmp_path):
    release = write_release(data_dir() / "ml-100k", tmp_path / "ml-100k", SCALE)
    env = {"RATING_MIN": str(SCALE[0]), "RATING_MAX": str(SCALE[1])}
    with launch_stack(tmp_path, 13, release, extra_env=env) as stack:
        async with httpx.AsyncClient(base_url=stack.api_urls[0], timeout=60) as client:
            await scale_scenario(client, SCALE)
