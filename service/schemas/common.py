from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_ID = 2**63 - 1  # ids are BIGINT columns
# Strict: JSON true is not user 1, and "7" is not movie 7.
EntityId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
MAX_VERSION = 2**31 - 1  # model versions are INTEGER columns

# PostgreSQL text cannot hold NUL; a string with one is refused as input, not sent to the database.
NO_NUL = r"^[^\x00]*$"


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int
    page: int = 1
    page_size: int = 0


class Message(BaseModel):
    message: str
