"""The one-line summary says which way the user felt about each movie it names."""

from __future__ import annotations

from service.schemas.ml import GenreMatch, RatedMovieContribution, SimilarUserRating
from service.services.explanations import _summary


def contribution(title: str, rating: float, share: float) -> RatedMovieContribution:
    return RatedMovieContribution(movie_id=1, title=title, your_rating=rating, similarity=0.5, contribution=share)


def test_disliked_movies_that_raise_the_prediction_are_not_called_liked():
    text = _summary(
        "Alien",
        4.2,
        [contribution("Aliens", 5, 0.3), contribution("Barbie", 1, 0.2), contribution("Heat", 5, -0.1)],
        [GenreMatch(genre="Sci-Fi", affinity=0.8, n_rated=4, drove_match=True),
         GenreMatch(genre="Horror", affinity=-0.2, n_rated=2, drove_match=False)],
        [SimilarUserRating(user_id=2, similarity=0.9, rating=5), SimilarUserRating(user_id=3, similarity=0.8, rating=4)],
        user_mean=3.4,
    )
    assert text == (
        "Predicted 4.2 for Alien; because you liked Aliens (5); you disliked Barbie (1); "
        "you like Sci-Fi (+0.8); 2 similar users rated it 4.5 on average."
    )
    assert "Heat" not in text and "Horror" not in text
