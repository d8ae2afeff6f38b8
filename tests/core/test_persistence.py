import io
import json
import zipfile

import numpy as np
import pytest

from recsys_core import persistence
from recsys_core.model import MatrixFactorization, ModelFileError
from tests.core._helpers import random_ratings, tiny_ratings


@pytest.fixture(scope="module")
def model():
    return MatrixFactorization(n_factors=4, epochs=3, regularization=0.5).fit(
        random_ratings(seed=7), rating_scale=(1, 5)
    )


def _same(a, b):
    assert a.params == b.params
    assert a.global_mean == b.global_mean and a.rating_scale == b.rating_scale
    assert a.fingerprint == b.fingerprint
    np.testing.assert_array_equal(a.user_ids, b.user_ids)
    np.testing.assert_array_equal(a.item_ids, b.item_ids)
    np.testing.assert_array_equal(a.user_factors, b.user_factors)
    np.testing.assert_array_equal(a.item_bias, b.item_bias)
    np.testing.assert_array_equal(a.item_popularity, b.item_popularity)
    users = list(a.user_ids[:5])
    np.testing.assert_array_equal(a.recommend_batch(users, 5)[0], b.recommend_batch(users, 5)[0])


def test_round_trip_path(model, tmp_path):
    path = tmp_path / "m.npz"
    model.save(path)
    loaded = MatrixFactorization.load(path)
    _same(model, loaded)
    assert not (tmp_path / "m.npz.tmp").exists()
    with np.load(path, allow_pickle=False) as npz:  # plain npz, no pickle needed
        assert "user_factors" in npz.files


def test_round_trip_file_object_and_bytes(model):
    buf = io.BytesIO()
    model.save(buf)
    buf.seek(0)
    _same(model, MatrixFactorization.load(buf))
    _same(model, MatrixFactorization.from_bytes(model.to_bytes()))


def test_string_ids_and_new_user_profiles_survive(tmp_path):
    m = MatrixFactorization(n_factors=2, epochs=3).fit(tiny_ratings())
    loaded = MatrixFactorization.from_bytes(m.to_bytes())
    assert loaded.user_ids.tolist() == m.user_ids.tolist()
    assert list(loaded.seen_items("alice")[0]) == ["m1", "m2", "m3", "m4"]
    np.testing.assert_array_equal(loaded.trained_state("alice"), m.trained_state("alice"))
    zoe = m.profile(["m1", "m3"], [5.0, 1.0])  # a new user, solved on either copy
    np.testing.assert_allclose(loaded.profile(["m1", "m3"], [5.0, 1.0]).state, zoe.state)
    assert loaded.recommend(zoe, 3)[0].tolist() == m.recommend(zoe, 3)[0].tolist()
    e = loaded.explain(zoe, "m6")
    assert e.total() == pytest.approx(e.score, abs=1e-9)
    assert [t.item_id for t in e.rated_items()] and {t.item_id for t in e.rated_items()} <= {"m1", "m3"}


def test_metadata_contents(model):
    arrays, meta = persistence.from_bytes(model.to_bytes())
    assert meta["format"] == persistence.FORMAT_NAME
    assert meta["format_version"] == persistence.FORMAT_VERSION
    assert meta["params"]["n_factors"] == 4 and meta["rating_scale"] == [1.0, 5.0]
    assert meta["fingerprint"] == model.fingerprint and len(meta["checksum"]) == 64
    assert all(a.dtype != object for a in arrays.values())


def test_truncated_file_raises(model, tmp_path):
    data = model.to_bytes()
    for cut in (10, len(data) // 2, len(data) - 5):
        with pytest.raises(ModelFileError, match="truncated|corrupted|checksum"):
            MatrixFactorization.from_bytes(data[:cut])
    path = tmp_path / "cut.npz"
    path.write_bytes(data[: len(data) // 3])
    with pytest.raises(ModelFileError):
        MatrixFactorization.load(path)


def test_altered_array_raises_checksum_error(model):
    arrays, meta = persistence.from_bytes(model.to_bytes())
    arrays["item_bias"] = arrays["item_bias"].copy()
    arrays["item_bias"][0] += 1.0
    buf = io.BytesIO()
    payload = dict(arrays)
    payload["__metadata__"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
    np.savez(buf, **payload)
    with pytest.raises(ModelFileError, match="checksum mismatch"):
        MatrixFactorization.from_bytes(buf.getvalue())


def test_altered_metadata_raises(model):
    data = model.to_bytes()
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            content = src.read(info)
            if info.filename == "__metadata__.npy":
                content = content.replace(b'"global_mean":', b'"global_mean":1')
            dst.writestr(info, content)
    with pytest.raises(ModelFileError):
        MatrixFactorization.from_bytes(out.getvalue())


def test_flipped_byte_anywhere_is_detected(model):
    data = bytearray(model.to_bytes())
    rng = np.random.default_rng(0)
    for pos in rng.integers(0, len(data), 20):
        bad = bytearray(data)
        bad[pos] ^= 0xFF
        try:
            loaded = MatrixFactorization.from_bytes(bytes(bad))
        except ModelFileError:
            continue
        # a flip in zip padding/headers that does not change content is harmless
        _same(model, loaded)


def test_wrong_version_and_foreign_files(model, tmp_path):
    arrays, meta = persistence.from_bytes(model.to_bytes())
    meta = {k: v for k, v in meta.items() if k not in ("format", "format_version", "checksum")}
    buf = io.BytesIO()
    persistence.write_model_file(buf, arrays, meta)
    good = buf.getvalue()
    assert MatrixFactorization.from_bytes(good).fingerprint == model.fingerprint
    a2, m2 = persistence.from_bytes(good)
    m2["format_version"] = 99
    m2["checksum"] = persistence.checksum(a2, m2)
    buf = io.BytesIO()
    np.savez(buf, **a2, __metadata__=np.frombuffer(json.dumps(m2).encode(), dtype=np.uint8))
    with pytest.raises(ModelFileError, match="format_version 99"):
        MatrixFactorization.from_bytes(buf.getvalue())
    other = io.BytesIO()
    np.savez(other, x=np.arange(3))
    with pytest.raises(ModelFileError, match="not a recsys_core model file"):
        MatrixFactorization.from_bytes(other.getvalue())
    with pytest.raises(ModelFileError):
        MatrixFactorization.from_bytes(b"not a zip at all")
    with pytest.raises(FileNotFoundError):
        MatrixFactorization.load(tmp_path / "missing.npz")


def test_object_arrays_refused():
    with pytest.raises(ValueError, match="pickle"):
        persistence.write_model_file(io.BytesIO(), {"x": np.array([1, "a"], dtype=object)}, {})
