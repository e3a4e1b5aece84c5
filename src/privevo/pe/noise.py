"""Where the Gaussian noise of every DP mechanism comes from: the operating system's entropy, never a public seed.

One policy for PE's histograms and DP-SGD's gradient noise (:func:`noise_source`, :func:`dp_noise_source`):
OS entropy by default, ``privacy.secure_noise: true`` switches both to the secure draw below, and the
noise's seed is never stored nor derived from ``seed`` in params.yaml. (DP-SGD's trainer, in the models
layer, takes the source from its caller: see ``privevo.models.dpsgd.train_dpsgd(noise=...)``.)

A histogram's noise must not be derivable from anything written down. If it came from ``seed`` in
params.yaml, anyone holding a released histogram and the params could regenerate the noise, subtract it
and read the clean counts. So the default source seeds a fresh generator from the OS entropy pool
(``np.random.SeedSequence()`` with no argument) for every histogram and never stores that seed.

``secure`` goes further, for the floating-point attacks on noise samplers (Mironov 2012 on Laplace;
Jin et al. 2022 on Gaussian samplers): every uniform comes straight from ``os.urandom`` (a CSPRNG), and
each Gaussian value is the sum of 4 Gaussians of standard deviation sigma, halved, as opacus'
``secure_mode`` does after Holohan and Braghin (2021). The sum blurs the gaps between representable
floats that the attacks read.

``reproducible`` exists only to debug PE: a histogram's noise is drawn from the public root seed, so the output
is NOT a DP release, and every report says so. It never applies to DP-SGD, whose noise always follows
the two DP sources above.
"""

from __future__ import annotations

import math
import os
from typing import Protocol

import numpy as np

from privevo.core import seeding
from privevo.core.registry import Registry

NOT_DP_WARNING = "NOT a DP release: the noise is derivable from a public seed (privacy.reproducible_noise: true)"


class NoiseSource(Protocol):
    """Draws Gaussian noise: one histogram's, or one DP-SGD step's for one parameter tensor."""

    name: str
    description: str
    is_dp: bool
    """False when the noise is derivable from a public seed (debug only)."""

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        """``size`` independent N(0, sigma^2) values as float64."""


class EntropyNoise:
    """numpy's PCG64 seeded afresh from the OS entropy pool at every draw; the seed is never kept."""

    name = "os-entropy"
    is_dp = True
    description = ("numpy PCG64 seeded by np.random.SeedSequence() from the operating system's entropy pool, "
                   "a fresh seed per draw (per histogram; per parameter tensor and step in DP-SGD), never stored")

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return np.random.default_rng(np.random.SeedSequence()).normal(0.0, sigma, size=size)


class SecureNoise:
    """Uniforms from os.urandom (a CSPRNG) through Box-Muller; each value the halved sum of 4 Gaussians."""

    name = "secure"
    is_dp = True
    description = ("uniforms from os.urandom (CSPRNG), Box-Muller Gaussians; each noise value is the sum of 4 "
                   "N(0, sigma^2) draws divided by 2 (opacus secure_mode; Holohan and Braghin 2021)")
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


class ReproducibleNoise:
    """DEBUG ONLY: the noise of (class, iteration) from the public root seed. Not a DP release."""

    name = "reproducible-from-public-seed"
    is_dp = False
    description = "numpy PCG64 seeded from params seed per (noise, class, iteration): " + NOT_DP_WARNING

    def __init__(self, seed: int, *, class_index: int, iteration: int):
        self._rng = seeding.rng(seed, role="noise", class_index=class_index, iteration=iteration)

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        return self._rng.normal(0.0, sigma, size=size)


# Every noise source, by the name the reports give it, with its traits:
#   is_dp        whether a release drawn from it is DP (its seed is never stored and cannot be derived)
#   selected_by  the privacy.* switch that picks it (None: the default)
#   needs_gpu    whether it cannot draw on a CPU
#   mechanisms   the DP mechanisms that may draw from it
NOISE_SOURCES = Registry("noise source", traits=("is_dp", "selected_by", "needs_gpu", "mechanisms"), entries={
    EntropyNoise.name: ("privevo.pe.noise:EntropyNoise",
                        dict(is_dp=True, selected_by=None, needs_gpu=False, mechanisms=("pe_histogram", "dpsgd"))),
    SecureNoise.name: ("privevo.pe.noise:SecureNoise",
                       dict(is_dp=True, selected_by="privacy.secure_noise", needs_gpu=False,
                            mechanisms=("pe_histogram", "dpsgd"))),
    ReproducibleNoise.name: ("privevo.pe.noise:ReproducibleNoise",
                             dict(is_dp=False, selected_by="privacy.reproducible_noise", needs_gpu=False,
                                  mechanisms=("pe_histogram",))),
})


def noise_source_name(privacy: dict, *, mechanism: str = "pe_histogram") -> str:
    """The registered noise source ``privacy`` (params' privacy section) asks for, for ``mechanism``."""
    if privacy.get("reproducible_noise") and mechanism in NOISE_SOURCES.trait(ReproducibleNoise.name, "mechanisms"):
        return ReproducibleNoise.name
    return SecureNoise.name if privacy.get("secure_noise") else EntropyNoise.name


def noise_source(privacy: dict, *, seed: int, class_index: int, iteration: int) -> NoiseSource:
    """The noise source that ``privacy`` asks for PE's histogram of (class, iteration)."""
    name = noise_source_name(privacy)
    source = NOISE_SOURCES.get(name)
    if NOISE_SOURCES.trait(name, "is_dp"):
        return source()
    return source(seed, class_index=class_index, iteration=iteration)


def dp_noise_source(privacy: dict) -> NoiseSource:
    """The DP noise source that ``privacy`` asks for, for every mechanism (DP-SGD's gradient noise too):
    :class:`SecureNoise` under ``secure_noise``, else :class:`EntropyNoise`; never from a seed."""
    return NOISE_SOURCES.get(noise_source_name(privacy, mechanism="dpsgd"))()


def noise_record(privacy: dict) -> dict:
    """What the privacy report says about the noise: its source and whether the release is DP."""
    source = noise_source(privacy, seed=0, class_index=0, iteration=0)
    record = {"source": source.name, "description": source.description, "seed_stored": False,
              "is_dp_release": not privacy.get("reproducible_noise", False)}
    if privacy.get("reproducible_noise"):
        record.update(seed_stored=True, warning=NOT_DP_WARNING)
    return record
