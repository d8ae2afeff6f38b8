"""recsys_core.spark_als against the numpy trainers, on a real local Spark.

One SparkSession for the module (starting a JVM costs seconds); data kept small."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from recsys_core import (
    MatrixFactorization,
    evaluate,
    load_model,
    official_movielens_split,
    spark_als,
)
from recsys_core.params import IALSParams, MFParams

pytest.importorskip("pyspark")


@pytest.fixture(scope="module")
def spark():
    """This process's session: under xdist another test file (the service's spark tests)
    may have started one already, which is reused and left running."""
    from pyspark.sql import SparkSession

    existing = SparkSession.getActiveSession()
    session = existing or (
        SparkSession.builder.master("local[2]").appName("recsys-tests")
        .config("spark.sql.shuffle.partitions", "4").config("spark.ui.enabled", "false")
        .getOrCreate()
    )
    session.sparkContext.setLogLevel("ERROR")
    yield session
    if existing is None:
        session.stop()


@pytest.fixture(scope="module")
def u1(ml100k_dir, tmp_path_factory):
    split = official_movielens_split(ml100k_dir, "u1")
    url = spark_als.write_snapshot(split.train, str(tmp_path_factory.mktemp("snap") / "u1"))
    return split, url


def _rmse(model, test: pd.DataFrame) -> float:
    pred = model.predict(test["user_id"].to_numpy(), test["item_id"].to_numpy())
    return float(np.sqrt(np.mean((pred - test["rating"].to_numpy()) ** 2)))


def _own_state(model, user_id, ratings: pd.DataFrame) -> np.ndarray:
    mine = ratings[ratings["user_id"] == user_id]
    return model.user_states(np.zeros(len(mine), dtype=np.int64), mine["item_id"], mine["rating"], 1)[0]


def test_spark_mf_matches_numpy_rmse_on_ml100k_u1_and_writes_the_usual_artifact(spark, u1):
    split, url = u1
    numpy_rmse = _rmse(MatrixFactorization().fit(split.train, rating_scale=(1, 5)), split.test)
    reports = []
    model = spark_als.fit_mf(spark, url, split.train, MFParams(), rating_scale=(1, 5), callback=reports.append)
    spark_rmse = _rmse(model, split.test)
    assert abs(spark_rmse - numpy_rmse) <= 0.01, (spark_rmse, numpy_rmse)
    assert [r.epoch for r in reports] == [MFParams().epochs] and reports[0].train_rmse < spark_rmse

    # A training user's stored vector is the exact solve of their ratings, as with numpy.
    for user_id in (1, 13, 405):
        stored = np.concatenate(([model.user_bias[model._users.get(user_id)]], model.user_factors[model._users.get(user_id)]))
        np.testing.assert_allclose(_own_state(model, user_id, split.train), stored, atol=1e-10)

    loaded = load_model(model.to_bytes())
    assert isinstance(loaded, MatrixFactorization)
    assert loaded.fit_info["engine"] == "spark" and loaded.fit_info["reg_param"] == model.fit_info["reg_param"]
    assert loaded.fit_info["spark_master"] == spark.sparkContext.master
    assert loaded.fingerprint == MatrixFactorization(epochs=1).fit(split.train, rating_scale=(1, 5)).fingerprint
    np.testing.assert_array_equal(loaded.predict([1, 2], [50, 172]), model.predict([1, 2], [50, 172]))


def test_spark_ials_ranks_far_better_than_random_and_keeps_the_fold_in_exact(spark, u1):
    split, url = u1
    params = IALSParams(n_factors=16, epochs=8)
    model = spark_als.fit_ials(spark, url, split.train, params, rating_scale=(1, 5))
    ndcg = evaluate(model, split.train, split.test, k=10).as_dict()["ndcg@10"]

    # Random scores through the same model: random user vectors against shuffled items.
    rng = np.random.default_rng(0)
    shuffled = load_model(model.to_bytes())
    shuffled._item_factors = rng.permutation(shuffled._item_factors)
    shuffled._reset_caches()
    shuffled._user_factors = rng.normal(size=shuffled._user_factors.shape)
    random_ndcg = evaluate(shuffled, split.train, split.test, k=10).as_dict()["ndcg@10"]
    assert ndcg > 0.2 and ndcg > 3 * random_ndcg, (ndcg, random_ndcg)
    assert model.fit_info["engine"] == "spark"
    user = model._users.get(405)
    np.testing.assert_allclose(_own_state(model, 405, split.train), model._user_factors[user], atol=1e-10)


def test_reg_param_matches_our_penalty_at_the_typical_count():
    users, items = np.array([100, 100]), np.array([25, 25, 25])  # typical: sqrt(100 * 25) = 50
    reg = spark_als.spark_reg_param(2.0, 0.5, users, items)
    assert reg * 50 == pytest.approx(2.0 * 50**0.5)
    assert spark_als.spark_reg_param(50.0, 0.0, users, items) == pytest.approx(1.0)


def test_a_snapshot_needs_integer_ids_spark_can_key_on(tmp_path):
    frame = pd.DataFrame({"user_id": ["a", "b"], "item_id": [1, 2], "rating": [4.0, 5.0]})
    with pytest.raises(ValueError, match="integer user_ids"):
        spark_als.write_snapshot(frame, str(tmp_path / "s"))
    frame = pd.DataFrame({"user_id": [1, 2], "item_id": [1, 2**40], "rating": [4.0, 5.0]})
    with pytest.raises(ValueError, match=r"item_ids in \[0, 2147483647\]"):
        spark_als.write_snapshot(frame, str(tmp_path / "s"))
    spark_als.delete_snapshot(str(tmp_path / "never-written"))  # a missing snapshot is fine


def test_importing_recsys_core_does_not_import_pyspark():
    code = "import sys, recsys_core, recsys_core.spark_als; print('pyspark' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
