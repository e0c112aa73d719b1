"""recsys.checks.check_indices: one helper, one exception type per kind of mistake."""

from __future__ import annotations

import numpy as np
import pytest

from recsys.checks import IndexOutOfRangeError, check_indices


def test_valid_indices_come_back_as_int64():
    out = check_indices("users", [2, 0, 1], 3, kind="user")
    assert out.dtype == np.int64 and out.tolist() == [2, 0, 1]
    assert check_indices("items", np.array([], dtype=float), 0).size == 0  # an empty list of any dtype
    assert check_indices("users", 2, 3, kind="user", flatten=True).tolist() == [2]
    assert check_indices("items", [-1, 4], 5, unknown=True).tolist() == [-1, 4]


@pytest.mark.parametrize("values", [[0.0, 1.0], [True, False], ["a"]])
def test_non_integers_are_a_type_error(values):
    with pytest.raises(TypeError, match="users must be integer user indices"):
        check_indices("users", values, 3, kind="user")


@pytest.mark.parametrize("values, unknown", [([3], False), ([-1], False), ([-2], True), ([5], True)])
def test_out_of_range_is_one_type_both_an_index_and_a_value_error(values, unknown):
    with pytest.raises(IndexOutOfRangeError, match=f"users: user index {values[0]} out of range for 3 users"):
        check_indices("users", values, 3, kind="user", unknown=unknown)
    assert issubclass(IndexOutOfRangeError, IndexError) and issubclass(IndexOutOfRangeError, ValueError)


def test_shape_and_repeats_are_value_errors():
    with pytest.raises(ValueError, match="1-D array of item indices, got shape"):
        check_indices("items", [[0, 1]], 3)
    with pytest.raises(ValueError, match="repeated user indices"):
        check_indices("users", [0, 1, 0], 3, kind="user", unique=True)
    assert check_indices("items", [[0, 1]], 3, flatten=True).tolist() == [0, 1]
