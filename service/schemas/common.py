from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Generic, TypeVar

from pydantic import AfterValidator, BaseModel, Field, PlainSerializer

T = TypeVar("T")

MAX_ID = 2**63 - 1  # ids are BIGINT columns
# Strict: JSON true is not user 1, and "7" is not movie 7.
EntityId = Annotated[int, Field(ge=1, le=MAX_ID, strict=True)]
MAX_VERSION = 2**31 - 1  # model versions are INTEGER columns

# PostgreSQL text cannot hold NUL; a string with one is refused as input, not sent to the database.
NO_NUL = r"^[^\x00]*$"


def as_utc(moment: datetime) -> datetime:
    """SQLite hands back naive datetimes for columns written in UTC: say so."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# Every timestamp the API sends is UTC and says so ("2026-12-03T07:29:02.123456Z"), also on
# responses built without validation (model_construct), hence the serializer.
UtcDatetime = Annotated[
    datetime, AfterValidator(as_utc), PlainSerializer(as_utc, return_type=datetime, when_used="json")
]


class Page(BaseModel, Generic[T]):
    data: list[T] = Field(description="This page's items.")
    count: int = Field(description="Items matching the query over all pages.")
    page: int = Field(default=1, description="This page's number, from 1.")
    page_size: int = Field(default=0, description="Most items on a page, as asked for.")


class Message(BaseModel):
    message: str = Field(description="What happened, in words.")
