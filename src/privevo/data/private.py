"""The private set named by ``data.private_set``, whatever its format: its splits, class names and image shape.

The image shape and class names of the private set are public by assumption (like the class set in the
accountant), so steps outside the privacy boundary may ask for them; they never see an image.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from privevo.data.checks import IMAGE_SHAPE, DataSourceError

PRIVATE_SETS = ("fashion_mnist", "cifar10", "image_folder")
IMAGE_FOLDER_SPLITS = ("train", "test")


def _require_dir(private_set: str, private_dir, *, labelled: bool = True) -> Path:
    if not private_dir:
        what = ("the cifar-10-batches-py folder (or the folder holding it)" if private_set == "cifar10"
                else "a folder holding train/ and test/, each with one subfolder of PNGs per class" if labelled
                else "one folder of PNGs (data.labelled false: no class subfolders)")
        raise DataSourceError(f"params key data.private_dir: data.private_set {private_set} needs {what}")
    return Path(private_dir).expanduser()


def load_private_set(private_set: str, *, private_dir=None, fashion_mnist_dir=None, labelled: bool = True) -> dict:
    """``{"train": (images, labels), "test": (images, labels), "class_names": [...], "source_dir": Path}``.

    ``labelled`` false (image_folder only): ``private_dir`` is one flat folder of PNGs, loaded as one population,
    ``train = (images, zeros)`` with ``class_names = [UNLABELLED_CLASS_NAME]`` and no ``"test"`` split.
    """
    if not labelled:
        if private_set != "image_folder":
            raise DataSourceError(f"params key data.labelled: false needs data.private_set image_folder; "
                                  f"{private_set} is labelled")
        from privevo.data.image_folder import load_flat_image_folder

        root = _require_dir(private_set, private_dir, labelled=False)
        images = load_flat_image_folder(root)
        return {"train": (images, np.zeros(images.shape[0], np.int64)), "class_names": [UNLABELLED_CLASS_NAME],
                "source_dir": root}
    if private_set == "fashion_mnist":
        from privevo.data.fashion_mnist import FASHION_MNIST_CLASSES, find_fashion_mnist_dir, load_fashion_mnist

        source_dir = find_fashion_mnist_dir(fashion_mnist_dir)
        splits = load_fashion_mnist(source_dir)
        result = {**splits, "class_names": list(FASHION_MNIST_CLASSES), "source_dir": source_dir}
    elif private_set == "cifar10":
        from privevo.data.cifar10 import find_cifar10_dir, load_cifar10

        source_dir = find_cifar10_dir(_require_dir(private_set, private_dir))
        train, test, class_names = load_cifar10(source_dir)
        result = {"train": train, "test": test, "class_names": list(class_names), "source_dir": source_dir}
    elif private_set == "image_folder":
        from privevo.data.image_folder import load_image_folder

        root = _require_dir(private_set, private_dir)
        loaded = {split: load_image_folder(root / split) for split in IMAGE_FOLDER_SPLITS}
        names = {split: loaded[split][2] for split in IMAGE_FOLDER_SPLITS}
        if names["train"] != names["test"]:
            raise DataSourceError(f"{root}: train/ and test/ must hold the same class subfolders; "
                                  f"train has {names['train']}, test has {names['test']}")
        shapes = {split: loaded[split][0].shape[1:] for split in IMAGE_FOLDER_SPLITS}
        if shapes["train"] != shapes["test"]:
            raise DataSourceError(f"{root}: train/ images are {shapes['train']} (H, W, C) but test/ are "
                                  f"{shapes['test']}; one shape for both splits")
        result = {split: loaded[split][:2] for split in IMAGE_FOLDER_SPLITS}
        result.update(class_names=names["train"], source_dir=root)
    else:
        raise DataSourceError(f"params key data.private_set: unknown {private_set!r}; known: {', '.join(PRIVATE_SETS)}")
    return result


def private_image_shape(private_set: str, *, private_dir=None, labelled: bool = True) -> tuple[int, int, int]:
    """(H, W, C) of the private images, without loading them (an image folder: its first PNG; ``labelled`` false:
    the first PNG of the flat folder)."""
    if not labelled and private_set == "image_folder":
        from privevo.data.image_folder import image_folder_shape

        return image_folder_shape(_require_dir(private_set, private_dir, labelled=False), labelled=False)
    if private_set == "fashion_mnist":
        return tuple(IMAGE_SHAPE)
    if private_set == "cifar10":
        from privevo.data.cifar10 import CIFAR10_IMAGE_SHAPE

        return tuple(CIFAR10_IMAGE_SHAPE)
    if private_set == "image_folder":
        from privevo.data.image_folder import image_folder_shape

        return image_folder_shape(_require_dir(private_set, private_dir) / IMAGE_FOLDER_SPLITS[0])
    raise DataSourceError(f"params key data.private_set: unknown {private_set!r}; known: {', '.join(PRIVATE_SETS)}")


def private_class_names(private_set: str, *, private_dir=None) -> list[str]:
    """The class names of the private set, without loading its images."""
    if private_set == "fashion_mnist":
        from privevo.data.fashion_mnist import FASHION_MNIST_CLASSES

        return list(FASHION_MNIST_CLASSES)
    if private_set == "cifar10":
        from privevo.data.cifar10 import CIFAR10_CLASSES, CIFAR10_META, find_cifar10_dir, read_cifar10_label_names

        if private_dir and Path(private_dir).expanduser().exists():  # the files' own names, where they are here
            return list(read_cifar10_label_names(find_cifar10_dir(Path(private_dir).expanduser()) / CIFAR10_META))
        return list(CIFAR10_CLASSES)
    if private_set == "image_folder":
        from privevo.data.image_folder import image_folder_class_names

        return image_folder_class_names(_require_dir(private_set, private_dir) / IMAGE_FOLDER_SPLITS[0])
    raise DataSourceError(f"params key data.private_set: unknown {private_set!r}; known: {', '.join(PRIVATE_SETS)}")


# The one population of an unlabelled private set (data.labelled false): PE's class 0.
UNLABELLED_CLASS_NAME = "all images"


def params_class_names(params: dict) -> list[str]:
    """The class names of a run's private set (public by assumption), without loading images; an unlabelled set
    (data.labelled false) has one population, named :data:`UNLABELLED_CLASS_NAME`."""
    data = params["data"]
    if not data.get("labelled", True):
        return [UNLABELLED_CLASS_NAME]
    return private_class_names(data["private_set"], private_dir=data["private_dir"])


def params_class_counts(params: dict) -> dict[str, int] | None:
    """The number of training images of each class of an image-folder private set, counted from its file names
    (an empty class folder is refused here); None for the built-in sets, whose sizes are known."""
    data = params["data"]
    if data["private_set"] != "image_folder":
        return None
    from privevo.data.image_folder import image_folder_class_counts

    labelled = data.get("labelled", True)
    root = _require_dir(data["private_set"], data["private_dir"], labelled=labelled)
    counts = image_folder_class_counts(root / IMAGE_FOLDER_SPLITS[0] if labelled else root, labelled=labelled)
    return counts if labelled else {UNLABELLED_CLASS_NAME: counts[""]}


def params_num_classes(params: dict) -> int:
    """K, the number of PE populations of a run: the private set's classes, or 1 for unlabelled data."""
    return len(params_class_names(params))


def params_image_shape(params: dict) -> tuple[int, int, int]:
    """The private image shape a run's params name."""
    data = params["data"]
    return private_image_shape(data["private_set"], private_dir=data["private_dir"],
                               labelled=data.get("labelled", True))


__all__ = ["PRIVATE_SETS", "UNLABELLED_CLASS_NAME", "load_private_set", "private_image_shape", "private_class_names",
           "params_class_names", "params_class_counts", "params_num_classes", "params_image_shape"]
