"""Where the noise of every DP mechanism comes from: exact discrete Gaussian noise on integer vote counts by default,
never from a public seed.

PE's histograms (``privacy.histogram_noise``):

- ``discrete_gaussian`` (the default): each private sample casts one integer vote for each of its m nearest
  candidates (L2 sensitivity sqrt(m) on the integer counts), and OpenDP's ``make_gaussian`` over an integer vector
  adds a discrete Gaussian of scale sigma * sqrt(m) per bin, sampled exactly (no floating point in the sampler) from
  OpenDP's cryptographically secure byte source. The release is the integer noisy counts and nothing finer, so the floating-point
  attacks on continuous samplers (Mironov 2012 on Laplace; Jin et al. 2022 on Gaussian samplers), which test which
  counts could have produced a full-precision output, have nothing to read. Fresh seeding does not stop those
  attacks: they need no sampler state. The guarantee (Canonne, Kamath and Steinke 2020) is accounted for this
  mechanism itself (:mod:`privevo.accountants.analysis.discrete`).
- ``continuous_gaussian``: float64 N(0, sigma^2) on the 1/sqrt(m)-weighted counts, from numpy's PCG64 seeded afresh
  from OS entropy (or, with ``privacy.secure_noise``, from os.urandom as the halved sum of 4 Gaussians, opacus'
  ``secure_mode`` after Holohan and Braghin 2021, which blurs the gaps the attacks read but is not exact). Every report
  says the release is continuous.

``secure_noise`` also picks DP-SGD's gradient noise (:func:`dp_noise_source`); opacus adds it to float gradients, so
DP-SGD's noise is always continuous (its weights, not its noise, are released).

``reproducible_noise`` exists only to debug PE: a histogram's noise is drawn from the public root seed, so the output
is NOT a DP release, and every report says so. It never applies to DP-SGD.
"""

from __future__ import annotations

import math
import os
from typing import Protocol

import numpy as np

from privevo.core import seeding
from privevo.core.discrete_gaussian import opendp_measurement
from privevo.core.registry import Registry

DISCRETE = "discrete_gaussian"
CONTINUOUS = "continuous_gaussian"
HISTOGRAM_NOISE = (DISCRETE, CONTINUOUS)
CONTINUOUS_WARNING = ("continuous floating-point Gaussian noise (privacy.histogram_noise: continuous_gaussian): "
                      "full-precision outputs of a floating-point sampler are open to floating-point attacks "
                      "(Mironov 2012; Jin et al. 2022); the default discrete_gaussian is exact")
NOT_DP_WARNING = "NOT a DP release: the noise is derivable from a public seed (privacy.reproducible_noise: true)"


class NoiseSource(Protocol):
    """Draws the noise of one release: one histogram's, or one DP-SGD step's for one parameter tensor.

    A continuous source (``discrete`` False) draws float64 N(0, sigma^2) values (:meth:`gaussian`); a discrete one
    adds integer noise to integer counts (:meth:`add_integer_noise`)."""

    name: str
    description: str
    is_dp: bool
    """False when the noise is derivable from a public seed (debug only)."""
    discrete: bool

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        """``size`` independent N(0, sigma^2) values as float64 (continuous sources)."""

    def add_integer_noise(self, counts: np.ndarray, *, scale: float) -> np.ndarray:
        """``counts`` (int64) plus an independent discrete Gaussian of ``scale`` per entry (discrete sources)."""


class EntropyNoise:
    """numpy's PCG64 seeded afresh from the OS entropy pool at every draw; the seed is never kept."""

    name = "os-entropy"
    is_dp = True
    discrete = False
    description = ("continuous: numpy PCG64 seeded by np.random.SeedSequence() from the operating system's entropy "
                   "pool, a fresh seed per draw (per histogram; per parameter tensor and step in DP-SGD), never stored")

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return np.random.default_rng(np.random.SeedSequence()).normal(0.0, sigma, size=size)


class SecureNoise:
    """Uniforms from os.urandom (a CSPRNG) through Box-Muller; each value the halved sum of 4 Gaussians."""

    name = "secure"
    is_dp = True
    discrete = False
    description = ("continuous: uniforms from os.urandom (CSPRNG), Box-Muller Gaussians; each noise value is the sum "
                   "of 4 N(0, sigma^2) draws divided by 2 (opacus secure_mode; Holohan and Braghin 2021)")
    _NUM_SUMMANDS = 4

    @staticmethod
    def _uniforms(count: int) -> np.ndarray:
        """``count`` uniforms in (0, 1) with 53 random bits each, from the OS CSPRNG."""
        words = np.frombuffer(os.urandom(8 * count), dtype=np.uint64)
        return ((words >> np.uint64(11)).astype(np.float64) + 0.5) / float(1 << 53)

    def _standard_normals(self, count: int) -> np.ndarray:
        pairs = (count + 1) // 2
        u1, u2 = self._uniforms(pairs), self._uniforms(pairs)
        radius = np.sqrt(-2.0 * np.log(u1))
        return np.concatenate([radius * np.cos(2 * math.pi * u2), radius * np.sin(2 * math.pi * u2)])[:count]

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        total = self._standard_normals(self._NUM_SUMMANDS * size).reshape(self._NUM_SUMMANDS, size).sum(axis=0)
        # The sum of 4 N(0, 1) has variance 4: halving it gives N(0, 1) again.
        return sigma * total / math.sqrt(self._NUM_SUMMANDS)


class DiscreteGaussianNoise:
    """Exact discrete Gaussian noise on integer counts: OpenDP's ``make_gaussian`` over an integer vector."""

    name = "discrete-gaussian-opendp"
    is_dp = True
    discrete = True
    description = ("exact discrete Gaussian (Canonne, Kamath and Steinke 2020) on the integer vote counts, sampled "
                   "by OpenDP's make_gaussian over vector_domain(atom_domain(T=int)) from OpenDP's cryptographically "
                   "secure byte source, with no floating point in the sampler; the release holds the integer noisy "
                   "counts")

    def add_integer_noise(self, counts: np.ndarray, *, scale: float) -> np.ndarray:
        counts = np.asarray(counts)
        if counts.dtype.kind not in "iu":
            raise TypeError(f"the discrete Gaussian adds noise to integer counts, got dtype {counts.dtype}")
        if not (math.isfinite(scale) and scale > 0):
            raise ValueError(f"discrete Gaussian scale must be positive, got {scale!r}")
        if counts.size == 0:
            return counts.astype(np.int64)
        if counts.max() >= _INT32_SAFE or counts.min() <= -_INT32_SAFE:
            raise OverflowError(f"vote counts up to {int(np.abs(counts).max())} exceed OpenDP's 32-bit integer range")
        noisy = opendp_measurement(scale)([int(value) for value in counts])
        return np.asarray(noisy, dtype=np.int64)


# OpenDP's integer atoms are 32-bit and its addition saturates: counts this far inside the range cannot reach it
# (the noise would have to exceed 2^30, which at any scale used here has probability far below 2^-1000).
_INT32_SAFE = 2 ** 30


class ReproducibleNoise:
    """DEBUG ONLY: the noise of (class, iteration) from the public root seed. Not a DP release."""

    name = "reproducible-from-public-seed"
    is_dp = False
    discrete = False
    description = "numpy PCG64 seeded from params seed per (noise, class, iteration): " + NOT_DP_WARNING

    def __init__(self, seed: int, *, class_index: int, iteration: int):
        self._rng = seeding.rng(seed, role="noise", class_index=class_index, iteration=iteration)

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return self._rng.normal(0.0, sigma, size=size)


class ZeroNoise:
    """Noise of exactly zero, continuous or discrete: runs a mechanism's code path to read its clean output (the
    privacy audit only; never a release)."""

    name = "zero"
    is_dp = False
    description = "no noise (audit only: measures the shift a canary causes)"

    def __init__(self, *, discrete: bool = False):
        self.discrete = bool(discrete)

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return np.zeros(size, dtype=np.float64)

    def add_integer_noise(self, counts: np.ndarray, *, scale: float) -> np.ndarray:
        return np.asarray(counts, dtype=np.int64).copy()


# Every noise source, by the name the reports give it, with its traits:
#   is_dp        whether a release drawn from it is DP (its seed is never stored and cannot be derived)
#   discrete     whether it adds integer noise to integer counts (exact) rather than float noise
#   selected_by  the privacy.* setting that picks it (None: the default)
#   needs_gpu    whether it cannot draw on a CPU
#   mechanisms   the DP mechanisms that may draw from it
NOISE_SOURCES = Registry("noise source", traits=("is_dp", "discrete", "selected_by", "needs_gpu", "mechanisms"),
                         entries={
    DiscreteGaussianNoise.name: ("privevo.pe.noise:DiscreteGaussianNoise",
                                 dict(is_dp=True, discrete=True, selected_by=None, needs_gpu=False,
                                      mechanisms=("pe_histogram",))),
    EntropyNoise.name: ("privevo.pe.noise:EntropyNoise",
                        dict(is_dp=True, discrete=False, selected_by="privacy.histogram_noise: continuous_gaussian",
                             needs_gpu=False, mechanisms=("pe_histogram", "dpsgd"))),
    SecureNoise.name: ("privevo.pe.noise:SecureNoise",
                       dict(is_dp=True, discrete=False, selected_by="privacy.secure_noise", needs_gpu=False,
                            mechanisms=("pe_histogram", "dpsgd"))),
    ReproducibleNoise.name: ("privevo.pe.noise:ReproducibleNoise",
                             dict(is_dp=False, discrete=False, selected_by="privacy.reproducible_noise",
                                  needs_gpu=False, mechanisms=("pe_histogram",))),
})


def histogram_noise(privacy: dict) -> str:
    """The histogram's noise distribution that ``privacy`` asks for: discrete_gaussian (default) or
    continuous_gaussian (also under the debug seeded noise, which is continuous)."""
    if privacy.get("reproducible_noise"):
        return CONTINUOUS
    kind = privacy.get("histogram_noise") or DISCRETE
    if kind not in HISTOGRAM_NOISE:
        raise ValueError(f"privacy.histogram_noise: unknown {kind!r}; choose from {', '.join(HISTOGRAM_NOISE)}")
    return kind


def noise_source_name(privacy: dict, *, mechanism: str = "pe_histogram") -> str:
    """The registered noise source ``privacy`` (params' privacy section) asks for, for ``mechanism``."""
    if privacy.get("reproducible_noise") and mechanism in NOISE_SOURCES.trait(ReproducibleNoise.name, "mechanisms"):
        return ReproducibleNoise.name
    if mechanism == "pe_histogram" and histogram_noise(privacy) == DISCRETE:
        return DiscreteGaussianNoise.name
    return SecureNoise.name if privacy.get("secure_noise") else EntropyNoise.name


def noise_source(privacy: dict, *, seed: int, class_index: int, iteration: int) -> NoiseSource:
    """The noise source that ``privacy`` asks for PE's histogram of (class, iteration)."""
    name = noise_source_name(privacy)
    source = NOISE_SOURCES.get(name)
    if NOISE_SOURCES.trait(name, "is_dp"):
        return source()
    return source(seed, class_index=class_index, iteration=iteration)


def dp_noise_source(privacy: dict) -> NoiseSource:
    """The DP noise source that ``privacy`` asks for DP-SGD's gradient noise: :class:`SecureNoise` under
    ``secure_noise``, else :class:`EntropyNoise`; continuous (opacus adds it to float gradients), never from a seed."""
    return NOISE_SOURCES.get(noise_source_name(privacy, mechanism="dpsgd"))()


def noise_record(privacy: dict) -> dict:
    """What the privacy report says about the histograms' noise: its source, distribution and whether it is DP."""
    source = noise_source(privacy, seed=0, class_index=0, iteration=0)
    kind = histogram_noise(privacy)
    record = {"source": source.name, "description": source.description, "distribution": kind,
              "exact": kind == DISCRETE, "seed_stored": False,
              "is_dp_release": not privacy.get("reproducible_noise", False)}
    if kind == CONTINUOUS:
        record["continuous_warning"] = CONTINUOUS_WARNING
    if privacy.get("reproducible_noise"):
        record.update(seed_stored=True, warning=NOT_DP_WARNING)
    return record
