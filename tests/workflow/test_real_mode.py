"""Real mode through Snakemake: a user's local diffusers model at 32x32 RGB (a tiny random one, saved with
save_pretrained) against a 32x32 RGB CIFAR-10-format private set and the 28x28 grey Fashion-MNIST set."""

import numpy as np
import pytest
import yaml

from privevo.config.layout import Layout
from privevo.data.fashion_mnist import find_fashion_mnist_dir
from privevo.io.artifacts import load_images, load_json

from conftest import ROOT, snakemake, write_params
from real_mode import CLASS_NAMES, write_cifar10_batches, write_tiny_model

pytestmark = pytest.mark.slow


def real_mode_params(base, **data):
    """The smoke settings on a local model, cut to what real mode changes: data, model, images (one iteration,
    no baselines, robustness or mixing: the smoke sweep covers those)."""
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["paths"] = {"data_dir": str(base / "data"), "results_dir": str(base / "results")}
    # about 300 of Fashion-MNIST's 60,000 training images (a public number); a caller's data may replace it
    params["data"].update({"private_fraction": 0.005, "augmented_count": 1000, "shapes_count": 300, **data})
    params["model"].update(source="local", local_path=str(base / "tiny32"))
    params["pe"].update(num_samples_per_class=4, num_iterations=1, variation_degrees=[0.6], num_inference_steps=4,
                        release_size=6)
    params["audit"].update(num_trials=200, max_private=200)
    params["dpsgd"]["enabled"] = params["robustness"]["enabled"] = params["mixing"]["enabled"] = False
    params["mixing"]["public_pe"] = False
    params["evaluation"].update(classifier_seeds=[0], classifier_epochs=1, real_max_samples=200, max_test_samples=200)
    return params


@pytest.mark.parametrize("private", ["cifar10", "fashion_mnist"])
def test_a_32x32_local_model_runs_the_workflow_on_a_private_set(tmp_path, private):
    write_tiny_model(tmp_path / "tiny32", size=32, channels=3)
    data = {"fashion_mnist_dir": str(find_fashion_mnist_dir(None).resolve())}  # found from the root; runs elsewhere
    if private == "cifar10":
        write_cifar10_batches(tmp_path / "cifar", per_batch=40, test_count=100)
        data = {"private_set": "cifar10", "private_dir": str(tmp_path / "cifar"), "private_fraction": None}  # all 200
    else:  # the validation protocol of issue 11, on the grey set: about 100 of the 60,000 held out
        data = {**data, "validation_fraction": 0.00167}
    params = real_mode_params(tmp_path, **data)
    if private == "cifar10":  # the other sampler and vote metric, through the workflow
        params["pe"].update(sampler="dpm_solver", vote_metric="centred_cosine")
    else:
        params["evaluation"]["split"] = "validation"
    layout = Layout(params)
    # A flag ends --config's list, so the targets that follow are read as targets.
    proc = snakemake("--printshellcmds", layout.metrics, layout.privacy_report,
                     params_file=write_params(tmp_path / "params.yaml", params), check=False, workdir=tmp_path)
    logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted(tmp_path.rglob("*.log"))[:30])
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    shape = (32, 32, 3) if private == "cifar10" else (28, 28, 1)
    images, labels = load_images(layout.synthetic)  # S_T (4 per class) and 2 variations of it per class
    assert images.shape == (60, *shape) and np.bincount(labels).tolist() == [6] * 10
    assert load_images(layout.candidates(0))[0].shape[1:] == shape
    privacy = load_json(layout.privacy_report)
    assert privacy["release"]["size_per_class"] == 6 and privacy["num_synthetic"] == 60
    record = privacy["compute"]["images"]
    assert record["model_image_shape"] == [32, 32, 3] and record["image_shape"] == list(shape)
    if private == "cifar10":
        assert record["resize_method"] is None and privacy["public"]["class_set"] == CLASS_NAMES
    else:
        assert record["resize_method"] == "torch_bicubic" and record["channels"] == "RGB averaged to grey"
    metrics = load_json(layout.metrics)
    assert metrics["resize"] == record["resize"] and 0.0 <= metrics["accuracy_mean"] <= 1.0
    assert metrics["evaluated_on"].startswith("validation" if private == "fashion_mnist" else "test")
    assert load_json(layout.data_manifest)["image_shape"] == list(shape)
