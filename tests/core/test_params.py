import pydantic
import pytest

from recsys_core.model import MatrixFactorization
from recsys_core.params import MFParams


def test_defaults_are_valid_and_frozen():
    p = MFParams()
    assert p.n_factors >= 1 and p.epochs >= 1 and p.regularization > 0
    with pytest.raises(pydantic.ValidationError):
        p.n_factors = 3  # frozen


@pytest.mark.parametrize(
    "field, value, range_text",
    [
        ("n_factors", 0, "[1, 1024]"),
        ("n_factors", 5000, "[1, 1024]"),
        ("regularization", 0.0, "(0.0, 10000.0]"),
        ("regularization", -1.0, "(0.0, 10000.0]"),
        ("regularization_exponent", 1.5, "[0.0, 1.0]"),
        ("bias_regularization", 0, "(0.0, 10000.0]"),
        ("epochs", 0, "[1, 1000]"),
        ("init_std", 0.0, "(0.0, 10.0]"),
        ("seed", -1, "[0, 4294967295]"),
        ("early_stopping_patience", -2, "[0, 1000]"),
        ("early_stopping_tol", 2.0, "[0.0, 1.0]"),
        ("regularization", float("nan"), "(0.0, 10000.0]"),
    ],
)
def test_out_of_range_names_field_and_range(field, value, range_text):
    with pytest.raises(pydantic.ValidationError) as info:
        MFParams(**{field: value})
    message = str(info.value)
    assert field in message
    assert range_text in message


def test_extra_fields_are_refused():
    with pytest.raises(pydantic.ValidationError) as info:
        MFParams(n_fators=10)
    assert "n_fators" in str(info.value)


def test_learning_rate_is_refused_with_explanation():
    with pytest.raises(pydantic.ValidationError) as info:
        MatrixFactorization(learning_rate=0.01)
    assert "learning_rate" in str(info.value) and "ALS" in str(info.value)


def test_wrong_type_refused():
    with pytest.raises(pydantic.ValidationError) as info:
        MFParams(n_factors="many")
    assert "n_factors" in str(info.value)
    with pytest.raises(pydantic.ValidationError):
        MFParams(solver="fast")


def test_early_stopping_flag():
    assert not MFParams().early_stopping
    assert not MFParams(early_stopping_patience=0).early_stopping
    assert MFParams(early_stopping_patience=2).early_stopping


def test_model_params_round_trip_through_json():
    p = MFParams(n_factors=7, regularization=0.3, early_stopping_patience=3)
    assert MFParams(**p.model_dump(mode="json")) == p
    m = MatrixFactorization(params=p)
    assert m.params is p
    with pytest.raises(ValueError):
        MatrixFactorization(params=p, epochs=3)
