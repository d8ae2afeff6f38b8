"""Interface checks shared by the ranking-only types' tests (EASE, iALS)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from recsys_core.evaluation import ranking_metrics
from recsys_core.recommender import Recommender
from recsys_core.types import load_model

SCI_FI = [50, 172, 181, 183, 176, 195, 89, 228]  # Star Wars, Empire, Jedi, Alien, Aliens, Terminator, Blade Runner, Khan
SCI_FI_RATINGS = [5.0, 5.0, 4.5, 5.0, 4.5, 5.0, 4.5, 5.0]


def most_popular_ndcg(train: pd.DataFrame, test: pd.DataFrame) -> float:
    """NDCG@10 of the most-rated unseen movies, the baseline a ranker must beat."""

    class MostPopular:
        rating_scale = (1.0, 5.0)
        counts = train["item_id"].value_counts()
        item_ids = counts.index.to_numpy()
        user_ids = train["user_id"].unique()
        seen = train.groupby("user_id")["item_id"].agg(set)

        def recommend_batch(self, users, n=10, exclude_seen=True):
            ids = [[i for i in self.item_ids[: n + len(self.seen[u])] if i not in self.seen[u]][:n] for u in users]
            return np.array(ids, dtype=object), np.zeros((len(users), n))

    return ranking_metrics(MostPopular(), train, test, k=10)["ndcg@10"]


def check_explanations_sum(model: Recommender, user_id, new_items, new_ratings) -> None:
    """Terms sum to the score, for a trained user and a brand-new one."""
    trained = model.trained_profile(user_id)
    new = model.profile(new_items, new_ratings)
    for profile in (trained, new):
        scores = model.scores(profile)
        top, _ = model.recommend(profile, n=5)
        for item in list(top) + [model.item_ids[0]]:
            exp = model.explain(profile, item)
            code = int(model._item_codes([item])[0])
            assert exp.total() == np.float64(exp.score) or abs(exp.total() - exp.score) < 1e-9
            assert abs(exp.score - scores[code]) <= 1e-5 * max(1.0, abs(scores[code]))
            assert any(t.kind == "rated_item" for t in exp.terms)


def check_states_match_batch(model: Recommender, user_ids) -> None:
    """A profile re-solved from a user's own ratings ranks like recommend_batch."""
    batch_ids, _ = model.recommend_batch(user_ids, n=10)
    for row, user in enumerate(user_ids):
        items, values = model.seen_items(user)
        ids, _ = model.recommend(model.profile(items, values), n=10)
        assert list(ids) == list(batch_ids[row])


def check_round_trip(model: Recommender, user_id) -> Recommender:
    loaded = load_model(model.to_bytes())
    assert type(loaded) is type(model)
    assert loaded.params == model.params and loaded.fingerprint == model.fingerprint
    profile = model.trained_profile(user_id)
    np.testing.assert_allclose(loaded.scores(profile), model.scores(profile), rtol=1e-6, atol=1e-9)
    np.testing.assert_array_equal(loaded.item_ids, model.item_ids)
    return loaded


def sci_fi_hits(model: Recommender) -> int:
    """How many Sci-Fi films are in the top 10 of a brand-new user who loves eight."""
    from tests.core._helpers import data_dir

    items = pd.read_csv(data_dir() / "ml-100k" / "u.item", sep="|", header=None, encoding="latin-1")
    sci_fi = set(items.loc[items[20] == 1, 0])  # column 20: the Sci-Fi genre flag
    ids, _ = model.recommend(model.profile(SCI_FI, SCI_FI_RATINGS), n=10)
    return sum(int(i) in sci_fi for i in ids)
