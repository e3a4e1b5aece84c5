"""Evaluation of releases and of the mechanism: Frechet distances, inspection and the privacy audit."""
