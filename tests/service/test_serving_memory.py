"""The in-memory serving state against slow, obvious references: a dict of dicts for the
users' ratings, hand-computed damped means for the popularity table."""

from __future__ import annotations

import numpy as np
import pytest

from service.schemas.movies import MoviePublic
from service.serving.catalogue import Catalogue
from service.serving.state import PopularityTable
from service.serving.users import Rows, UserRecord, UserStore, compact, movie_totals


def _record(user_id: int, rated: dict[int, float], revision: int, version: int | None = 1) -> UserRecord:
    movies = np.array(sorted(rated), dtype=np.int64)
    values = np.array([rated[m] for m in sorted(rated)], dtype=np.float64)
    return UserRecord(user_id, movies, values, version, np.full(3, float(revision)), revision)


def _random_base(rng: np.random.Generator, users: int = 300, movies: int = 200) -> dict[int, dict[int, float]]:
    reference: dict[int, dict[int, float]] = {}
    for user in rng.choice(10**6, size=users, replace=False).tolist():
        chosen = rng.choice(movies, size=int(rng.integers(1, 30)), replace=False)
        reference[user] = {int(m) + 1: float(rng.integers(1, 11)) / 2 for m in chosen}
    return reference


def _rows_of(reference: dict[int, dict[int, float]]) -> Rows:
    triples = [(u, m, r) for u, rated in reference.items() for m, r in rated.items()]
    users, movies, ratings = (np.array(column) for column in zip(*triples, strict=True))
    return Rows.from_triples(users.astype(np.int64), movies.astype(np.int64), ratings.astype(np.float64))


def _assert_same(store: UserStore, reference: dict[int, dict[int, float]]) -> None:
    for user, rated in reference.items():
        assert store.get(user).rated() == rated, user


def test_the_store_answers_as_a_dict_of_dicts_would_through_writes_and_compactions():
    rng = np.random.default_rng(0)
    reference = _random_base(rng)
    store = UserStore(_rows_of(reference))
    _assert_same(store, reference)
    assert store.get(-5).rated() == {} and store.get(-5).state is None

    revisions: dict[int, int] = {}
    users = list(reference)
    for step in range(600):
        user = users[int(rng.integers(len(users)))] if rng.random() < 0.8 else int(2_000_000 + step)
        rated = dict(reference.get(user, {}))
        for movie in rng.choice(200, size=int(rng.integers(1, 4)), replace=False).tolist():
            if movie + 1 in rated and rng.random() < 0.3:
                del rated[movie + 1]
            else:
                rated[movie + 1] = float(rng.integers(1, 11)) / 2
        revisions[user] = revisions.get(user, 0) + 1
        assert store.put(_record(user, rated, revisions[user]))
        reference[user] = rated
        users.append(user)
        if step % 150 == 149:  # fold the overlay back into the rows, as the upkeep does
            rows, overlay = store.overlay_snapshot()
            store.install_compacted(compact(rows, overlay), overlay)
    _assert_same(store, reference)
    assert store.n_users == len(reference)
    for user, revision in revisions.items():
        assert store.get(user).revision == revision
        assert store.get(user).state.tolist() == [float(revision)] * 3


def test_an_older_copy_of_a_user_never_replaces_a_newer_one():
    store = UserStore()
    assert store.put(_record(7, {1: 4.0, 2: 5.0}, revision=3))
    assert not store.put(_record(7, {1: 1.0}, revision=2))  # a re-read that raced a newer write
    assert not store.put(_record(7, {1: 1.0}, revision=3))
    assert store.get(7).rated() == {1: 4.0, 2: 5.0}
    assert store.put(_record(7, {1: 1.0}, revision=4))
    assert store.get(7).rated() == {1: 1.0}


def test_a_compaction_keeps_what_changed_while_it_ran():
    store = UserStore(_rows_of({1: {1: 3.0}, 2: {2: 4.0}}))
    store.put(_record(1, {1: 5.0}, revision=1))
    rows, overlay = store.overlay_snapshot()
    compacted = compact(rows, overlay)
    store.put(_record(1, {1: 2.0, 3: 1.0}, revision=2))  # arrives while the thread compacts
    store.install_compacted(compacted, overlay)
    assert store.get(1).rated() == {1: 2.0, 3: 1.0} and store.get(2).rated() == {2: 4.0}


def test_a_reload_keeps_the_writes_it_did_not_see_yet():
    old = UserStore(_rows_of({1: {1: 3.0}}))
    old.put(_record(1, {1: 3.0, 2: 5.0}, revision=2))
    old.put(_record(9, {4: 1.0}, revision=1))
    loaded = UserStore(_rows_of({1: {1: 3.0}, 2: {2: 2.0}}), [_record(1, {}, revision=1)])  # read before those writes
    loaded.merge_newer(old)
    assert loaded.get(1).rated() == {1: 3.0, 2: 5.0} and loaded.get(1).revision == 2
    assert loaded.get(9).rated() == {4: 1.0} and loaded.get(2).rated() == {2: 2.0}


def test_a_state_solved_on_read_is_kept_only_if_the_user_did_not_change():
    store = UserStore()
    store.put(_record(3, {1: 4.0}, revision=1, version=1))
    store.adopt_state(3, 2, np.array([9.0]), revision=1)
    assert store.get(3).state_version == 2 and store.get(3).state.tolist() == [9.0]
    store.put(_record(3, {1: 5.0}, revision=2, version=2))
    store.adopt_state(3, 3, np.array([7.0]), revision=1)  # solved from the ratings before revision 2
    assert store.get(3).state_version == 2 and store.get(3).revision == 2


def test_movie_totals_count_every_current_rating_once():
    reference = {1: {10: 4.0, 11: 2.0}, 2: {10: 5.0}, 3: {12: 1.0}}
    store = UserStore(_rows_of(reference))
    store.put(_record(2, {11: 3.0}, revision=1))  # user 2 moved from movie 10 to movie 11
    store.put(_record(4, {12: 5.0}, revision=1))
    ids, counts, sums = movie_totals(*store.overlay_snapshot())
    assert dict(zip(ids.tolist(), counts.tolist(), strict=True)) == {10: 1, 11: 2, 12: 2}
    assert dict(zip(ids.tolist(), sums.tolist(), strict=True)) == {10: 4.0, 11: 5.0, 12: 6.0}


def test_the_popularity_table_orders_by_damped_mean_worked_by_hand():
    # Movie 1: one 5-star rating; movie 2: ten 4.5s; movie 3: four 2s. Global mean
    # (5 + 45 + 8) / 15 = 58/15. Damping m = 5:
    #   1: (5 + 5 * 58/15) / 6 = 4.0556    2: (45 + 5 * 58/15) / 15 = 4.2889
    #   3: (8 + 5 * 58/15) / 9 = 3.0370
    table = PopularityTable.build(np.array([1, 2, 3]), np.array([1, 10, 4]), np.array([5.0, 45.0, 8.0]), 5.0)
    assert table.global_mean == pytest.approx(58 / 15)
    assert table.movie_ids.tolist() == [2, 1, 3]
    assert table.scores.tolist() == pytest.approx([(45 + 5 * 58 / 15) / 15, (5 + 5 * 58 / 15) / 6,
                                                  (8 + 5 * 58 / 15) / 9])
    assert table.top(2, exclude={2}) == [(1, pytest.approx(table.scores[1])), (3, pytest.approx(table.scores[2]))]
    assert [m for m, _ in table.top(5, exclude=set(), allowed={3, 1})] == [1, 3]


def test_the_catalogue_follows_renames_and_genre_changes():
    catalogue = Catalogue([MoviePublic(id=1, title="A", year=None, genres=["Drama"])])
    generation = catalogue.generation
    catalogue.put([MoviePublic(id=1, title="A2", year=2000, genres=["Comedy"]),
                   MoviePublic(id=2, title="B", year=None, genres=["comedy", "Drama"])])
    assert catalogue.generation > generation
    assert catalogue.get(1).title == "A2"
    assert catalogue.in_genres(["drama"]) == {2} and catalogue.in_genres(["COMEDY"]) == {1, 2}
    assert catalogue.known([1, 2, 3]) == {1, 2}
    changed = catalogue.generation
    catalogue.put([])
    assert catalogue.generation == changed  # nothing changed, nothing to rebuild
    reloaded = Catalogue([MoviePublic(id=1, title="A3", year=None, genres=[])])
    assert reloaded.generation not in (generation, changed)  # a reload never looks unchanged


def test_movie_totals_take_huge_and_negative_ids_too():
    reference = {1: {2**62: 4.0, -3: 2.0}, 2: {2**62: 5.0}}
    ids, counts, sums = movie_totals(*UserStore(_rows_of(reference)).overlay_snapshot())
    assert ids.tolist() == [-3, 2**62] and counts.tolist() == [1, 2] and sums.tolist() == [2.0, 9.0]
