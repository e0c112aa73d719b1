"""Recommender models behind one interface (see :mod:`recsys.models.base`).

One module per family: :mod:`~recsys.models.baselines` (means, biases, popularity),
:mod:`~recsys.models.als`, :mod:`~recsys.models.sgd`, :mod:`~recsys.models.svd`,
:mod:`~recsys.models.bpmf` (matrix factorisation for ratings), :mod:`~recsys.models.content`
(content-based vectors from metadata, and a hybrid), :mod:`~recsys.models.normalized`
(mean normalisation as a wrapper), :mod:`~recsys.models.implicit_models` (implicit ALS and BPR
from the ``implicit`` library), :mod:`~recsys.models.autoencoders` (EASE, Mult-VAE), :mod:`~recsys.models.gnn`
(LightGCN), :mod:`~recsys.models.fm` (factorization machine), :mod:`~recsys.models.neighbours`
(item-kNN, user-kNN, P3alpha, RP3beta), :mod:`~recsys.models.slim` (SLIM), :mod:`~recsys.models.ials` (iALS in Rendle et al.'s form) and :mod:`~recsys.models.neural` (the tutorials' embedding
network; notebook 07). :mod:`~recsys.models.training` is the kit the
gradient-trained models share: optimisers, early stopping, minibatches, negative sampling, the
BPR epoch loop. A model module may import numpy/scipy/scikit-learn, :mod:`recsys.checks`,
:mod:`recsys.interactions`, :mod:`recsys.metrics` (for its own training loss),
:mod:`recsys.models.base` and :mod:`recsys.models.training`; never :mod:`recsys.evaluation`,
:mod:`recsys.experiments` or the notebook machinery (nor a sibling model module for its kit).
"""

from recsys.models.als import ALS
from recsys.models.autoencoders import EASE, MultVAE
from recsys.models.base import EmbeddingModel, FactorModel, RatingModel, Recommender
from recsys.models.baselines import BiasModel, GlobalMean, ItemMean, Popularity, UserMean
from recsys.models.bpmf import BPMF
from recsys.models.content import ContentModel, HybridModel
from recsys.models.fm import FactorizationMachine
from recsys.models.gnn import LightGCN
from recsys.models.ials import IALS
from recsys.models.implicit_models import BPR, ImplicitALS
from recsys.models.neighbours import ItemKNN, P3Alpha, RP3Beta, UserKNN
from recsys.models.neural import EmbeddingDotBias
from recsys.models.normalized import MeanNormalized
from recsys.models.sgd import SGD
from recsys.models.slim import SLIM
from recsys.models.svd import PureSVD, SVDImpute, damped_baseline

__all__ = [
    "ALS",
    "BPMF",
    "BPR",
    "BiasModel",
    "ContentModel",
    "EASE",
    "EmbeddingDotBias",
    "EmbeddingModel",
    "FactorModel",
    "FactorizationMachine",
    "GlobalMean",
    "HybridModel",
    "IALS",
    "ImplicitALS",
    "ItemKNN",
    "ItemMean",
    "LightGCN",
    "MeanNormalized",
    "MultVAE",
    "P3Alpha",
    "Popularity",
    "PureSVD",
    "RP3Beta",
    "RatingModel",
    "Recommender",
    "SGD",
    "SLIM",
    "SVDImpute",
    "UserKNN",
    "UserMean",
    "damped_baseline",
]
