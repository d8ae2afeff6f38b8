"""bench.ranking's smoke path (``--quick --sections accuracy``) on ml-100k u1."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench import ranking


def _table_after(text: str, heading: str) -> list[list[str]]:
    """Cells of the first markdown table after ``heading``, header row included."""
    lines = text.split(heading, 1)[1].splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("|"))
    rows = []
    for line in lines[start:]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split("|")])
    return [rows[0], *rows[2:]]  # without the alignment rule


@pytest.mark.timeout(60)
def test_quick_accuracy_table_has_every_type_and_the_ensemble_beats_most_popular(
    ml100k_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RECSYS_DATA_DIR", str(ml100k_dir.parent))
    out = tmp_path / "benchmarks.md"
    assert ranking.main(["--quick", "--sections", "accuracy", "--out", str(out)]) == 0

    text = out.read_text()
    assert text.count("<!-- BEGIN ranking -->") == 1 and text.count("<!-- END ranking -->") == 1
    header, *rows = _table_after(text, "### ml-100k")
    assert header == [
        "Type",
        "NDCG@10",
        "precision@10",
        "recall@10",
        "coverage@10",
        "RMSE",
        "candidate NDCG@10",
        "fit s",
    ]
    by_type = {row[0].split("`")[1]: row for row in rows}
    assert list(by_type) == list(ranking.TYPES)
    assert all(len(row) == len(header) for row in rows)
    assert float(by_type["ensemble"][1]) > float(by_type["most_popular"][1])
    assert by_type["ease"][5] == "—" and by_type["matrix_factorization"][5] != "—"


def test_most_popular_excludes_seen_items_and_pads_short_lists() -> None:
    import pandas as pd

    train = pd.DataFrame(
        {"user_id": [1, 1, 2, 3], "item_id": [10, 20, 10, 30], "rating": [5.0, 4, 3, 2]}
    )
    model = ranking.MostPopular().fit(train, rating_scale=(1.0, 5.0))
    ids, scores = model.recommend_batch([1, 2], n=3)
    assert list(ids[0]) == [30, None, None]  # 10 and 20 seen; 30 is the only one left
    assert list(ids[1]) == [20, 30, None]  # ties in count: lower id first
    assert scores[1, 0] == 1.0
