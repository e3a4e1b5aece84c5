"""Real-mode fixtures that tests write themselves: a tiny random diffusers model and tiny private sets in the
CIFAR-10 python-batch format and as a folder of class subfolders of PNGs."""

from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

CLASS_NAMES = [f"class_{c}" for c in range(10)]


def write_tiny_model(folder: Path, *, size: int = 32, channels: int = 3) -> Path:
    """A random UNet2DModel at ``size`` (saved with save_pretrained) and a DDPM scheduler: a diffusers folder."""
    import torch
    from diffusers import DDPMScheduler, UNet2DModel

    torch.manual_seed(0)
    unet = UNet2DModel(sample_size=size, in_channels=channels, out_channels=channels, layers_per_block=1,
                       block_out_channels=(8, 16), down_block_types=("DownBlock2D",) * 2,
                       up_block_types=("UpBlock2D",) * 2, norm_num_groups=4)
    unet.save_pretrained(folder / "unet")
    DDPMScheduler(num_train_timesteps=1000).save_pretrained(folder / "scheduler")
    return folder


def class_images(labels: np.ndarray, shape=(32, 32, 3), seed: int = 0) -> np.ndarray:
    """Class c = a bright bar at row 2c of a noisy dark image, in channel c % C (separable, any shape)."""
    rng = np.random.default_rng(seed)
    height, width, channels = shape
    images = rng.integers(0, 40, size=(len(labels), *shape)).astype(np.uint8)
    for i, c in enumerate(labels):
        top = (2 * int(c)) % max(1, height - 6)
        images[i, top : top + 6, 3 : width - 3, int(c) % channels] = 220
    return images


def write_cifar10_batches(folder: Path, *, per_batch: int = 60, test_count: int = 100) -> Path:
    """A cifar-10-batches-py folder (python 3 pickles of numpy rows, as re-pickled copies are) of class_images."""
    directory = folder / "cifar-10-batches-py"
    directory.mkdir(parents=True, exist_ok=True)
    batches = {f"data_batch_{k}": per_batch for k in range(1, 6)} | {"test_batch": test_count}
    for index, (name, count) in enumerate(batches.items()):
        labels = np.arange(count) % 10
        rows = class_images(labels, seed=index).transpose(0, 3, 1, 2).reshape(count, -1)
        record = {"batch_label": name, "labels": labels.tolist(), "data": rows,
                  "filenames": [f"{name}_{i}.png" for i in range(count)]}
        with open(directory / name, "wb") as handle:
            pickle.dump(record, handle, protocol=2)
    with open(directory / "batches.meta", "wb") as handle:
        pickle.dump({"label_names": CLASS_NAMES, "num_cases_per_batch": per_batch, "num_vis": 3072}, handle, protocol=2)
    return directory


def write_image_folder(root: Path, *, per_class: dict[str, int] = None, shape=(20, 24, 1),
                       class_names=CLASS_NAMES) -> Path:
    """root/{train,test}/<class name>/*.png of class_images (grey when shape has 1 channel)."""
    from PIL import Image

    per_class = per_class or {"train": 3, "test": 2}
    for split, count in per_class.items():
        labels = np.repeat(np.arange(len(class_names)), count)
        for i, (image, c) in enumerate(zip(class_images(labels, shape, seed=len(split)), labels)):
            folder = root / split / class_names[c]
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(image[..., 0] if shape[2] == 1 else image).save(folder / f"{i:04d}.png")
    return root
