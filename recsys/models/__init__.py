"""Recommender models behind one interface (see :mod:`recsys.models.base`)."""

from recsys.models.base import EmbeddingModel, RatingModel, Recommender
from recsys.models.baselines import BiasModel, GlobalMean, ItemMean, UserMean

__all__ = [
    "BiasModel",
    "EmbeddingModel",
    "GlobalMean",
    "ItemMean",
    "RatingModel",
    "Recommender",
    "UserMean",
]
