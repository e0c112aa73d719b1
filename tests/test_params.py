"""Notebook parameter checks: good values pass through, bad ones fail naming the parameter."""

from __future__ import annotations

import math

import pytest

from recsys.notebook import params
from recsys.notebook.params import ParameterError


def test_good_values_pass_through():
    assert params.choice("dataset", "ml-100k", ["ml-100k", "synthetic"]) == "ml-100k"
    assert params.integer("k", 5, minimum=1, maximum=10) == 5
    assert params.number("ratio", 0.5, 0, 1, exclusive=True) == 0.5
    assert params.integers("factors", [5, 10], minimum=1) == [5, 10]
    assert params.numbers_list("regs", [0, 1.5], minimum=0) == [0.0, 1.5]
    assert params.boolean("tune", False) is False
    assert params.grid("g", {"factors": [4, 8]}) == {"factors": [4, 8]}
    assert params.strings("titles", ["Toy Story (1995)"]) == ["Toy Story (1995)"]
    assert params.optional_number("threshold", None) is None and params.optional_number("threshold", 4) == 4.0


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: params.choice("dataset", "ml-5k", ["ml-100k"]), "'dataset' must be one of 'ml-100k'"),
        (lambda: params.integer("k_core", -1, minimum=0), "'k_core' must be an integer >= 0"),
        (lambda: params.integer("k", 2.5), "'k' must be an integer"),
        (lambda: params.integer("k", True), "'k' must be an integer"),
        (lambda: params.number("ratio", 1.0, 0, 1, exclusive=True), "'ratio' must be a finite number > 0 and < 1"),
        (lambda: params.number("x", math.nan), "'x' must be a finite number"),
        (lambda: params.integers("factors", [], minimum=1), "'factors' must be a non-empty list"),
        (lambda: params.integers("factors", [5, 0], minimum=1), "'factors\\[1\\]' must be an integer >= 1"),
        (lambda: params.numbers_list("regs", "0.1"), "'regs' must be a non-empty list"),
        (lambda: params.boolean("tune", 1), "'tune' must be True or False"),
        (lambda: params.grid("ials_grid", {"factors": []}), "'ials_grid' must be a dict of non-empty lists"),
        (lambda: params.grid("ials_grid", [1, 2]), "'ials_grid' must be a dict"),
        (lambda: params.grid("ials_grid", {}), "'ials_grid' must be a dict"),
        (lambda: params.strings("titles", []), "'titles' must be a non-empty list"),
        (lambda: params.strings("titles", ["ok", " "]), "'titles\\[1\\]' must be a non-empty string"),
        (lambda: params.choices("methods", ["a", "z"], ["a", "b"]), "'methods\\[1\\]' must be one of"),
    ],
)
def test_bad_values_name_the_parameter(call, message):
    with pytest.raises(ParameterError, match=message):
        call()
