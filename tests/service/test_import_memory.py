"""The import reads, checks and writes ratings a chunk at a time: the memory it
allocates does not grow with the archive (an archive inflating to 2 GB once took the
API past 14 GB)."""

from __future__ import annotations

import tracemalloc
import zipfile

import service.importer as importer


def archive(path, n_users: int, n_movies: int = 200):
    flags = "|".join(["0"] * 8 + ["1"] + ["0"] * 10)
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("ml-100k/u.item", "".join(f"{m}|Film {m} (1995)|x||u|{flags}\n" for m in range(1, n_movies + 1)))
        zf.writestr("ml-100k/u.data", "".join(
            f"{u}\t{m}\t{1 + (u + m) % 5}\t881250949\n" for u in range(1, n_users + 1) for m in range(1, n_movies + 1)
        ))
    return path


def peak_allocated(path) -> tuple[int, dict]:
    tracemalloc.start()
    try:
        counts = importer.import_archive(path)
        return tracemalloc.get_traced_memory()[1], counts
    finally:
        tracemalloc.stop()


def test_peak_memory_does_not_grow_with_the_number_of_ratings(settings_env, tmp_path, monkeypatch):
    monkeypatch.setattr(importer, "RATINGS_PER_CHUNK", 2_000)
    small = archive(tmp_path / "small.zip", 25)  # 5,000 ratings
    large = archive(tmp_path / "large.zip", 200)  # 40,000 ratings
    peak_small, counts = peak_allocated(small)
    assert counts["ratings"] == 5_000
    peak_large, counts = peak_allocated(large)
    assert counts["ratings"] == 40_000
    # Eight times the ratings; the whole-archive import it replaces allocated ~8x more.
    assert peak_large < 2 * peak_small, (peak_small, peak_large)
