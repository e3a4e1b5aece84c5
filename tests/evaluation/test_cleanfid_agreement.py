"""Where clean-fid imports (machines with a working torchvision), our FD must agree with it.

On the CPU machines here torchvision (and so clean-fid) does not import, and these tests skip.
"""

import numpy as np
import pytest

cleanfid_fid = pytest.importorskip("cleanfid.fid", reason="clean-fid needs torchvision, which has no CPU build here")

from privevo.evaluation.frechet import FeatureStats, frechet_distance  # noqa: E402


def test_frechet_distance_matches_cleanfid():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(300, 32)), rng.normal(0.3, 1.2, size=(300, 32))
    ours = frechet_distance(FeatureStats.from_features(a), FeatureStats.from_features(b))
    theirs = cleanfid_fid.frechet_distance(a.mean(0), np.cov(a, rowvar=False), b.mean(0), np.cov(b, rowvar=False))
    assert ours == pytest.approx(theirs, rel=1e-5)


def test_inception_features_match_cleanfid(tmp_path):
    import os

    from privevo.embedders import InceptionEmbedder, find_inception_weights

    try:
        weights = find_inception_weights(os.environ.get("PRIVEVO_INCEPTION_PATH"))
    except FileNotFoundError:
        pytest.skip("inception-2015-12-05.pt is not available")
    import torch
    from cleanfid.features import build_feature_extractor
    from cleanfid.resize import build_resizer

    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, size=(8, 28, 28, 3), dtype=np.uint8)
    ours = InceptionEmbedder(weights_path=weights, device="cpu", quantize_after_resize=False).embed(images)
    resize = build_resizer("clean")
    batch = torch.from_numpy(np.stack([resize(img) for img in images])).permute(0, 3, 1, 2)
    model = build_feature_extractor("clean", torch.device("cpu"))
    theirs = model(batch).detach().cpu().numpy()
    np.testing.assert_allclose(ours, theirs, rtol=1e-3, atol=1e-3)
