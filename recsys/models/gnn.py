"""Graph neural network recommenders on the user-item bipartite graph.

What belongs here (notebook 07): LightGCN (He et al. 2020): symmetric-normalised propagation of
user and item embeddings over L layers, the layer-averaged embedding, and BPR training with
sampled negatives, written in numpy/scipy with a hand-derived gradient (the propagation is
linear, so the backward pass is the transposed propagation). It follows the model interface and
the factor contract of :mod:`recsys.models.base` (``learns_from = "positives"``), and imports
what every model module may import, never :mod:`recsys.evaluation`.
"""
