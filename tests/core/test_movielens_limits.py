"""The MovieLens reader against hostile or broken archives: zip bombs (honest and lying
headers), line numbers that survive empty lines and chunks, and lines with extra fields."""

from __future__ import annotations

import io
import struct
import zipfile
from pathlib import Path

import pandas as pd
import pytest

from recsys_core.data import load_movielens
from recsys_core.data.movielens import (
    ArchiveLimitError,
    InflateLimits,
    MovieLensFormatError,
    _Inflating,
    open_movielens,
)

ITEMS = "".join(f"{i}|Film {i} (1995)|01-Jan-1995||http://x|{'|'.join(['0'] * 8 + ['1'] + ['0'] * 10)}\n" for i in (1, 2, 3))
LINE = "1\t1\t4\t881250949\n"


def ml100k_zip(path: Path, data: str | bytes, items: str = ITEMS) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("ml-100k/u.data", data)
        archive.writestr("ml-100k/u.item", items)
    return path


def declare_size(path: Path, member: str, size: int) -> Path:
    """Make the zip's headers claim ``size`` uncompressed bytes for ``member``."""
    data = bytearray(path.read_bytes())
    with zipfile.ZipFile(path) as archive:
        struct.pack_into("<I", data, archive.getinfo(member).header_offset + 22, size)
    position = 0
    while (position := data.find(b"PK\x01\x02", position)) != -1:
        length = struct.unpack_from("<H", data, position + 28)[0]
        if data[position + 46 : position + 46 + length].decode() == member:
            struct.pack_into("<I", data, position + 24, size)
        position += 4
    path.write_bytes(bytes(data))
    return path


def read_all(path: Path, chunksize: int | None = 2, **limits) -> pd.DataFrame:
    with open_movielens(path, **limits) as release:
        release.read_movies()
        return pd.concat(list(release.iter_ratings(chunksize=chunksize)))


# ------------------------------------------------------------------ zip bombs


def test_a_member_declaring_more_than_the_limit_is_refused_before_it_is_read(tmp_path):
    archive = declare_size(ml100k_zip(tmp_path / "a.zip", LINE), "ml-100k/u.data", 3 * 2**30)
    with pytest.raises(ArchiveLimitError) as refused:
        read_all(archive, max_uncompressed_bytes=2**31)
    assert refused.value.file == "u.data"
    assert refused.value.problem == "declares 3221225472 bytes uncompressed, over the limit of 2147483648"


def test_a_member_compressing_too_well_is_refused_and_small_ones_are_not_judged(tmp_path):
    bomb = ml100k_zip(tmp_path / "bomb.zip", LINE * 200_000)  # 3.4 MB from a few KB
    with pytest.raises(ArchiveLimitError, match=r"u\.data.*over the compression ratio limit of 50:1"):
        read_all(bomb, max_compression_ratio=50)
    small = ml100k_zip(tmp_path / "small.zip", LINE * 20_000)  # 340 KB compresses as well, but is harmless
    assert len(read_all(small, None, max_compression_ratio=50)) == 20_000
    assert len(read_all(bomb, None)) == 200_000  # no limits, no refusal: the library default


def test_a_header_understating_the_size_cannot_make_the_reader_inflate_more(tmp_path):
    archive = declare_size(ml100k_zip(tmp_path / "liar.zip", LINE * 200_000), "ml-100k/u.data", 1000)
    with pytest.raises(MovieLensFormatError) as refused:
        read_all(archive, max_uncompressed_bytes=10_000, max_compression_ratio=50)
    assert refused.value.file == "u.data" and "damaged" in refused.value.problem


def test_the_inflated_bytes_are_counted_whatever_the_headers_say():
    # A stream yielding more than its header promised (another zip reader might).
    stream = io.BufferedReader(_Inflating(io.BytesIO(bytes(5 * 2**20)), "u.data", 1000, InflateLimits(max_bytes=2**21)))
    with pytest.raises(ArchiveLimitError, match=r"u\.data.*inflates to \d+ bytes uncompressed, over the limit of 2097152"):
        while stream.read(65536):
            pass
    ratio = io.BufferedReader(_Inflating(io.BytesIO(bytes(5 * 2**20)), "u.data", 1000, InflateLimits(max_ratio=50)))
    with pytest.raises(ArchiveLimitError, match="over the compression ratio limit of 50:1"):
        ratio.read()


# ------------------------------------------------------------------ line numbers and fields


def test_frames_are_indexed_by_line_number_across_empty_lines_and_chunks(tmp_path):
    archive = ml100k_zip(tmp_path / "a.zip", "1\t1\t4\t5\n\n2\t2\t3\t5\n3\t3\t3\t5\n\n\n1\t2\t1\t5\n")
    ratings = read_all(archive)
    assert ratings.index.tolist() == [1, 3, 4, 7]
    assert ratings["user_id"].tolist() == [1, 2, 3, 1]
    with open_movielens(archive) as release:
        assert release.read_movies().index.tolist() == [1, 2, 3]


@pytest.mark.parametrize(
    ("data", "line", "field", "problem"),
    [
        ("1\t1\t4\t5\n\n2\tx\t3\t5\n", 3, "item_id", "item_id must be an integer, got 'x'"),
        ("1\t1\t4\t5\n2\t2.5\t3\t5\n", 2, "item_id", "item_id must be an integer, got '2.5'"),
        (f"1\t1\t4\t5\n2\t{2**63}\t3\t5\n", 2, "item_id",
         "item_id must fit in 64 bits (at most 9223372036854775807), got '9223372036854775808'"),
        ("1\t1\t4\t5\n2\t2\t3\n", 2, "timestamp", "timestamp is missing or not a number"),
        ("1\t1\t4\t5\n2\t2\tnan\t5\n", 2, "rating", "rating is missing or not a number"),
        # An extra field used to shift the others silently (the first became the index).
        ("1\t1\t4\t5\t9\n", 1, None, "has more fields than the format"),
        ("1\t1\t4\t5\n" * 5 + "1\t1\t4\t5\t9\t9\n", 6, None, "has 6 fields, expected 4"),
    ],
)
def test_a_bad_ratings_line_is_named_by_file_line_and_field(tmp_path, data, line, field, problem):
    with pytest.raises(MovieLensFormatError) as bad:
        read_all(ml100k_zip(tmp_path / "a.zip", data))
    assert (bad.value.file, bad.value.line, bad.value.field, bad.value.problem) == ("u.data", line, field, problem)
    assert "a.zip!ml-100k/u.data: line" in str(bad.value)  # the library's own message keeps the path


def test_csv_lines_count_the_header_and_dat_lines_count_empty_ones(tmp_path):
    folder = tmp_path / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,5\n1,2,four,5\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n1,A (1995),Drama\n\n2,B (1996),Comedy\n")
    with open_movielens(folder) as release:
        assert release.read_movies().index.tolist() == [2, 4]
        with pytest.raises(MovieLensFormatError) as bad:
            list(release.iter_ratings())
    assert (bad.value.file, bad.value.line, bad.value.field) == ("ratings.csv", 3, "rating")

    dat = tmp_path / "ml-1m"
    dat.mkdir()
    (dat / "ratings.dat").write_text("1::1::5::9\n\n1::2::3::9::7\n")
    (dat / "movies.dat").write_text("1::A (1995)::Drama\n\n2::B (1996)::Comedy\n")
    with open_movielens(dat) as release:
        assert release.read_movies().index.tolist() == [1, 3]
        with pytest.raises(MovieLensFormatError) as bad:
            list(release.iter_ratings())
    assert (bad.value.file, bad.value.line) == ("ratings.dat", 3)


def test_a_bad_movie_id_is_named_by_line(tmp_path):
    items = ITEMS + "x|Film x (1995)|01-Jan-1995||http://x|" + "|".join(["0"] * 19) + "\n"
    with pytest.raises(MovieLensFormatError) as bad:
        load_movielens(ml100k_zip(tmp_path / "a.zip", LINE, items))
    assert (bad.value.file, bad.value.line, bad.value.field) == ("u.item", 4, "item_id")
