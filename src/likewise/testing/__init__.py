"""Public testing helpers: the conformance suite and tiny fixtures with known answers."""

from likewise.testing.conformance import RecommenderConformance
from likewise.testing.fixtures import checkerboard, corner_cases, tiny_ratings, tutorial_ratings

__all__ = ["RecommenderConformance", "checkerboard", "corner_cases", "tiny_ratings", "tutorial_ratings"]
