import numpy as np
import pytest

from privevo.io.resize import RESIZE_METHODS, convert_channels, resize_images, to_image_shape


@pytest.mark.parametrize("method", sorted(RESIZE_METHODS))
def test_resize_keeps_dtype_and_constant_images(method):
    images = np.full((3, 32, 32, 3), 137, np.uint8)
    out = resize_images(images, (28, 28), method=method)
    assert out.shape == (3, 28, 28, 3) and out.dtype == np.uint8
    assert np.all(out == 137)  # an interpolation filter sums to one


def test_the_two_bicubic_methods_agree_on_a_smooth_image():
    ramp = np.linspace(0, 255, 32, dtype=np.float32)
    images = np.broadcast_to(ramp[None, None, :, None], (2, 32, 32, 1)).round().astype(np.uint8).copy()
    torch_out = resize_images(images, (28, 28), method="torch_bicubic").astype(int)
    pil_out = resize_images(images, (28, 28), method="pil_bicubic").astype(int)
    assert np.abs(torch_out - pil_out).max() <= 3
    assert np.all(np.diff(torch_out[0, 14, :, 0]) >= 0)  # the ramp stays a ramp


def test_same_size_is_returned_unchanged_and_unknown_method_is_named():
    images = np.random.default_rng(0).integers(0, 256, (2, 28, 28, 1), dtype=np.uint8)
    assert resize_images(images, (28, 28)) is images
    with pytest.raises(ValueError, match="lanczos"):
        resize_images(images, (32, 32), method="lanczos")


def test_channels_grey_to_rgb_and_back():
    grey = np.random.default_rng(1).integers(0, 256, (4, 5, 6, 1), dtype=np.uint8)
    rgb = convert_channels(grey, 3)
    assert rgb.shape == (4, 5, 6, 3) and np.all(rgb == grey)
    np.testing.assert_array_equal(convert_channels(rgb, 1), grey)
    assert to_image_shape(grey, (10, 12, 3)).shape == (4, 10, 12, 3)
