"""Train/test splits: partitions, per-user guarantees, determinism, official files."""

from __future__ import annotations

import shutil

import numpy as np
import pandas as pd
import pytest

from recsys_core.data import (
    Split,
    kfold_splits,
    load_movielens,
    official_movielens_split,
    synthetic_ratings,
    temporal_split,
    user_holdout_split,
)


@pytest.fixture(scope="module")
def ratings():
    return synthetic_ratings(200, 100, 3000, seed=3).ratings


def keys(frame: pd.DataFrame) -> set[tuple[int, int]]:
    return set(zip(frame["user_id"], frame["item_id"]))


def test_kfold_partitions_every_row_once(ratings):
    splits = kfold_splits(ratings, k=5, seed=1)
    assert len(splits) == 5 and all(isinstance(s, Split) for s in splits)
    tests = [keys(s.test) for s in splits]
    assert sum(len(t) for t in tests) == len(ratings)
    assert set().union(*tests) == keys(ratings)
    for s in splits:
        assert len(s.train) + len(s.test) == len(ratings)
        assert not keys(s.train) & keys(s.test)
        assert len(s.test) in (600, 601, 599)  # 3000 / 5, sizes differ by at most one
        assert list(s.train.columns) == list(ratings.columns)
        assert s.test.index.equals(pd.RangeIndex(len(s.test)))


def test_kfold_is_seeded(ratings):
    a = kfold_splits(ratings, k=3, seed=7)
    b = kfold_splits(ratings, k=3, seed=7)
    c = kfold_splits(ratings, k=3, seed=8)
    pd.testing.assert_frame_equal(a[0].test, b[0].test)
    assert not a[0].test.equals(c[0].test)


def test_kfold_rejects_bad_k(ratings):
    with pytest.raises(ValueError, match="k must be an integer >= 2"):
        kfold_splits(ratings, k=1)
    with pytest.raises(ValueError, match="cannot make 5 folds from 3"):
        kfold_splits(ratings.head(3), k=5)


def test_user_holdout_fraction_per_user_and_min_train(ratings):
    split = user_holdout_split(ratings, test_fraction=0.25, seed=0, min_train=2)
    assert len(split.train) + len(split.test) == len(ratings)
    assert not keys(split.train) & keys(split.test)
    n = ratings.groupby("user_id").size()
    n_test = split.test.groupby("user_id").size().reindex(n.index, fill_value=0)
    expected = np.maximum(np.minimum(np.floor(0.25 * n + 0.5), n - 2), 0)
    assert (n_test == expected).all()
    n_train = split.train.groupby("user_id").size().reindex(n.index, fill_value=0)
    assert (n_train >= np.minimum(n, 2)).all()


def test_user_holdout_hand_case():
    frame = pd.DataFrame(
        {
            "user_id": [1] * 10 + [2] * 1 + [3] * 3,
            "item_id": list(range(10)) + [0] + [0, 1, 2],
            "rating": 3.0,
            "timestamp": 0,
        }
    )
    split = user_holdout_split(frame, test_fraction=0.2, seed=5)
    counts = split.test.groupby("user_id").size().to_dict()
    # user 1: round(0.2 * 10) = 2; user 2: only one rating, kept for train; user 3: round(0.6) = 1
    assert counts == {1: 2, 3: 1}
    assert split.train["user_id"].value_counts().to_dict() == {1: 8, 3: 2, 2: 1}


def test_user_holdout_is_seeded(ratings):
    a = user_holdout_split(ratings, seed=4)
    b = user_holdout_split(ratings, seed=4)
    c = user_holdout_split(ratings, seed=5)
    pd.testing.assert_frame_equal(a.test, b.test)
    assert keys(a.test) != keys(c.test)
    with pytest.raises(ValueError, match="test_fraction"):
        user_holdout_split(ratings, test_fraction=1.0)


def test_temporal_split_cutoff_and_ties():
    frame = pd.DataFrame(
        {
            "user_id": [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            "item_id": 0,
            "rating": 3.0,
            "timestamp": [50, 10, 30, 30, 30, 20, 60, 40, 30, 70],
        }
    )
    split = temporal_split(frame, test_fraction=0.3)
    # the 3 latest: timestamps 70, 60, 50
    assert sorted(split.test["timestamp"]) == [50, 60, 70]
    split = temporal_split(frame, test_fraction=0.6)
    # 6 latest: 70, 60, 50, 40 and two of the four 30s -- the last two in row order (users 5, 9)
    assert sorted(split.test["user_id"]) == [1, 5, 7, 8, 9, 10]
    assert split.train["timestamp"].max() <= split.test["timestamp"].min()
    assert split.test["user_id"].tolist() == [1, 5, 7, 8, 9, 10]  # input order kept
    with pytest.raises(ValueError, match="empty train or test"):
        temporal_split(frame.head(1), test_fraction=0.2)


def test_official_split_u1(ml100k_dir):
    split = official_movielens_split(ml100k_dir, "u1")
    assert len(split.train) == 80_000 and len(split.test) == 20_000
    assert split.train["rating"].dtype == np.float64
    full = load_movielens(ml100k_dir).ratings
    both = pd.concat([split.train, split.test])
    assert keys(both) == keys(full)
    assert not keys(split.train) & keys(split.test)


def test_official_split_u1_to_u5_tests_partition_the_data(ml100k_dir):
    tests = [keys(official_movielens_split(ml100k_dir, f"u{i}").test) for i in range(1, 6)]
    assert sum(len(t) for t in tests) == 100_000
    assert len(set().union(*tests)) == 100_000


def test_official_split_missing_files_say_so(tmp_path, ml100k_dir):
    with pytest.raises(FileNotFoundError, match=r"'ua' needs ua\.base"):
        official_movielens_split(ml100k_dir, "ua")
    partial = tmp_path / "ml-100k"
    partial.mkdir()
    shutil.copy(ml100k_dir / "u2.base", partial / "u2.base")  # tmp only, deleted by pytest
    with pytest.raises(FileNotFoundError, match=r"u2\.test"):
        official_movielens_split(partial, "u2")
    with pytest.raises(ValueError, match="unknown official MovieLens split"):
        official_movielens_split(ml100k_dir, "u9")
    with pytest.raises(FileNotFoundError, match="no MovieLens folder"):
        official_movielens_split(tmp_path / "nope", "u1")


def test_official_split_from_a_zip(tmp_path, ml100k_dir):
    import zipfile

    archive = tmp_path / "ml-100k.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        for name in ("u3.base", "u3.test"):
            zf.write(ml100k_dir / name, f"ml-100k/{name}")
    from_zip = official_movielens_split(archive, "u3")
    from_folder = official_movielens_split(ml100k_dir, "u3")
    pd.testing.assert_frame_equal(from_zip.test, from_folder.test)
    assert len(from_zip.train) == 80_000
