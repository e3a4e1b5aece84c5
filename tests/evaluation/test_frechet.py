import numpy as np
import pytest
import scipy.linalg

from privevo.evaluation.frechet import FeatureStats, frechet_distance, sqrtm_psd_product


def _random_psd(rng, d, rank=None):
    a = rng.standard_normal((d, rank or 2 * d))
    return a @ a.T / a.shape[1]


def _scipy_fd(mu1, s1, mu2, s2):
    covmean = scipy.linalg.sqrtm(s1 @ s2)
    if np.iscomplexobj(covmean):
        covmean = covmean.real
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean))


def test_sqrtm_psd_product_matches_scipy():
    rng = np.random.default_rng(0)
    for _ in range(3):
        s1, s2 = _random_psd(rng, 64), _random_psd(rng, 64)
        ref = float(np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)
        assert sqrtm_psd_product(s1, s2) == pytest.approx(ref, rel=1e-6)


def test_frechet_matches_scipy_formula():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((500, 64))
    y = 0.7 * rng.standard_normal((400, 64)) @ rng.standard_normal((64, 64)) / 8 + 0.3
    a, b = FeatureStats.from_features(x), FeatureStats.from_features(y)
    assert frechet_distance(a, b) == pytest.approx(_scipy_fd(a.mu, a.sigma, b.mu, b.sigma), rel=1e-6)


def test_sqrtm_psd_product_rank_deficient():
    # Fewer samples than dimensions, as with small synthetic sets: singular covariances.
    rng = np.random.default_rng(2)
    s1, s2 = _random_psd(rng, 64, rank=20), _random_psd(rng, 64, rank=30)
    ref = float(np.trace(scipy.linalg.sqrtm(s1 @ s2)).real)
    assert sqrtm_psd_product(s1, s2) == pytest.approx(ref, rel=1e-5)


def test_closed_form_diagonal_gaussians():
    rng = np.random.default_rng(3)
    d = 16
    mu1, mu2 = rng.standard_normal(d), rng.standard_normal(d)
    a, b = rng.uniform(0.1, 3, d), rng.uniform(0.1, 3, d)
    expected = float(np.sum((mu1 - mu2) ** 2) + np.sum((np.sqrt(a) - np.sqrt(b)) ** 2))
    fd = frechet_distance(FeatureStats(mu1, np.diag(a), 10), FeatureStats(mu2, np.diag(b), 10))
    assert fd == pytest.approx(expected, rel=1e-10)


def test_closed_form_commuting_full_covariances():
    # Same eigenvectors: tr sqrt(S1 S2) = sum sqrt(a_i b_i).
    rng = np.random.default_rng(4)
    q, _ = np.linalg.qr(rng.standard_normal((8, 8)))
    a, b = rng.uniform(0.5, 2, 8), rng.uniform(0.5, 2, 8)
    s1, s2 = q @ np.diag(a) @ q.T, q @ np.diag(b) @ q.T
    assert sqrtm_psd_product(s1, s2) == pytest.approx(np.sum(np.sqrt(a * b)), rel=1e-10)


def test_self_distance_zero_and_symmetry():
    rng = np.random.default_rng(5)
    x = FeatureStats.from_features(rng.standard_normal((300, 32)))
    y = FeatureStats.from_features(rng.standard_normal((300, 32)) * 1.5 + 1)
    assert abs(frechet_distance(x, x)) < 1e-8 * np.trace(x.sigma)
    assert frechet_distance(x, y) == pytest.approx(frechet_distance(y, x), rel=1e-9)
    assert frechet_distance(x, y) > 32  # mean shift alone contributes 32


def test_from_features_moments():
    rng = np.random.default_rng(6)
    x = rng.standard_normal((50, 5)).astype(np.float32)
    s = FeatureStats.from_features(x)
    assert s.mu.dtype == np.float64 and s.sigma.dtype == np.float64 and s.n == 50
    np.testing.assert_allclose(s.mu, x.astype(np.float64).mean(0))
    np.testing.assert_allclose(s.sigma, np.cov(x.astype(np.float64), rowvar=False))


def test_save_load_round_trip(tmp_path):
    rng = np.random.default_rng(7)
    s = FeatureStats.from_features(rng.standard_normal((20, 6)))
    path = tmp_path / "sub" / "stats.npz"
    s.save(path)
    t = FeatureStats.load(path)
    assert t.n == 20
    np.testing.assert_array_equal(t.mu, s.mu)
    np.testing.assert_array_equal(t.sigma, s.sigma)


def test_invalid_inputs():
    with pytest.raises(ValueError):
        FeatureStats.from_features(np.zeros((1, 4)))
    with pytest.raises(ValueError):
        FeatureStats.from_features(np.zeros(4))
    with pytest.raises(ValueError):
        frechet_distance(FeatureStats(np.zeros(3), np.eye(3), 2), FeatureStats(np.zeros(4), np.eye(4), 2))


def test_fid_cli_on_pixels(tmp_path):
    import json
    import subprocess
    import sys

    from privevo.io.artifacts import save_images

    rng = np.random.default_rng(0)
    a = rng.integers(0, 100, size=(64, 8, 8, 1), dtype=np.uint8)
    save_images(tmp_path / "a.npz", a)
    save_images(tmp_path / "b.npz", a + 50)
    out = subprocess.run([sys.executable, "-m", "privevo", "fid", str(tmp_path / "a.npz"), str(tmp_path / "b.npz"),
                          "--embedder", "pixels"], capture_output=True, text=True, check=True)
    record = json.loads(out.stdout)
    # A constant shift of 50/255 in all 64 pixels moves the mean by that much and leaves covariances alone.
    assert record["metric"] == "FD-pixels" and record["value"] == pytest.approx(64 * (50 / 255) ** 2, rel=1e-6)


@pytest.mark.parametrize("n", [10, 60])
def test_low_rank_path_agrees_with_full_computation(n):
    from privevo.evaluation.frechet import frechet_distance_to_features

    rng = np.random.default_rng(n)
    reference = FeatureStats.from_features(rng.normal(size=(500, 40)) @ rng.normal(size=(40, 40)))
    sample = rng.normal(0.5, 2.0, size=(n, 40))
    expected = frechet_distance(FeatureStats.from_features(sample), reference)
    # Both paths are exact; they differ only by eigensolver round-off (about 1e-8 relative).
    assert frechet_distance_to_features(sample, reference) == pytest.approx(expected, rel=1e-6)
