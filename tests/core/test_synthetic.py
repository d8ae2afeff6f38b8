"""Synthetic ratings: shape, uniqueness, planted structure, known noise, popularity, chunking."""

from __future__ import annotations

import numpy as np
import pytest

from recsys_core.data import SyntheticDataset, synthetic, synthetic_ratings


def test_shape_dtypes_and_unique_pairs():
    ds = synthetic_ratings(300, 200, 20_000, seed=1)
    assert isinstance(ds, SyntheticDataset)
    r = ds.ratings
    assert len(r) == 20_000
    assert list(r.columns) == ["user_id", "item_id", "rating", "timestamp"]
    assert r["rating"].dtype == np.float64 and r["timestamp"].dtype == np.int64
    assert r["user_id"].between(0, 299).all() and r["item_id"].between(0, 199).all()
    assert not r.duplicated(["user_id", "item_id"]).any()
    assert (np.diff(r["user_id"] * 200 + r["item_id"]) > 0).all()  # sorted by (user, item)
    assert ds.user_factors.shape == (300, 8) and ds.item_factors.shape == (200, 8)
    assert ds.rating_scale == (1.0, 5.0) and ds.noise_std == 0.5


def test_noise_is_exactly_the_residual():
    ds = synthetic_ratings(2000, 500, 200_000, noise_std=0.3, seed=2)
    r = ds.ratings
    resid = r["rating"].to_numpy() - ds.expected_rating(r["user_id"], r["item_id"])
    assert abs(resid.mean()) < 0.005
    assert resid.std() == pytest.approx(0.3, rel=0.01)
    # unrounded, unclipped by default: ratings take many distinct values
    assert r["rating"].nunique() > 100_000


def test_planted_signal_explains_variance():
    ds = synthetic_ratings(2000, 500, 200_000, noise_std=0.5, seed=3)
    r = ds.ratings
    expected = ds.expected_rating(r["user_id"], r["item_id"])
    # signal std = 0.2 * 4 = 0.8 from factors plus biases: clearly above the noise
    assert expected.std() > 0.8
    dot = np.einsum("ij,ij->i", ds.user_factors[r["user_id"]], ds.item_factors[r["item_id"]])
    assert dot.std() == pytest.approx(0.8, rel=0.1)


def test_zipf_popularity():
    ds = synthetic_ratings(20_000, 1000, 200_000, popularity_exponent=1.0, seed=4)
    counts = np.bincount(ds.ratings["item_id"], minlength=1000)
    top = np.argsort(-ds.item_popularity)
    # the most popular decile gets far more ratings than the least popular one
    assert counts[top[:100]].sum() > 10 * counts[top[-100:]].sum()
    flat = synthetic_ratings(20_000, 1000, 200_000, popularity_exponent=0.0, seed=4)
    flat_counts = np.bincount(flat.ratings["item_id"], minlength=1000)
    assert flat_counts.max() < 2 * flat_counts.mean()


def test_rounding_option():
    ds = synthetic_ratings(100, 80, 3000, round_to=1.0, seed=5)
    assert set(ds.ratings["rating"].unique()) <= {1.0, 2.0, 3.0, 4.0, 5.0}
    half = synthetic_ratings(100, 80, 3000, round_to=0.5, rating_scale=(0.5, 5.0), seed=5)
    values = half.ratings["rating"].to_numpy()
    assert values.min() >= 0.5 and values.max() <= 5.0
    assert np.allclose(values * 2, np.round(values * 2))


def test_seeded():
    a = synthetic_ratings(100, 50, 1000, seed=9).ratings
    b = synthetic_ratings(100, 50, 1000, seed=9).ratings
    c = synthetic_ratings(100, 50, 1000, seed=10).ratings
    assert a.equals(b) and not a.equals(c)


def test_dense_request_fills_the_matrix():
    ds = synthetic_ratings(30, 20, 600, seed=6)
    assert len(ds.ratings) == 600 and not ds.ratings.duplicated(["user_id", "item_id"]).any()
    ds = synthetic_ratings(30, 20, 450, seed=6)
    assert len(ds.ratings) == 450 and not ds.ratings.duplicated(["user_id", "item_id"]).any()


def test_bad_arguments():
    with pytest.raises(ValueError, match="n_ratings must be between 1 and"):
        synthetic_ratings(10, 10, 101)
    with pytest.raises(ValueError, match="rank"):
        synthetic_ratings(10, 10, 10, rank=0)
    with pytest.raises(ValueError, match="rating_scale"):
        synthetic_ratings(10, 10, 10, rating_scale=(5.0, 1.0))
    with pytest.raises(ValueError, match="noise_std"):
        synthetic_ratings(10, 10, 10, noise_std=-1)


def test_the_benchmarks_shape_at_a_tenth_uniform_users_and_items_by_popularity():
    # bench/compare_surprise.py's 1M size (70K x 10K at 10M, scaled by sqrt(n / 10M));
    # how fast the 10M set is drawn is a benchmark figure, not a test.
    n_users, n_items = 22_136, 3_162
    ds = synthetic_ratings(n_users, n_items, 1_000_000, seed=0)
    r = ds.ratings
    assert len(r) == 1_000_000
    keys = r["user_id"].to_numpy() * n_items + r["item_id"].to_numpy()
    assert (np.diff(keys) > 0).all()  # sorted and unique
    per_user = np.bincount(r["user_id"], minlength=n_users)
    # uniform users: every one drawn, counts spread like a Poisson of the mean (std sqrt(45))
    assert per_user.min() > 0 and per_user.std() < 1.5 * np.sqrt(per_user.mean())
    per_item = np.bincount(r["item_id"], minlength=n_items)
    # items in the order of their popularity (the head saturates: a user rates an item once)
    ranks = [np.argsort(np.argsort(x)) for x in (per_item, ds.item_popularity)]
    assert np.corrcoef(*ranks)[0, 1] > 0.95
    assert per_item.max() <= n_users


def test_the_planted_scores_are_computed_chunk_by_chunk_without_seams(monkeypatch):
    # Chunks bound the memory of the 10M-row einsum; a small chunk puts many seams, and a
    # ragged last chunk, in a small set.
    monkeypatch.setattr(synthetic, "_CHUNK", 1000)
    ds = synthetic_ratings(400, 300, 20_500, noise_std=0.0, seed=8)
    r = ds.ratings
    users, items = r["user_id"].to_numpy(), r["item_id"].to_numpy()
    whole = (ds.global_mean + ds.user_bias[users] + ds.item_bias[items]
             + (ds.user_factors[users] * ds.item_factors[items]).sum(axis=1))
    np.testing.assert_allclose(ds.expected_rating(users, items), whole, rtol=0, atol=1e-12)
    np.testing.assert_allclose(r["rating"].to_numpy(), whole, rtol=0, atol=1e-12)  # no noise: the plant itself
    grid = ds.expected_rating(users[:1500].reshape(30, 50), items[:1500].reshape(30, 50))
    np.testing.assert_allclose(grid.ravel(), whole[:1500], rtol=0, atol=1e-12)
