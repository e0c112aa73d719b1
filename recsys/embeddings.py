"""Looking at learned vectors: projections, neighbours, and how to compare two embedding spaces.

What belongs here (notebook 04 and the chapters after it): functions that take factor matrices
(``model.item_factors_``, or ``model.inner_product_factors()``) and item metadata, and return
numbers or coordinates, e.g. 2-D projections (PCA, t-SNE), the nearest items of a title, genre
coherence of neighbourhoods against a popularity-matched baseline, the norm-popularity relation,
and rotation-invariant comparisons of two spaces (linear CKA, orthogonal Procrustes).

It may import :mod:`recsys.checks`, :mod:`recsys.similarity` and scikit-learn; it never imports
models, evaluation or the notebook machinery: vectors in, numbers out.
"""
