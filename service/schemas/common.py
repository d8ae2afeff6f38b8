from __future__ import annotations

from typing import Annotated, Generic, TypeVar

from pydantic import BaseModel, Field

T = TypeVar("T")

MAX_ID = 2**63 - 1
EntityId = Annotated[int, Field(ge=1, le=MAX_ID)]


class Page(BaseModel, Generic[T]):
    data: list[T]
    count: int
    page: int = 1
    page_size: int = 0


class Message(BaseModel):
    message: str
