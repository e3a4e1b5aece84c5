"""Moving uint8 NHWC images between resolutions and channel counts (a model's and the private set's)."""

from __future__ import annotations

import numpy as np

from privevo.io.images import check_images

RESIZE_METHODS = {
    "torch_bicubic": "bicubic with antialiasing (torch.nn.functional.interpolate, antialias=True), rounded to uint8",
    "pil_bicubic": "PIL's bicubic filter (Image.Resampling.BICUBIC), image by image",
}


def convert_channels(images: np.ndarray, channels: int) -> np.ndarray:
    """Grey repeated to RGB, or RGB averaged to grey (the same rule as the diffusion API's tensors)."""
    check_images(images, name="images to convert")
    have = images.shape[3]
    if have == channels:
        return images
    if have == 1 and channels == 3:
        return np.repeat(images, 3, axis=3)
    if have == 3 and channels == 1:
        return np.clip(np.rint(images.astype(np.float32).mean(axis=3, keepdims=True)), 0, 255).astype(np.uint8)
    raise ValueError(f"cannot convert {have}-channel images to {channels} channels")


def resize_images(images: np.ndarray, size: tuple[int, int], *, method: str = "torch_bicubic") -> np.ndarray:
    """``images`` (N, H, W, C) uint8 resized to ``size`` = (height, width) with ``method`` (see RESIZE_METHODS)."""
    check_images(images, name="images to resize")
    height, width = int(size[0]), int(size[1])
    if images.shape[1:3] == (height, width):
        return images
    if method == "torch_bicubic":
        import torch
        import torch.nn.functional as F

        x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float()
        y = F.interpolate(x, size=(height, width), mode="bicubic", antialias=True, align_corners=False)
        return y.round().clamp(0, 255).to(torch.uint8).permute(0, 2, 3, 1).contiguous().numpy()
    if method == "pil_bicubic":
        from PIL import Image

        out = np.empty((len(images), height, width, images.shape[3]), np.uint8)
        for i, image in enumerate(images):
            pil = Image.fromarray(image[..., 0] if image.shape[2] == 1 else image)
            resized = np.asarray(pil.resize((width, height), Image.Resampling.BICUBIC), dtype=np.uint8)
            out[i] = resized[..., None] if resized.ndim == 2 else resized
        return out
    raise ValueError(f"unknown resize method {method!r}; known: {', '.join(RESIZE_METHODS)}")


def to_image_shape(images: np.ndarray, shape: tuple[int, int, int], *, method: str = "torch_bicubic") -> np.ndarray:
    """``images`` brought to ``shape`` = (H, W, C): resized, then grey/RGB converted."""
    return convert_channels(resize_images(images, shape[:2], method=method), int(shape[2]))
