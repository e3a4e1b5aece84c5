"""An unlabelled private set (data.labelled false): one flat folder of PNGs, loaded as one population."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from real_mode import class_images, write_image_folder
from privevo.data import DataSourceError
from privevo.data.image_folder import load_flat_image_folder
from privevo.data.private import load_private_set, private_image_shape


def write_flat(folder, count=5, shape=(20, 24, 1)):
    folder.mkdir(parents=True, exist_ok=True)
    for i, image in enumerate(class_images(np.zeros(count, int), shape)):
        Image.fromarray(image[..., 0] if shape[2] == 1 else image).save(folder / f"{i:03d}.png")
    return folder


def test_a_flat_folder_loads_as_one_population_without_a_test_split(tmp_path):
    write_flat(tmp_path / "flat", count=5)
    (tmp_path / "flat" / "notes.txt").write_text("not an image")
    images = load_flat_image_folder(tmp_path / "flat")
    np.testing.assert_array_equal(images, class_images(np.zeros(5, int), (20, 24, 1)))
    loaded = load_private_set("image_folder", private_dir=tmp_path / "flat", labelled=False)
    assert set(loaded) == {"train", "class_names", "source_dir"} and loaded["class_names"] == ["all images"]
    assert loaded["train"][1].dtype == np.int64 and loaded["train"][1].tolist() == [0] * 5
    assert private_image_shape("image_folder", private_dir=tmp_path / "flat", labelled=False) == (20, 24, 1)


def test_flat_folder_errors_are_one_line(tmp_path):
    write_image_folder(tmp_path / "classes", per_class={"train": 1, "test": 1})
    with pytest.raises(DataSourceError, match="set data.labelled true") as error:
        load_flat_image_folder(tmp_path / "classes")
    assert "\n" not in str(error.value)
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataSourceError, match="holds no PNG files"):
        load_flat_image_folder(tmp_path / "empty")
    with pytest.raises(DataSourceError, match="not found"):
        load_flat_image_folder(tmp_path / "missing")
    write_flat(tmp_path / "mixed", count=2)
    Image.fromarray(class_images([0], (20, 24, 3))[0]).save(tmp_path / "mixed" / "009.png")
    with pytest.raises(DataSourceError, match="009.png loads as RGB"):
        load_flat_image_folder(tmp_path / "mixed")
    with pytest.raises(DataSourceError, match="data.private_dir"):
        load_private_set("image_folder", private_dir=None, labelled=False)
