"""Content-based recommendation from item metadata, and a content + collaborative hybrid.

* :func:`genre_features` and :func:`tag_features` turn metadata into an items x features matrix
  aligned with a model's item indices (row ``j`` describes the item of raw id ``item_ids[j]``):
  genres one-hot, user tags as counts (how many times each tag was put on the film).
* :class:`ContentModel` weights those features by TF-IDF (a genre or tag that most films carry
  says little), optionally reduces them by truncated SVD (latent semantic analysis), and makes
  every item a unit vector. A user's vector is the weighted mean of the vectors of the items they
  liked, so ``score = <user, item>`` is proportional to the mean cosine between the item and the
  user's items. It needs no interaction to place an item: an item nobody has seen yet (a cold
  item) is ranked from its metadata alone, where every collaborative model is blind.
* :class:`HybridModel` adds a collaborative model's and a content model's scores after
  standardising each per user over all items (``z = (s - mean_u) / std_u``), weighted
  ``weight * z_collaborative + (1 - weight) * z_content``. Standardising is affine in the inner
  product, so the hybrid is again a factor model (the two parts' vectors side by side) that any
  index can serve.

Both follow :mod:`recsys.models.base` (``learns_from = "positives"``, the factor contract), so
:func:`recsys.evaluation.evaluate_ranking` scores them like any other model. The features are a
hyperparameter: they must be built for the item indices of the matrix ``fit`` sees (the same
:class:`~recsys.interactions.IdMap`); a matrix with another number of items is refused.
"""

from __future__ import annotations

import copy
import re
import time

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import clone
from sklearn.decomposition import TruncatedSVD
from sklearn.feature_extraction.text import TfidfTransformer
from sklearn.preprocessing import normalize as l2_normalize

from recsys.checks import check_choice, check_integer, check_number, check_seed
from recsys.models.base import FactorModel, FitCallback, check_finite_fit, check_fit_inputs, finish_one_shot

__all__ = ["ContentModel", "HybridModel", "genre_features", "normalize_tag", "tag_features"]

_WEIGHTINGS = ("tfidf", "none")
_SPACES = re.compile(r"\s+")


# --------------------------------------------------------------------------------------------
# features


def _item_ids(item_ids) -> np.ndarray:
    ids = np.asarray(item_ids)
    if ids.ndim != 1 or (ids.size and not np.issubdtype(ids.dtype, np.integer)):
        raise TypeError(f"item_ids must be a 1-D array of integer raw item ids, got {item_ids!r}")
    if np.unique(ids).size != ids.size:
        raise ValueError("item_ids holds repeated ids")
    return ids.astype(np.int64)


def genre_features(items: pd.DataFrame, item_ids) -> tuple[sp.csr_matrix, list[str]]:
    """One-hot genres: (len(item_ids), n_genres) CSR of 0/1, and the genre names (sorted).

    ``items`` is a dataset's item table (indexed by raw ``item_id``, with a ``genres`` column of
    lists, as :class:`recsys.datasets.Dataset` has it). An id missing from ``items``, or a film
    without genres, gets an empty row: it has no content to be ranked by.
    """
    if not isinstance(items, pd.DataFrame) or "genres" not in items.columns:
        raise TypeError("items must be a DataFrame indexed by item_id with a 'genres' column (Dataset.items)")
    ids = _item_ids(item_ids)
    lists = items["genres"].reindex(ids)
    names = sorted({g for genres in items["genres"] for g in (genres if isinstance(genres, list) else [])})
    column = {g: j for j, g in enumerate(names)}
    rows, cols = [], []
    for row, genres in enumerate(lists):
        if isinstance(genres, list):
            for g in set(genres):
                rows.append(row)
                cols.append(column[g])
    data = np.ones(len(rows), dtype=np.float64)
    matrix = sp.csr_matrix((data, (rows, cols)), shape=(ids.size, len(names)))
    matrix.sort_indices()
    return matrix, names


def normalize_tag(tag: str) -> str:
    """A tag's canonical spelling: lower case, inner white space collapsed to one space."""
    return _SPACES.sub(" ", str(tag).strip().lower())


def tag_features(tags: pd.DataFrame, item_ids, *, min_items: int = 2) -> tuple[sp.csr_matrix, list[str]]:
    """Tag counts: (len(item_ids), n_tags) CSR, entry = how many times the tag was put on the film.

    ``tags`` has ``item_id`` and ``tag`` columns (:func:`recsys.datasets.tags.read_tags`). Tags
    are compared after :func:`normalize_tag`; the vocabulary keeps the tags put on at least
    ``min_items`` distinct films (a tag on one film cannot make two films alike). Films without
    (kept) tags get an empty row. Returns the matrix and the vocabulary (sorted).
    """
    if not isinstance(tags, pd.DataFrame) or not {"item_id", "tag"} <= set(tags.columns):
        raise TypeError("tags must be a DataFrame with 'item_id' and 'tag' columns (recsys.datasets.tags)")
    min_items = check_integer("min_items", min_items, 1)
    ids = _item_ids(item_ids)
    frame = pd.DataFrame({"item_id": tags["item_id"].to_numpy(dtype=np.int64), "tag": tags["tag"].map(normalize_tag)})
    frame = frame[frame["tag"] != ""]
    spread = frame.groupby("tag")["item_id"].nunique()
    vocabulary = sorted(spread.index[spread >= min_items])
    frame = frame[frame["tag"].isin(vocabulary)]
    rows = pd.Index(ids).get_indexer(frame["item_id"].to_numpy())
    cols = pd.Index(vocabulary).get_indexer(frame["tag"].to_numpy())
    keep = rows >= 0
    data = np.ones(int(keep.sum()), dtype=np.float64)
    matrix = sp.csr_matrix((data, (rows[keep], cols[keep])), shape=(ids.size, len(vocabulary)))  # sums repeats
    matrix.sort_indices()
    return matrix, vocabulary


def _blocks(item_features) -> list[sp.csr_matrix]:
    """``item_features`` (one matrix, or a list/tuple of matrices side by side) as CSR blocks."""
    parts = list(item_features) if isinstance(item_features, (list, tuple)) else [item_features]
    if not parts:
        raise ValueError("item_features is an empty list; give at least one items x features matrix")
    blocks = []
    for j, part in enumerate(parts):
        name = "item_features" if len(parts) == 1 else f"item_features[{j}]"
        if part is None:
            raise TypeError(f"{name} is None; give an items x features matrix (see genre_features, tag_features)")
        try:
            block = sp.csr_matrix(part, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise TypeError(f"{name} must be a 2-D numeric matrix (dense or scipy.sparse), got {part!r}") from error
        if block.shape[1] == 0:
            raise ValueError(f"{name} has no feature columns")
        if not np.isfinite(block.data).all():
            raise ValueError(f"{name} holds NaN or infinite values")
        blocks.append(block)
    if len({b.shape[0] for b in blocks}) != 1:
        raise ValueError(f"item_features blocks differ in their number of items: {[b.shape[0] for b in blocks]}")
    return blocks


# --------------------------------------------------------------------------------------------
# the content model


class ContentModel(FactorModel):
    """Items as unit vectors of their (TF-IDF weighted) metadata; users as the mean of their items.

    Args:
        item_features: an (n_items, n_features) matrix, dense or sparse, row ``j`` = item index
            ``j`` of the matrix ``fit`` gets (build it with :func:`genre_features` /
            :func:`tag_features` from the same IdMap); or a list of such matrices (genres and tags,
            say), each weighted and normalised on its own and then put side by side with equal
            weight.
        weighting: ``"tfidf"`` (each block's counts weighted by scikit-learn's smoothed TF-IDF,
            ``idf = ln((1 + n) / (1 + df)) + 1``, over the items given) or ``"none"``. TF-IDF
            needs non-negative counts.
        factors: ``None`` (keep every feature) or the dimension of a truncated SVD of the
            weighted features (latent semantic analysis: tags that occur together merge).
        random_state: seed of the randomised SVD.

    ``fit(X)`` takes the users x items matrix of positives; a user's vector is the mean of the
    item vectors of their stored entries, weighted by the stored values (all 1 for positives).
    Fitted: ``item_factors_`` (n_items, d) unit rows (zero for an item without features),
    ``user_factors_`` (zero for a user without items), ``n_users_``, ``n_items_``, ``n_features_``
    and, when ``fit`` was given a callback, a one-record ``history_``.
    """

    learns_from = "positives"
    positive_values = "strength"

    def __init__(self, item_features, weighting: str = "tfidf", factors: int | None = None, random_state=0) -> None:
        self.item_features = item_features
        self.weighting = weighting
        self.factors = factors
        self.random_state = random_state

    def item_vectors(self) -> np.ndarray:
        """The unit item vectors the model uses, from ``item_features`` alone (no interactions)."""
        return self._item_vectors()[0]

    def _item_vectors(self) -> tuple[np.ndarray, int]:
        check_choice("weighting", self.weighting, _WEIGHTINGS)
        check_seed("random_state", self.random_state)
        blocks = _blocks(self.item_features)
        weighted = []
        for j, block in enumerate(blocks):
            if self.weighting == "tfidf":
                if (block.data < 0).any():
                    raise ValueError(f"item_features block {j} holds negative values; TF-IDF needs counts >= 0")
                block = TfidfTransformer(norm="l2", smooth_idf=True).fit_transform(block)
            weighted.append(l2_normalize(block, norm="l2", axis=1))
        features = sp.hstack(weighted, format="csr") if len(weighted) > 1 else weighted[0]
        if self.factors is None:  # each block a unit vector (or zero): scores add the blocks' cosines
            return features.toarray(), int(features.shape[1])
        factors = check_integer("factors", self.factors, 1, max(1, min(features.shape) - 1))
        svd = TruncatedSVD(n_components=factors, algorithm="randomized", n_iter=7, random_state=self.random_state)
        vectors = svd.fit_transform(features)
        return l2_normalize(np.asarray(vectors, dtype=np.float64), norm="l2", axis=1), int(features.shape[1])

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> ContentModel:
        """Item vectors from the features, user vectors as the mean of their items'.

        One-shot: ``validation`` is checked (``X``'s shape) and otherwise ignored, as by every
        model that learns from positives; ``callback(self, 1)`` runs once after fitting.
        """
        start = time.perf_counter()
        X, _ = check_fit_inputs(X, validation, positives=True)
        V, n_features = self._item_vectors()
        if V.shape[0] != X.shape[1]:
            raise ValueError(
                f"item_features describe {V.shape[0]} items but X has {X.shape[1]} item columns; "
                "build the features for the IdMap of X (genre_features(items, idmap.item_ids))"
            )
        weights = np.asarray(X.sum(axis=1)).ravel()
        profiles = np.asarray(X @ V)
        self.user_factors_ = np.divide(
            profiles, weights[:, None], out=np.zeros_like(profiles), where=weights[:, None] > 0
        )
        self.item_factors_ = V
        self.n_users_, self.n_items_ = X.shape
        self.n_features_ = n_features
        finish_one_shot(self, callback, {"iteration": 1, "seconds": time.perf_counter() - start})
        check_finite_fit(self)
        return self


# --------------------------------------------------------------------------------------------
# the hybrid


def _standardisers(U: np.ndarray, V: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per user, ``(1 / std_u, mean_u)`` of the scores ``U[u] @ V.T`` over all items, in closed form.

    ``mean_u = U[u] . mean(V)`` and ``std_u^2 = U[u]^T Cov(V) U[u]`` (population covariance of
    the item vectors). A user whose scores are all equal gets scale 0: that part then says nothing
    about their ranking instead of dividing by zero.
    """
    centre = V.mean(axis=0)
    Vc = V - centre
    covariance = Vc.T @ Vc / V.shape[0]
    variance = np.maximum(((U @ covariance) * U).sum(axis=1), 0.0)
    std = np.sqrt(variance)
    scale = np.divide(1.0, std, out=np.zeros_like(std), where=std > 1e-12 * (1.0 + np.abs(U @ centre)))
    return scale, U @ centre


class HybridModel(FactorModel):
    """``weight * z(collaborative) + (1 - weight) * z(content)``: per-user standardised scores, added.

    Args:
        collaborative: an unfitted factor model that learns from positives (implicit ALS, say).
        content: an unfitted :class:`ContentModel` (any factor model works).
        weight: the collaborative part's share in [0, 1]; 1 ranks like the collaborative model,
            0 like the content model. Choose it on validation data
            (:func:`recsys.experiments.cold_start.tune_hybrid`), never on the test set.

    Each part's score of user ``u`` is standardised over all items, ``z = (s - mean_u) / std_u``,
    so the two scales become comparable whatever the models' units. That is affine in each part's
    inner product, so the hybrid keeps the factor contract: ``user_factors_`` puts the two parts'
    user vectors, scaled by ``weight / std_u`` and ``(1 - weight) / std_u``, side by side,
    ``item_factors_`` the two item vectors, and ``user_bias_`` the (rank-irrelevant) shifts.
    On an item no one has interacted with, the collaborative z-score carries no information, and
    the content part alone decides how such items rank among themselves.

    Fitted: ``collaborative_`` and ``content_`` (the fitted parts), the factors and
    ``user_bias_``, ``n_users_``, ``n_items_`` and, when ``fit`` was given a callback, a
    one-record ``history_``. :meth:`reweighted` changes the weight without refitting the parts.
    """

    learns_from = "positives"
    positive_values = "strength"

    def __init__(self, collaborative, content, weight: float = 0.5) -> None:
        self.collaborative = collaborative
        self.content = content
        self.weight = weight

    def fit(self, X, validation=None, callback: FitCallback | None = None) -> HybridModel:
        """Fit both parts on the same positives ``X`` and combine them.

        One-shot for the callback, whatever the parts: they are fitted without one, and
        ``callback(self, 1)`` runs once on the combined model. ``validation`` is checked (``X``'s
        shape) and otherwise ignored, as by every model that learns from positives.
        """
        start = time.perf_counter()
        check_number("weight", self.weight, 0, 1)
        X, _ = check_fit_inputs(X, validation, positives=True)
        for name in ("collaborative", "content"):
            part = getattr(self, name)
            if not (callable(getattr(part, "fit", None)) and callable(getattr(part, "inner_product_factors", None))):
                raise TypeError(f"{name} must be a factor model (fit and inner_product_factors), got {part!r}")
        self.collaborative_ = clone(self.collaborative).fit(X)
        self.content_ = clone(self.content).fit(X)
        for name, part in (("collaborative", self.collaborative_), ("content", self.content_)):
            if (part.n_users_, part.n_items_) != X.shape:
                raise ValueError(f"the {name} part was fitted on {(part.n_users_, part.n_items_)}, X is {X.shape}")
        self.n_users_, self.n_items_ = X.shape
        self._parts = None
        self._combine()
        finish_one_shot(self, callback, {"iteration": 1, "seconds": time.perf_counter() - start})
        check_finite_fit(self)
        return self

    def _standardised_parts(self) -> list[tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]]:
        """(U, V, 1 / std_u, mean_u) of each fitted part; they do not depend on the weight, so kept."""
        if getattr(self, "_parts", None) is None:
            parts = []
            for part in (self.collaborative_, self.content_):
                U, V = (np.asarray(a, dtype=np.float64) for a in part.inner_product_factors(ranking_only=True))
                parts.append((U, V, *_standardisers(U, V)))
            self._parts = parts
        return self._parts

    def _combine(self) -> None:
        w = float(check_number("weight", self.weight, 0, 1))
        users, items, shift = [], [], 0.0
        for share, (U, V, scale, mean) in zip((w, 1.0 - w), self._standardised_parts()):
            users.append(U * (share * scale)[:, None])
            items.append(V)
            shift = shift - share * scale * mean
        self.user_factors_ = np.hstack(users)
        self.item_factors_ = np.hstack(items)
        self.user_bias_ = np.asarray(shift, dtype=np.float64)

    def reweighted(self, weight: float) -> HybridModel:
        """A copy with another ``weight``, sharing this model's fitted parts (no refit)."""
        self._check_fitted()
        other = copy.copy(self)
        other.weight = check_number("weight", weight, 0, 1)
        other._combine()
        return other
