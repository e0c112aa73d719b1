"""Vector-based retrieval for recommender systems: the shared helper package behind the notebooks."""

__version__ = "0.1.0"
