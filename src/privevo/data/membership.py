"""Which private images fall in a split or subset: a keyed hash of each image's own bytes against a public fraction."""

from __future__ import annotations

import hashlib
import zlib

import numpy as np

# Why a hash and not positions: a split by position (the first N of a class) or by a seeded draw of row indices
# changes many rows when one image is added to or removed from the private set, so neighbouring data sets stop being
# neighbours after the split. Here an image's membership depends only on its own bytes, its shape, a public key and a
# public fraction: removing one image changes only that image's membership. The key is public (derived from the root
# seed), so no amplification by subsampling is claimed; the number of members is private (Binomial): never log it.

# Each role gets its own key, so the hold-out and the voting subset are independent hashes of the same images.
MEMBERSHIP_ROLES = {
    "validation": "data.validation_fraction",
    "private_subset": "data.private_fraction",
    "dpsgd_subset": "dpsgd.private_fraction",
}
HASH = "blake2b-64, keyed"
KEY_BYTES = 32
_UNIFORM_BITS = 53  # a float64 holds 53 bits exactly, so u = bits / 2**53 lies in [0, 1) and never rounds to 1


def membership_key(seed: int, role: str) -> bytes:
    """The public key of ``role`` (one of :data:`MEMBERSHIP_ROLES`) under the root ``seed``: 32 bytes of the
    SeedSequence stream named after the role (crc32 of the name, so it does not depend on Python's hash seed)."""
    if role not in MEMBERSHIP_ROLES:
        raise ValueError(f"unknown membership role {role!r}; known: {', '.join(MEMBERSHIP_ROLES)}")
    sequence = np.random.SeedSequence(entropy=int(seed), spawn_key=(zlib.crc32(f"membership:{role}".encode()),))
    return sequence.generate_state(KEY_BYTES // 4, dtype=np.uint32).astype("<u4").tobytes()


def membership_uniforms(images: np.ndarray, key: bytes) -> np.ndarray:
    """One u in [0, 1) per image: blake2b keyed with ``key`` over the image's uint8 bytes and its shape, the top 53
    bits of the digest over 2**53. Rows in any order, any number of them: u depends on the image alone."""
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise ValueError(f"membership is decided on uint8 images (their stored bytes), got dtype {images.dtype}")
    shape = ("|" + "x".join(str(int(d)) for d in images.shape[1:])).encode()
    uniforms = np.empty(images.shape[0], np.float64)
    for row, image in enumerate(images):
        digest = hashlib.blake2b(np.ascontiguousarray(image).tobytes(), key=key, digest_size=8)
        digest.update(shape)
        uniforms[row] = (int.from_bytes(digest.digest(), "big") >> (64 - _UNIFORM_BITS)) / 2.0 ** _UNIFORM_BITS
    return uniforms


def hash_members(images: np.ndarray, *, seed: int, role: str, fraction: float) -> np.ndarray:
    """A boolean mask: True for the images whose u (:func:`membership_uniforms` under ``role``'s key) is below
    ``fraction`` (public, in [0, 1]). Each image is a member with probability ``fraction``, independently."""
    if not 0.0 <= float(fraction) <= 1.0:
        raise ValueError(f"{MEMBERSHIP_ROLES.get(role, role)}: a fraction in [0, 1], got {fraction}")
    return membership_uniforms(images, membership_key(seed, role)) < float(fraction)


def hash_subset(images: np.ndarray, labels: np.ndarray, *, seed: int, role: str,
                fraction: float | None) -> tuple[np.ndarray, np.ndarray]:
    """The images (and their labels) that are members of ``role``'s subset, in their original order; all of them for
    ``fraction`` None. The size of the result is private: do not log it."""
    if fraction is None:
        return images, labels
    keep = hash_members(images, seed=seed, role=role, fraction=fraction)
    return images[keep], labels[keep]


def membership_record(seed: int, role: str, fraction: float | None) -> dict:
    """A JSON-ready record of one role's membership rule (its public key and fraction)."""
    return {
        "params_key": MEMBERSHIP_ROLES[role],
        "fraction": None if fraction is None else float(fraction),
        "key": membership_key(seed, role).hex(),
        "key_source": f"public: numpy SeedSequence(entropy=root seed {int(seed)}, spawn_key=crc32('membership:{role}'))"
                      f", first {KEY_BYTES} bytes",
        "rule": ("member when u < fraction, u = (top 53 bits of blake2b(key=key, digest_size=8) over the image's "
                 "uint8 bytes then '|HxWxC') / 2**53" + ("" if fraction is not None else "; fraction null: not "
                                                                                          "applied")),
    }


_WHAT = {"validation": "the validation hold-out", "private_subset": "the voting subset",
         "dpsgd_subset": "DP-SGD's training subset"}


def neighbouring_relation_record(seed: int, *, validation_fraction: float | None = None,
                                 private_fraction: float | None = None, dpsgd_seed: int | None = None,
                                 dpsgd_private_fraction: float | None = None) -> dict:
    """The neighbouring relation that holds after the split, as a JSON-ready record: ``seed`` is the data stage's
    (a run's model seed, which split ``private_train.npz``); ``dpsgd_seed`` (the DP-SGD step's seed) adds DP-SGD's
    own subset, ``dpsgd.private_fraction``. The record names the public keys and claims no amplification."""
    rules = {"validation": membership_record(seed, "validation", validation_fraction or None),
             "private_subset": membership_record(seed, "private_subset", private_fraction)}
    if dpsgd_seed is not None:
        rules["dpsgd_subset"] = membership_record(dpsgd_seed, "dpsgd_subset", dpsgd_private_fraction)
    applied = [_WHAT[role] for role, rule in rules.items() if rule["fraction"] is not None]
    if applied:
        meaning = (f"add/remove one private image. Membership of each image in {' and in '.join(applied)} is decided "
                   "by a keyed hash of its own bytes (the key is public and stored here), so neighbouring data sets "
                   "still differ in one image after the split. The sizes are private (Binomial) and not reported. No "
                   "amplification by subsampling is claimed, since the key is public.")
    else:
        meaning = "add/remove one private image. The whole private training set is used: no hold-out and no subset."
    return {"neighbouring": "add/remove one private image", "membership": rules, "meaning": meaning,
            "amplification_by_subsampling": False}


__all__ = ["MEMBERSHIP_ROLES", "membership_key", "membership_uniforms", "hash_members", "hash_subset",
           "membership_record", "neighbouring_relation_record"]
