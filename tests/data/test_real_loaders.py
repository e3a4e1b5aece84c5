"""Tests of the private-data loaders privevo.data.cifar10 and privevo.data.image_folder on tiny written files."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from privevo.data import DataSourceError
from privevo.data.cifar10 import CIFAR10_DIRNAME, CIFAR10_TEST_BATCH, CIFAR10_TRAIN_BATCHES, load_cifar10
from privevo.data.image_folder import load_image_folder
from privevo.data.pickled import _numpy_reconstruct

CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
PER_BATCH = 4


class _Python2Pickler(pickle._Pickler):
    """Writes protocol 2 as Python 2's cPickle did for CIFAR-10: str as byte strings, numpy under numpy.core."""

    dispatch = dict(pickle._Pickler.dispatch)

    def _save_byte_string(self, obj):
        data = obj.encode("latin1") if isinstance(obj, str) else obj
        if len(data) < 256:
            self.write(pickle.SHORT_BINSTRING + bytes([len(data)]) + data)
        else:
            self.write(pickle.BINSTRING + struct.pack("<i", len(data)) + data)
        self.memoize(obj)

    dispatch[str] = _save_byte_string
    dispatch[bytes] = _save_byte_string

    def save_global(self, obj, name=None):
        if obj is _numpy_reconstruct():  # numpy 1.x, which wrote the distributed files, lived in numpy.core
            self.write(pickle.GLOBAL + b"numpy.core.multiarray\n_reconstruct\n")
            self.memoize(obj)
            return
        super().save_global(obj, name)


def _dump(obj, path: Path, style: str) -> None:
    with open(path, "wb") as handle:
        if style == "python2":
            _Python2Pickler(handle, protocol=2).dump(obj)
        else:  # Python 3 writes bytes at protocol 2 through _codecs.encode(..., "latin1")
            pickle.dump(obj, handle, protocol=2)


def _batch_rows(batch_index: int) -> np.ndarray:
    """Distinct pixel rows: value = (batch * 7 + n * 3 + position) % 256."""
    n = np.arange(PER_BATCH)[:, None]
    return ((batch_index * 7 + n * 3 + np.arange(3072)[None, :]) % 256).astype(np.uint8)


def write_fake_cifar10(directory: Path, style: str = "python2") -> dict[str, np.ndarray]:
    """A cifar-10-batches-py folder of 4-image batches in CIFAR-10's own pickle format; returns the raw rows."""
    directory.mkdir(parents=True, exist_ok=True)
    rows = {}
    for index, name in enumerate((*CIFAR10_TRAIN_BATCHES, CIFAR10_TEST_BATCH)):
        data = _batch_rows(index)
        labels = [(index + n) % 10 for n in range(PER_BATCH)]
        batch = {
            b"batch_label": f"batch {index + 1} of 6".encode(),
            b"labels": labels,
            b"data": data,
            b"filenames": [f"img_{index}_{n}.png".encode() for n in range(PER_BATCH)],
        }
        _dump(batch, directory / name, style)
        rows[name] = (data, labels)
    meta = {b"num_cases_per_batch": PER_BATCH, b"label_names": [c.encode() for c in CLASS_NAMES], b"num_vis": 3072}
    _dump(meta, directory / "batches.meta", style)
    return rows


@pytest.mark.parametrize("style", ["python2", "python3"])
def test_cifar10_pixel_layout_labels_and_class_names(tmp_path, style):
    rows = write_fake_cifar10(tmp_path / CIFAR10_DIRNAME, style)
    (train_images, train_labels), (test_images, test_labels), names = load_cifar10(tmp_path / CIFAR10_DIRNAME)
    assert train_images.shape == (5 * PER_BATCH, 32, 32, 3) and train_images.dtype == np.uint8
    assert test_images.shape == (PER_BATCH, 32, 32, 3) and test_labels.dtype == np.int64
    assert train_labels.dtype == np.int64
    assert names == CLASS_NAMES
    # Row layout: red plane, then green, then blue, each 32x32 row-major.
    data, labels = rows["data_batch_2"]
    n, y, x = 3, 5, 17
    image = train_images[PER_BATCH + n]  # batch 2 follows batch 1's four images
    for c in range(3):
        assert image[y, x, c] == data[n, c * 1024 + y * 32 + x]
    np.testing.assert_array_equal(train_labels[PER_BATCH:2 * PER_BATCH], labels)
    test_data, test_row_labels = rows[CIFAR10_TEST_BATCH]
    np.testing.assert_array_equal(test_images, test_data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1))
    np.testing.assert_array_equal(test_labels, test_row_labels)


def test_cifar10_single_pixels_land_in_their_channel(tmp_path):
    directory = tmp_path / CIFAR10_DIRNAME
    write_fake_cifar10(directory)
    data = np.zeros((PER_BATCH, 3072), dtype=np.uint8)
    data[0, 0 * 1024 + 0 * 32 + 1] = 201  # red at (y=0, x=1)
    data[1, 1 * 1024 + 31 * 32 + 0] = 202  # green at (y=31, x=0)
    data[2, 2 * 1024 + 4 * 32 + 9] = 203  # blue at (y=4, x=9)
    _dump({b"data": data, b"labels": [0, 1, 2, 9], b"batch_label": b"t", b"filenames": [b"a"] * 4},
          directory / CIFAR10_TEST_BATCH, "python2")
    _, (images, labels), _ = load_cifar10(tmp_path)  # the folder holding cifar-10-batches-py works too
    assert images[0, 0, 1, 0] == 201 and images[1, 31, 0, 1] == 202 and images[2, 4, 9, 2] == 203
    assert int(images.astype(np.int64).sum()) == 201 + 202 + 203
    np.testing.assert_array_equal(labels, [0, 1, 2, 9])


class _WritesAFile:
    """Unpickling this calls builtins.open(marker, "w"): a visible, harmless side effect."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (open, (str(self.marker), "w"))


def test_cifar10_refuses_a_malicious_pickle_without_running_it(tmp_path):
    directory = tmp_path / CIFAR10_DIRNAME
    write_fake_cifar10(directory)
    marker = tmp_path / "pwned"
    evil = {b"data": _WritesAFile(marker), b"labels": [0] * PER_BATCH}
    with open(directory / "data_batch_3", "wb") as handle:
        pickle.dump(evil, handle, protocol=2)
    with pytest.raises(DataSourceError) as info:
        load_cifar10(directory)
    message = str(info.value)
    assert "data_batch_3" in message and f"refusing to load {open.__module__}.open" in message
    assert not marker.exists()
    # The file really would have run code under a plain unpickler: the refusal is what prevented it.
    with open(directory / "data_batch_3", "rb") as handle:
        pickle.load(handle).get(b"data").close()
    assert marker.exists()


def test_cifar10_refuses_codecs_other_than_latin1(tmp_path):
    directory = tmp_path / CIFAR10_DIRNAME
    write_fake_cifar10(directory)
    # _codecs.encode is allowed only as Python 3's latin-1 spelling of bytes.
    payload = b"\x80\x02c_codecs\nencode\nX\x03\x00\x00\x00abcX\x06\x00\x00\x00base64\x86R."
    (directory / "batches.meta").write_bytes(payload)
    with pytest.raises(DataSourceError, match=r"batches\.meta.*only latin1"):
        load_cifar10(directory)


def test_cifar10_missing_folder_or_file_says_what_to_place_where(tmp_path):
    with pytest.raises(DataSourceError) as info:
        load_cifar10(tmp_path / "nowhere")
    message = str(info.value)
    assert "\n" not in message and "cifar-10-python.tar.gz" in message
    assert str(tmp_path / "nowhere" / CIFAR10_DIRNAME / "data_batch_1") in message
    write_fake_cifar10(tmp_path / CIFAR10_DIRNAME)
    (tmp_path / CIFAR10_DIRNAME / "data_batch_4").unlink()
    with pytest.raises(DataSourceError, match="missing data_batch_4"):
        load_cifar10(tmp_path)


def test_cifar10_bad_shapes_and_labels_are_refused(tmp_path):
    directory = tmp_path / CIFAR10_DIRNAME
    write_fake_cifar10(directory)
    good = _batch_rows(0)
    _dump({b"data": good, b"labels": [0, 1, 2, 10]}, directory / "data_batch_1", "python2")
    with pytest.raises(DataSourceError, match=r"data_batch_1.*labels must be in 0\.\.9"):
        load_cifar10(directory)
    _dump({b"data": good, b"labels": [0, 1, 2]}, directory / "data_batch_1", "python2")
    with pytest.raises(DataSourceError, match="expected 4 labels"):
        load_cifar10(directory)
    _dump({b"data": good[:, :3000], b"labels": [0, 1, 2, 3]}, directory / "data_batch_1", "python2")
    with pytest.raises(DataSourceError, match=r"shape \(N, 3072\)"):
        load_cifar10(directory)
    _dump({b"labels": [0, 1, 2, 3]}, directory / "data_batch_1", "python2")
    with pytest.raises(DataSourceError, match="no 'data' entry"):
        load_cifar10(directory)


def _png(path: Path, array: np.ndarray, mode: str | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.fromarray(array)
    (image.convert(mode) if mode else image).save(path)


def _grey(seed: int, size=(6, 5)) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, size=size, dtype=np.uint8)


def test_image_folder_grey_labels_by_sorted_class_name(tmp_path):
    arrays = {("zebra", "b.png"): _grey(0), ("zebra", "a.png"): _grey(1),
              ("apple", "x.png"): _grey(2), ("apple", "c.png"): _grey(3)}
    for (cls, name), array in arrays.items():
        _png(tmp_path / cls / name, array)
    (tmp_path / "apple" / "notes.txt").write_text("not an image")
    images, labels, names = load_image_folder(tmp_path)
    assert names == ["apple", "zebra"]
    assert images.shape == (4, 6, 5, 1) and images.dtype == np.uint8 and labels.dtype == np.int64
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    expected = [arrays[k] for k in (("apple", "c.png"), ("apple", "x.png"), ("zebra", "a.png"), ("zebra", "b.png"))]
    np.testing.assert_array_equal(images[..., 0], np.stack(expected))


def test_image_folder_rgb_rgba_and_palette_load_as_rgb(tmp_path):
    rgb = np.random.default_rng(4).integers(0, 256, size=(3, 4, 3), dtype=np.uint8)
    _png(tmp_path / "cats" / "1.png", rgb)
    _png(tmp_path / "cats" / "2.png", np.dstack([rgb, np.full((3, 4), 7, np.uint8)]))  # RGBA: alpha dropped
    palette_source = np.zeros((3, 4, 3), dtype=np.uint8)
    palette_source[1, 2] = (255, 0, 0)
    _png(tmp_path / "dogs" / "1.png", palette_source, mode="P")
    _png(tmp_path / "dogs" / "2.png", rgb)
    images, labels, names = load_image_folder(tmp_path)
    assert images.shape == (4, 3, 4, 3) and names == ["cats", "dogs"]
    np.testing.assert_array_equal(labels, [0, 0, 1, 1])
    np.testing.assert_array_equal(images[0], rgb)
    np.testing.assert_array_equal(images[1], rgb)
    np.testing.assert_array_equal(images[2], palette_source)


def test_image_folder_refuses_mismatched_sizes_and_modes(tmp_path):
    _png(tmp_path / "a" / "1.png", _grey(0, (6, 5)))
    _png(tmp_path / "b" / "1.png", _grey(1, (6, 5)))
    _png(tmp_path / "b" / "2.png", _grey(2, (7, 5)))
    with pytest.raises(DataSourceError, match=r"b/2\.png is 5x7 \(WxH\) but .*a/1\.png is 5x6"):
        load_image_folder(tmp_path)
    _png(tmp_path / "b" / "2.png", np.zeros((6, 5, 3), dtype=np.uint8))
    with pytest.raises(DataSourceError, match=r"b/2\.png loads as RGB but .*a/1\.png as L"):
        load_image_folder(tmp_path)


def test_image_folder_size_resizes_bicubically(tmp_path):
    original = _grey(5, (8, 6))
    _png(tmp_path / "a" / "1.png", original)
    _png(tmp_path / "b" / "1.png", _grey(6, (10, 10)))  # different sizes are fine once resized
    images, labels, _ = load_image_folder(tmp_path, size=(4, 3))
    assert images.shape == (2, 4, 3, 1)
    expected = np.asarray(Image.fromarray(original).resize((3, 4), Image.Resampling.BICUBIC))
    np.testing.assert_array_equal(images[0, ..., 0], expected)
    assert load_image_folder(tmp_path, size=5)[0].shape == (2, 5, 5, 1)


def test_image_folder_missing_or_empty_says_what_to_place_where(tmp_path):
    with pytest.raises(DataSourceError, match=r"place one subfolder per class"):
        load_image_folder(tmp_path / "nowhere")
    with pytest.raises(DataSourceError, match="no class subfolders"):
        load_image_folder(tmp_path)
    (tmp_path / "a").mkdir()
    with pytest.raises(DataSourceError, match=r"holds no PNG files"):
        load_image_folder(tmp_path)
    (tmp_path / "a" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(DataSourceError, match=r"broken\.png: cannot read the image"):
        load_image_folder(tmp_path)
