"""The one-line summary tells the truth about the terms it is built from."""

from __future__ import annotations

from recsys_core.recommender import Explanation, Term
from service.schemas.movies import MoviePublic
from service.services.explanations import summary

MOVIES = {
    1: MoviePublic(id=1, title="Aliens", year=1986, genres=["Sci-Fi"], n_ratings=0, mean_rating=None),
    2: MoviePublic(id=2, title="Barbie", year=2023, genres=["Comedy"], n_ratings=0, mean_rating=None),
    3: MoviePublic(id=3, title="Heat", year=1995, genres=["Crime"], n_ratings=0, mean_rating=None),
}


def explanation(*terms: Term, prediction: float | None = 4.2) -> Explanation:
    return Explanation(item_id=9, model_type="matrix_factorization", score=sum(t.value for t in terms),
                       prediction=prediction, terms=terms)


def test_the_movies_own_appeal_is_named_when_it_dominates_and_tiny_shares_are_left_out():
    text = summary(
        "Alien",
        explanation(
            Term("global_mean", 3.5), Term("user_bias", 0.2), Term("item_appeal", 1.0),
            Term("rated_item", 0.02, item_id=1, rating=4.5), Term("rated_item", -0.01, item_id=3, rating=5.0),
        ),
        MOVIES, [], user_mean=4.0,
    )
    assert text == "Predicted 4.2 for Alien; mostly because it is widely loved (+1.0)."
    assert "Aliens" not in text and "Heat" not in text  # +0.02 and -0.01 read as +0.0


def test_a_rating_at_or_above_the_users_mean_is_never_called_disliked():
    text = summary(
        "Alien",
        explanation(
            Term("rated_item", 0.6, item_id=1, rating=4.5), Term("rated_item", 0.3, item_id=2, rating=1.0),
            Term("rated_item", -0.2, item_id=3, rating=4.0), Term("item_appeal", 0.1),
        ),
        MOVIES, [], user_mean=4.0,
    )
    assert text == (
        "Predicted 4.2 for Alien; mostly because you liked Aliens (4.5) (+0.6), "
        "you rated Barbie 1 (+0.3); held back by you liked Heat (4) (-0.2)."
    )
    assert "disliked" not in text


def test_largest_first_by_absolute_size_and_ranking_types_show_their_score():
    text = summary(
        "Alien",
        explanation(
            Term("baseline", -3.0), Term("rated_item", 0.2, item_id=1, rating=5.0),
            Term("rated_item", -0.9, item_id=3, rating=2.0), Term("item_appeal", 0.5), prediction=None,
        ),
        MOVIES, [], user_mean=3.0,
    )
    assert text.startswith("Recommended Alien (score -3.20); mostly because it is widely loved (+0.5), ")
    assert text.endswith("held back by you rated Heat 2 (-0.9).")
    assert "baseline" not in text  # the same for every movie: it does not say why this one
