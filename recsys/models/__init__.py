"""Recommender models behind one interface (see :mod:`recsys.models.base`)."""

from recsys.models.als import ALS
from recsys.models.base import EmbeddingModel, RatingModel, Recommender
from recsys.models.baselines import BiasModel, GlobalMean, ItemMean, Popularity, UserMean
from recsys.models.bpmf import BPMF
from recsys.models.implicit_models import BPR, ImplicitALS
from recsys.models.normalized import MeanNormalized
from recsys.models.sgd import SGD
from recsys.models.svd import PureSVD, SVDImpute, damped_baseline

__all__ = [
    "ALS",
    "BPMF",
    "BPR",
    "BiasModel",
    "EmbeddingModel",
    "GlobalMean",
    "ImplicitALS",
    "ItemMean",
    "MeanNormalized",
    "Popularity",
    "PureSVD",
    "RatingModel",
    "Recommender",
    "SGD",
    "SVDImpute",
    "UserMean",
    "damped_baseline",
]
