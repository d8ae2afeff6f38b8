"""Integration fixtures: each test module gets its own live stack (see service.testing.stack)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from service.testing.stack import Stack, launch_stack
from tests.conftest import data_dir


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[Stack]:
    with launch_stack(tmp_path_factory.mktemp("stack"), 11, data_dir() / "ml-100k") as live:
        yield live
