from __future__ import annotations

from tests.scenario import ADMIN, CLIENT


async def test_create_get_and_search_movies(client):
    for movie_id, title, genres in [(1, "Toy Story", ["Animation", "Comedy"]), (2, "Heat", ["Action", "Crime"]),
                                    (3, "Toy Soldiers", ["Action"])]:
        response = await client.post("/api/movies", json={"id": movie_id, "title": title, "year": 1995, "genres": genres},
                                     headers=CLIENT)
        assert response.status_code == 201, response.text

    one = (await client.get("/api/movies/1")).json()
    assert one["title"] == "Toy Story" and one["genres"] == ["Animation", "Comedy"] and one["n_ratings"] == 0

    found = (await client.get("/api/movies", params={"search": "toy"})).json()
    assert found["count"] == 2 and [m["id"] for m in found["data"]] == [1, 3]
    action = (await client.get("/api/movies", params={"genre": "action"})).json()
    assert {m["id"] for m in action["data"]} == {2, 3}
    both = (await client.get("/api/movies", params={"genre": "Action", "search": "toy"})).json()
    assert [m["id"] for m in both["data"]] == [3]
    paged = (await client.get("/api/movies", params={"page": 2, "page_size": 2})).json()
    assert paged["count"] == 3 and [m["id"] for m in paged["data"]] == [3]


async def test_search_treats_wildcards_and_sql_as_text(client):
    await client.post("/api/movies", json={"id": 1, "title": "100% Love_Story"}, headers=CLIENT)
    await client.post("/api/movies", json={"id": 2, "title": "Other"}, headers=CLIENT)
    assert (await client.get("/api/movies", params={"search": "%"})).json()["count"] == 1
    assert (await client.get("/api/movies", params={"search": "_"})).json()["count"] == 1
    injected = await client.get("/api/movies", params={"search": "' OR 1=1 --"})
    assert injected.status_code == 200 and injected.json()["count"] == 0
    unicode = await client.get("/api/movies", params={"search": "Amélie 🎬"})
    assert unicode.status_code == 200 and unicode.json()["count"] == 0


async def test_movie_errors_name_the_field(client):
    missing = await client.get("/api/movies/999")
    assert missing.status_code == 404
    assert missing.json()["error"] == {"code": "not_found", "message": "movie 999 not found", "field": "movie_id"}

    bad = await client.post("/api/movies", json={"id": 0, "title": "x"}, headers=CLIENT)
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "id"

    await client.post("/api/movies", json={"id": 5, "title": "x"}, headers=CLIENT)
    again = await client.post("/api/movies", json={"id": 5, "title": "y"}, headers=CLIENT)
    assert again.status_code == 409 and again.json()["error"]["field"] == "id"

    page = await client.get("/api/movies", params={"page_size": 1000})
    assert page.status_code == 422 and page.json()["error"]["field"] == "page_size"


async def test_writing_movies_needs_a_key(client):
    assert (await client.post("/api/movies", json={"id": 1, "title": "x"})).status_code == 401
    wrong = await client.post("/api/movies", json={"id": 1, "title": "x"}, headers={"X-API-Key": "nope"})
    assert wrong.status_code == 403 and wrong.json()["error"]["code"] == "forbidden"
    assert (await client.post("/api/movies", json={"id": 1, "title": "x"}, headers=ADMIN)).status_code == 201


async def test_the_list_shows_each_movies_rating_count_and_mean_as_its_own_page_does(client):
    for movie_id in (1, 2, 3):
        await client.post("/api/movies", json={"id": movie_id, "title": f"Movie {movie_id}"}, headers=CLIENT)
    for user_id, movie_id, rating in [(1, 1, 5), (2, 1, 4), (3, 1, 2), (1, 2, 3.5)]:
        body = {"user_id": user_id, "movie_id": movie_id, "rating": rating}
        assert (await client.post("/api/ratings", json=body, headers=CLIENT)).status_code == 201

    listed = {m["id"]: m for m in (await client.get("/api/movies")).json()["data"]}
    assert (listed[1]["n_ratings"], listed[1]["mean_rating"]) == (3, 11 / 3)
    assert (listed[2]["n_ratings"], listed[2]["mean_rating"]) == (1, 3.5)
    assert (listed[3]["n_ratings"], listed[3]["mean_rating"]) == (0, None)
    for movie_id, movie in listed.items():
        assert (await client.get(f"/api/movies/{movie_id}")).json() == movie


async def test_an_unknown_genre_is_refused_with_the_known_ones_listed(client):
    for movie_id, genres in [(1, ["Horror"]), (2, ["Comedy", "Sci-Fi"])]:
        await client.post("/api/movies", json={"id": movie_id, "title": f"M{movie_id}", "genres": genres}, headers=CLIENT)

    for path, param in [("/api/movies", "genre"), ("/api/ml/recommendations/7", "genres")]:
        refused = await client.get(path, params={param: "Horrr"})
        assert refused.status_code == 422, refused.text
        error = refused.json()["error"]
        assert error["field"] == param
        assert error["message"] == "unknown genre 'Horrr'; known genres: Comedy, Horror, Sci-Fi"
        assert (await client.get(path, params={param: "horror"})).status_code == 200  # any case

    several = await client.get("/api/ml/recommendations/7", params={"genres": "Comedy,Dramaa"})
    assert several.status_code == 422 and "'Dramaa'" in several.json()["error"]["message"]
