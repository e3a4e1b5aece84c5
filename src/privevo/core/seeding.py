"""One root seed, split into independent streams per (class, iteration, role)."""

from __future__ import annotations

import zlib

import numpy as np

ROLES = ("random", "lookahead", "variation", "selection", "noise", "pretrain", "classifier", "split", "robustness",
         "release", "evaluation")


def role_key(role: str) -> int:
    """A stable integer for a role name (crc32, so it does not depend on Python's hash seed)."""
    if role not in ROLES:
        raise ValueError(f"unknown random stream role {role!r}; known roles: {', '.join(ROLES)}")
    return zlib.crc32(role.encode())


def seed_sequence(root_seed: int, *, role: str, class_index: int = 0, iteration: int = 0) -> np.random.SeedSequence:
    """The SeedSequence of one (role, class, iteration) stream under ``root_seed``."""
    return np.random.SeedSequence(entropy=int(root_seed), spawn_key=(role_key(role), int(class_index), int(iteration)))


def named_seed_sequence(root_seed: int, *, role: str, name: str) -> np.random.SeedSequence:
    """The SeedSequence of a stream named by a string under ``role`` (e.g. role "robustness", name
    "attack/pgd/8/255"): for streams that are not per (class, iteration). Its two-part spawn key never equals
    the three-part key of :func:`seed_sequence`."""
    return np.random.SeedSequence(entropy=int(root_seed), spawn_key=(role_key(role), zlib.crc32(name.encode())))


def rng(root_seed: int, *, role: str, class_index: int = 0, iteration: int = 0) -> np.random.Generator:
    """A numpy Generator for one (role, class, iteration) stream."""
    return np.random.default_rng(seed_sequence(root_seed, role=role, class_index=class_index, iteration=iteration))


def torch_seed(root_seed: int, *, role: str, class_index: int = 0, iteration: int = 0) -> int:
    """A 63-bit integer seed for a ``torch.Generator`` for one stream."""
    state = seed_sequence(root_seed, role=role, class_index=class_index, iteration=iteration).generate_state(2, np.uint64)
    return int(state[0] >> np.uint64(1))
