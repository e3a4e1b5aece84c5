"""Assembling and writing the data stage's sets: the public mix, the private split by keyed hash, and the manifest."""

from __future__ import annotations

import hashlib
import logging
import os
import time
import zlib
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from privevo.data.checks import DataSourceError, check_image_set
from privevo.data.membership import hash_members, hash_subset, neighbouring_relation_record
from privevo.data.private import load_private_set
from privevo.data.public import PUBLIC_SOURCES
from privevo.data.public.animals import DEFAULT_AUGMENTED_COUNT
from privevo.data.public.natural import DEFAULT_CROPS_COUNT
from privevo.data.public.procedural import DEFAULT_SHAPES_COUNT
from privevo.io.artifacts import load_json, load_npz, save_images, save_json
from privevo.io.resize import RESIZE_METHODS, to_image_shape

logger = logging.getLogger(__name__)

PRIVATE_LABEL = ("PRIVATE: computed from the private data without noise (class counts, digests); not part of "
                 "the DP release, never to be published or copied into a run folder")
MIN_PUBLIC_IMAGES = 10_000


# --------------------------------------------------------------------------------------------
# Content identity
# --------------------------------------------------------------------------------------------


def images_digest(images: np.ndarray) -> str:
    """sha256 of an image array's shape, dtype and bytes (a content identity for the manifest)."""
    digest = hashlib.sha256(f"{images.dtype}{images.shape}".encode())
    digest.update(np.ascontiguousarray(images).tobytes())
    return digest.hexdigest()


def count_exact_overlap(images: np.ndarray, reference: np.ndarray) -> int:
    """How many of ``images`` are byte-for-byte equal to some image of ``reference``."""
    ref = {hashlib.blake2b(img.tobytes(), digest_size=16).digest() for img in reference}
    return sum(hashlib.blake2b(img.tobytes(), digest_size=16).digest() in ref for img in images)


# --------------------------------------------------------------------------------------------
# The public set
# --------------------------------------------------------------------------------------------


def _named_rng(entropy: int, name: str) -> np.random.Generator:
    """The stream called ``name`` under ``entropy`` (crc32 of the name, so it does not depend on Python's hash seed)."""
    return np.random.default_rng(np.random.SeedSequence(entropy=int(entropy), spawn_key=(zlib.crc32(name.encode()),)))


def build_public_set(
    *,
    sources: Sequence[str] | None = None,
    rng: np.random.Generator,
    augmented_count: int = DEFAULT_AUGMENTED_COUNT,
    shapes_count: int = DEFAULT_SHAPES_COUNT,
    crops_count: int = DEFAULT_CROPS_COUNT,
    min_images: int = MIN_PUBLIC_IMAGES,
    return_source_labels: bool = False,
):
    """Assemble the public set from ``sources`` (names in :data:`PUBLIC_SOURCES`).

    ``sources=None`` takes every available source (a missing one is skipped with a warning, the
    optional scikit-image crops quietly). A source named explicitly must load, or
    :class:`DataSourceError` says how to install it. Returns ``(images, source_ids, source_names)``:
    uint8 ``(N, 28, 28, 1)`` images, int64 ids indexing ``source_names``; with
    ``return_source_labels`` also the per-source labels (animal class, digit, shape kind; -1 where a
    source has none).
    """
    counts = {"augmented_count": augmented_count, "shapes_count": shapes_count, "crops_count": crops_count}
    if sources is None:
        names = []
        for name, source in PUBLIC_SOURCES.items():
            if source.available():
                names.append(name)
            elif source.optional:
                logger.info("public source %s skipped: not available", name)
            else:
                logger.warning("public source %s skipped: not available (install: %s)", name, source.install_hint)
    else:
        names = list(dict.fromkeys(sources))
        unknown = [name for name in names if name not in PUBLIC_SOURCES]
        if unknown:
            raise DataSourceError(
                f"unknown public source(s) {', '.join(unknown)}; known: {', '.join(PUBLIC_SOURCES)}"
            )
    # a procedural source asked for 0 images is left out
    names = [n for n in names if PUBLIC_SOURCES[n].count_param is None or counts[PUBLIC_SOURCES[n].count_param] > 0]
    if not names:
        raise DataSourceError("no public source selected")

    base = int(rng.integers(0, 2**63))
    all_images, all_ids, all_labels = [], [], []
    for index, name in enumerate(names):
        source = PUBLIC_SOURCES[name]
        start = time.perf_counter()
        if source.count_param is None:
            images, labels = source.load()
        else:
            # one stream per source name, so a source's images do not depend on which others are included
            images, labels = source.load(_named_rng(base, name), counts[source.count_param])
        check_image_set(images, labels, name=f"public source {name}")
        logger.info("public source %s: %d images in %.2f s", name, images.shape[0], time.perf_counter() - start)
        all_images.append(images)
        all_ids.append(np.full(images.shape[0], index, dtype=np.int64))
        all_labels.append(labels.astype(np.int64) if labels is not None else np.full(images.shape[0], -1, np.int64))
    images = np.concatenate(all_images)
    source_ids = np.concatenate(all_ids)
    if images.shape[0] < min_images:
        raise DataSourceError(
            f"the public set has {images.shape[0]} images from {', '.join(names)}; at least {min_images} "
            f"are needed. Add sources (install hints: "
            + "; ".join(f"{n}: {s.install_hint}" for n, s in PUBLIC_SOURCES.items() if n not in names)
            + ") or raise augmented_count / shapes_count."
        )
    check_image_set(images, source_ids, name="public set", num_classes=len(names))
    if return_source_labels:
        return images, source_ids, list(names), np.concatenate(all_labels)
    return images, source_ids, list(names)


def load_public_set(path: str | os.PathLike) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read ``public.npz`` written by :func:`prepare_data`: ``(images, source_ids, source_names)``."""
    arrays = load_npz(path)
    images, source_ids = arrays["images"], arrays["labels"]
    names = [str(n) for n in arrays["source_names"]]
    check_image_set(images, source_ids, name=str(path), num_classes=len(names))
    return images, source_ids, names


# --------------------------------------------------------------------------------------------
# The data stage
# --------------------------------------------------------------------------------------------


def _per_class(labels: np.ndarray, names: Iterable[str]) -> dict[str, int]:
    names = list(names)
    counts = np.bincount(labels, minlength=len(names))
    return {name: int(c) for name, c in zip(names, counts)}


def stratified_head(images: np.ndarray, labels: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``count // num_classes`` images of every class, in their original order (for small test runs).

    By position, so only for sets whose size is public (test splits, the non-DP real-data reference): a DP subset
    of private training data is :func:`privevo.data.membership.hash_subset`."""
    classes = np.unique(labels)
    per_class = max(1, count // len(classes))
    keep = np.sort(np.concatenate([np.flatnonzero(labels == c)[:per_class] for c in classes]))
    return images[keep], labels[keep]


def split_private_training(images: np.ndarray, labels: np.ndarray, *, seed: int,
                           validation_fraction: float | None = None,
                           private_fraction: float | None = None) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """The private training split, each image placed by keyed hashes of its own bytes (:mod:`privevo.data.membership`):
    ``validation`` (held out: u_validation < ``validation_fraction``; none for None or 0), ``training`` (the rest)
    and ``subset`` (the images of ``training`` with u_private_subset < ``private_fraction``, all for None: what
    ``private_train.npz`` holds and every training step reads). Rows keep their order. Removing one image from
    ``images`` removes it from the one split it was in and changes nothing else. The sizes are private: do not log
    them."""
    held_out = np.zeros(len(labels), bool)
    if validation_fraction:
        held_out = hash_members(images, seed=seed, role="validation", fraction=validation_fraction)
    training = (images[~held_out], labels[~held_out])
    return {"validation": (images[held_out], labels[held_out]), "training": training,
            "subset": hash_subset(*training, seed=seed, role="private_subset", fraction=private_fraction)}


def read_neighbouring_relation(manifest_path: str | os.PathLike) -> dict:
    """The public ``membership`` record (:func:`~privevo.data.membership.neighbouring_relation_record`) that
    :func:`prepare_data` wrote into ``data_manifest.json``: the keys the data was actually split with (the data stage's
    seed, which a run of another seed does not see in its params). Only this public field is read out."""
    manifest = load_json(manifest_path)
    if "membership" not in manifest:
        raise DataSourceError(f"{manifest_path} has no membership record (written by an older privevo); prepare "
                              "the data again (privevo prepare-data)")
    return manifest["membership"]


def public_data_rng(seed: int) -> np.random.Generator:
    """The generator :func:`prepare_data` draws the public set from, for a root ``seed``."""
    return _named_rng(seed, "public_data")



def _private_entry(file: str, images: np.ndarray, labels: np.ndarray, class_names) -> dict:
    """The manifest's PRIVATE record of one private set: count, per-class counts, digest."""
    return {
        "privacy_label": PRIVATE_LABEL,
        "file": file,
        "count": int(images.shape[0]),
        "per_class": _per_class(labels, class_names),
        "sha256": images_digest(images),
    }


def prepare_data(
    *,
    out_dir: str | os.PathLike,
    private_set: str = "fashion_mnist",
    private_dir: str | os.PathLike | None = None,
    fashion_mnist_dir: str | os.PathLike | None = None,
    public_sources: Sequence[str] | None = None,
    seed: int,
    augmented_count: int = DEFAULT_AUGMENTED_COUNT,
    shapes_count: int = DEFAULT_SHAPES_COUNT,
    crops_count: int = DEFAULT_CROPS_COUNT,
    private_fraction: float | None = None,
    validation_fraction: float | None = None,
    labelled: bool = True,
) -> dict:
    """Write ``private_train.npz``, ``private_validation.npz``, ``private_test.npz``, ``public.npz`` and
    ``data_manifest.json``.

    Each training image whose keyed hash falls below ``validation_fraction`` moves to ``private_validation.npz``
    (empty for None or 0); of the rest, ``private_fraction`` (None: all) are kept, by an independent keyed hash
    (:mod:`privevo.data.membership`). Membership depends on each image's own bytes, never on positions, so a private
    set with one image more or less gives splits that differ in that image alone. The keys (public, from ``seed``)
    are stored in the manifest's ``membership``; the sizes the split gives are private and are never logged.

    The private set is ``private_set`` (see :mod:`privevo.data.private`). The public sources are 28x28 grey; for a
    private set of another shape they are resized (PIL bicubic) and grey repeated to RGB, so every set of the run
    has one image shape. The public set is checked to share no image byte-for-byte with the private set. Returns the
    manifest (counts per set, per class and per public source; source locations; content digests;
    no timings, so the same inputs and seed give the same manifest).

    ``labelled`` false (an unlabelled image folder, the paper's Algorithm 4): the private set is one population
    (label 0 throughout) with no test split, so ``private_test.npz`` is not written and the manifest says why.
    """
    out_dir = Path(out_dir)
    start = time.perf_counter()
    private = load_private_set(private_set, private_dir=private_dir, fashion_mnist_dir=fashion_mnist_dir,
                               labelled=labelled)
    splits = ("train", "validation", "test") if "test" in private else ("train", "validation")
    class_names, source_dir = private.pop("class_names"), private.pop("source_dir")
    image_shape = tuple(int(d) for d in private["train"][0].shape[1:])
    train_images = private["train"][0]
    split = split_private_training(*private["train"], seed=seed, validation_fraction=validation_fraction,
                                   private_fraction=private_fraction)
    private["validation"], private["train"] = split["validation"], split["subset"]
    settings = {"augmented_count": augmented_count, "shapes_count": shapes_count, "crops_count": crops_count}
    public_images, source_ids, source_names, source_labels = build_public_set(
        sources=public_sources, rng=public_data_rng(seed), **settings, return_source_labels=True,
    )
    public_conversion = None
    if tuple(public_images.shape[1:]) != image_shape:
        public_conversion = (f"{public_images.shape[1]}x{public_images.shape[2]}x{public_images.shape[3]} -> "
                             f"{'x'.join(map(str, image_shape))}: {RESIZE_METHODS['pil_bicubic']}, grey repeated to RGB")
        public_images = to_image_shape(public_images, image_shape, method="pil_bicubic")
    # Against every loaded private image, not only the kept ones: a held-out or unsubsetted image is private too.
    loaded = [train_images, *([private["test"][0]] if "test" in private else [])]
    overlap = count_exact_overlap(public_images, np.concatenate(loaded))
    if overlap:
        raise DataSourceError(
            f"{overlap} public images are exact copies of private ({private_set}) images; refusing to write them"
        )

    for split in splits:
        save_images(out_dir / f"private_{split}.npz", *private[split])
    save_images(
        out_dir / "public.npz", public_images, source_ids,
        source_names=np.array(source_names, dtype=f"<U{max(len(n) for n in source_names)}"),
        source_labels=source_labels,
    )

    manifest = {
        "privacy_label": PRIVATE_LABEL,
        "private_fields": [*(f"private_{split}" for split in splits), "sources.private_dir"],
        "seed": int(seed),
        "private_set": private_set,
        "image_shape": list(image_shape),
        "class_names": list(class_names),
        "labelled": bool(labelled),
        **({} if labelled else {"unlabelled": "one population (class 0): data.labelled false, a folder of images "
                                              "with no classes and no test split (no private_test.npz)"}),
        **{f"private_{split}": _private_entry(f"private_{split}.npz", *private[split], class_names)
           for split in splits},
        "validation": {"fraction": float(validation_fraction or 0.0),
                       "draw": "each training image by a keyed hash of its own bytes (membership.validation); "
                               "PE, DP-SGD and the real-data CNN never see these images"},
        "membership": neighbouring_relation_record(seed, validation_fraction=validation_fraction,
                                                   private_fraction=private_fraction),
        "public": {
            "file": "public.npz",
            "count": int(public_images.shape[0]),
            "source_names": list(source_names),
            "per_source": _per_class(source_ids, source_names),
            "settings": settings,
            "conversion": public_conversion,
            "exact_overlap_with_private": int(overlap),
            "sha256": images_digest(public_images),
        },
        "sources": {
            "private_dir": str(Path(source_dir).resolve()),
            "public": {name: PUBLIC_SOURCES[name].origin() for name in source_names},
        },
    }
    save_json(out_dir / "data_manifest.json", manifest)
    logger.info(
        "data written to %s (its manifest holds PRIVATE counts): %d public images (%s) in %.1f s",
        out_dir, manifest["public"]["count"],
        ", ".join(f"{k} {v}" for k, v in manifest["public"]["per_source"].items()),
        time.perf_counter() - start,
    )
    return manifest
