"""The conformance battery every model passes (LensKit's habit: one battery, subclassed).

A test class subclasses :class:`ModelContract` and gives a ``prototype`` fixture: an unfitted
model, as the harness receives it. A model whose hyperparameters describe the items themselves
(item features) overrides :meth:`ModelContract.for_items` to give the prototype metadata for
``n_items`` items, since each split has its own catalogue. ``tests/test_factor_contract.py`` runs
the battery over every model the package exports; ``tests/test_toy_model.py`` over a model defined
in that one file. The battery checks that:

* ``fit`` has the one signature ``fit(X, validation=None, callback=None)``;
* ``fit`` calls the callback with the model itself, holding a state that scores, and records what
  the callback returns in ``history_``; a callback that is not callable is refused by name;
* ``validation`` of ``X``'s shape is accepted (rating models report ``val_rmse`` on it) and one of
  another shape is refused;
* the inner-product form ``U @ V.T`` reproduces ``score``, and its ranking-only form ranks alike;
* the experiment harness feeds the model what it declares it learns from.
"""

from __future__ import annotations

import inspect

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from planted_data import planted
from sklearn.base import clone

from recsys import experiments, splits


def harness_ratings() -> pd.DataFrame:
    """30 users x 10 items with ratings 1..5 (so ratings and 1s can be told apart), 6 per user."""
    return pd.DataFrame(
        {
            "user_id": np.repeat(np.arange(30), 6),
            "item_id": np.tile(np.arange(6), 30) + np.repeat(np.arange(30) % 5, 6),
            "rating": np.tile(np.array([1.0, 2.0, 3.0, 4.0, 5.0, 4.5], dtype=np.float32), 30),
            "timestamp": np.arange(180),
        }
    )


class ModelContract:
    """Subclass it with a ``prototype`` fixture returning the unfitted model under test."""

    def for_items(self, prototype, n_items: int):
        """``prototype`` ready to fit a matrix of ``n_items`` items: override it for a model whose
        hyperparameters hold per-item metadata (features for the items of a split's IdMap)."""
        return prototype

    def fresh(self, prototype, n_items: int):
        """An unfitted clone of ``prototype`` for ``n_items`` items (the prototype is untouched)."""
        return clone(self.for_items(prototype, n_items))

    @pytest.fixture(scope="class")
    @classmethod
    def contract_data(cls):
        """Planted ratings (train, test), 60 users x 40 items: what the battery fits on."""
        train, test, _ = planted(n_users=60, n_items=40, rank=3, density=0.4, seed=3)
        return train, test

    def test_fit_has_the_one_signature(self, prototype):
        """``fit(X, validation=None, callback=None)``, any extra argument keyword-only: the harness
        passes ``validation`` and ``callback`` to every model without looking at its signature."""
        cls = type(prototype)
        params = list(inspect.signature(cls.fit).parameters.values())
        names = [p.name for p in params[:4]]
        assert names == ["self", "X", "validation", "callback"], f"{cls.__name__}.fit{inspect.signature(cls.fit)}"
        positional = (inspect.Parameter.POSITIONAL_OR_KEYWORD,)
        for p in params[1:4]:
            assert p.kind in positional, f"{cls.__name__}.fit: {p.name} must be positional-or-keyword"
        assert params[2].default is None and params[3].default is None
        for p in params[4:]:
            assert p.kind in (inspect.Parameter.KEYWORD_ONLY, inspect.Parameter.VAR_KEYWORD), (
                f"{cls.__name__}.fit: extra argument {p.name} must be keyword-only"
            )

    def test_fit_calls_the_callback_with_the_model_and_records_what_it_returns(self, prototype, contract_data):
        """Every model calls ``callback(model, iteration)`` at least once (an iterative one after every
        iteration, a one-shot one after fitting), with itself holding a state that scores, and adds
        what the callback returns to ``history_``."""
        name = type(prototype).__name__
        n_items = contract_data[0].shape[1]
        model = self.fresh(prototype, n_items)
        X = experiments.model_input(model, contract_data[0])
        calls = []

        def callback(current, iteration):
            assert current.score(np.arange(3)).shape == (3, X.shape[1])
            calls.append((current, iteration))
            return {"probe": iteration}

        assert model.fit(X, validation=None, callback=callback) is model
        assert calls, f"{name}.fit never called its callback"
        assert all(current is model for current, _ in calls), f"{name} called back with another object"
        iterations = [iteration for _, iteration in calls]
        assert all(isinstance(i, int) and i >= 1 for i in iterations) and iterations == sorted(set(iterations))
        assert model.history_[-1]["probe"] == model.history_[-1]["iteration"] == iterations[-1]
        with pytest.raises(TypeError, match="callback must be callable"):
            self.fresh(prototype, n_items).fit(X, callback=3)

    def test_fit_accepts_validation_of_the_same_shape_only(self, prototype, contract_data):
        """Rating models report ``val_rmse`` on ``validation``; models of positives check it and ignore it."""
        n_items = contract_data[0].shape[1]
        model = self.fresh(prototype, n_items)
        X, V = (experiments.model_input(model, m) for m in contract_data)
        model.fit(X, validation=V)
        if model.learns_from == "ratings":
            assert np.isfinite(model.history_[-1]["val_rmse"])
        with pytest.raises(ValueError, match="validation has shape"):
            self.fresh(prototype, n_items).fit(X, V[:, :-1])

    def test_inner_product_form_reproduces_score(self, prototype, contract_data):
        model = self.fresh(prototype, contract_data[0].shape[1])
        model.fit(experiments.model_input(model, contract_data[0]))
        users = np.arange(model.n_users_)
        scores = np.asarray(model.score(users), dtype=np.float64)
        U, V = model.inner_product_factors()
        assert U.shape[0] == model.n_users_ and V.shape[0] == model.n_items_ and U.shape[1] == V.shape[1]
        tolerance = 1e-4 if U.dtype == np.float32 else 1e-10
        np.testing.assert_allclose(U @ V.T, scores, rtol=tolerance, atol=tolerance * np.abs(scores).max())
        # without the user-constant column every user's ranking is the same
        Ur, Vr = model.inner_product_factors(ranking_only=True)
        assert Ur.shape[1] <= U.shape[1]
        ranked = Ur @ Vr.T
        shift = scores - ranked
        np.testing.assert_allclose(shift, shift[:, :1].repeat(shift.shape[1], axis=1), atol=tolerance * 10)

    def test_the_harness_feeds_each_model_its_declared_input(self, prototype, monkeypatch):
        split = splits.stratified_holdout(harness_ratings(), 0.75, seed=0)
        seen = []
        # metadata (if any) for the items of this split's IdMap
        prototype = self.for_items(prototype, experiments.Matrices.from_split(split).idmap.n_items)
        real_fit = type(prototype).fit

        def spy(self, X, *args, **kwargs):
            seen.append(sp.csr_matrix(X).data.copy())
            return real_fit(self, X, *args, **kwargs)

        monkeypatch.setattr(type(prototype), "fit", spy)
        experiments.ranking_table({type(prototype).__name__: prototype}, split, k=3, progress=False)
        values = seen[0]
        if prototype.learns_from == "ratings":
            assert set(np.unique(values)) > {1.0}, "a rating model was fed 1s"
        else:
            assert set(np.unique(values)) == {1.0}, "a positives model was fed ratings"

    def test_a_positives_model_refuses_what_is_not_a_positive(self, prototype, contract_data):
        """A stored 0 or a negative "dislike" would be learned as a like: refused, with its place."""
        if prototype.learns_from != "positives":
            pytest.skip("a rating model learns from any rating value")
        n_items = contract_data[0].shape[1]
        X = experiments.model_input(prototype, contract_data[0]).astype(np.float64)
        for bad in (-1.0, 0.0):
            Y = X.copy()
            Y.data[5] = bad
            with pytest.raises(ValueError, match=r"1 stored value\(s\) <= 0 .*at user index \d+, item index \d+"):
                self.fresh(prototype, n_items).fit(Y)

    def test_a_positives_model_reads_values_as_it_declares(self, prototype, contract_data):
        """``positive_values = "presence"``: the values do not change the fit (only where entries
        are); ``"strength"``: they do (they weigh the entries)."""
        if prototype.learns_from != "positives":
            pytest.skip("a rating model learns from any rating value")
        n_items = contract_data[0].shape[1]
        X = experiments.model_input(prototype, contract_data[0]).astype(np.float64)
        weighted = X.copy()
        weighted.data = np.random.default_rng(0).uniform(0.5, 5.0, X.nnz)
        users = np.arange(X.shape[0])
        plain = np.asarray(self.fresh(prototype, n_items).fit(X).score(users), dtype=np.float64)
        again = np.asarray(self.fresh(prototype, n_items).fit(X).score(users), dtype=np.float64)
        np.testing.assert_allclose(plain, again, rtol=1e-5, atol=1e-6, err_msg="the fit is not reproducible")
        strong = np.asarray(self.fresh(prototype, n_items).fit(weighted).score(users), dtype=np.float64)
        same = np.allclose(plain, strong, rtol=1e-5, atol=1e-6)
        assert same == (prototype.positive_values == "presence"), (
            f"{type(prototype).__name__} declares positive_values={prototype.positive_values!r} "
            f"but its scores {'do not change' if same else 'change'} when the values do"
        )
