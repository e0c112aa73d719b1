"""Autoencoder recommenders: a user's interaction row in, a score for every item out.

What belongs here (notebook 07): EASE (Steck 2019, the closed-form linear autoencoder with a
zero diagonal), Mult-VAE / Mult-DAE (Liang et al. 2018) and shallow AutoRec, each behind the
model interface of :mod:`recsys.models.base`: hyperparameters in ``__init__`` with the project's
vocabulary, ``fit(X, callback=None)`` on a users x items CSR of positives
(``learns_from = "positives"``), ``score(users)``, and the factor contract where the model has
vectors (the encoder's output as user vectors, the decoder's weights as item vectors).

Like every model module it imports numpy/scipy, :mod:`recsys.checks`, :mod:`recsys.interactions`
and :mod:`recsys.models.base`; a deep-learning framework only inside an optional code path,
never at import time, and never :mod:`recsys.evaluation` (validation goes through ``callback``).
"""
