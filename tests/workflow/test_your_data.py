"""Your data, your model (issue 31): a private set whose classes are not Fashion-MNIST's runs the whole workflow
through a local DDPM and through a local text-to-image pipeline; APIs that do not know the classes refuse them."""

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml

from privevo.config.layout import Layout
from privevo.io.artifacts import load_images, load_json
from privevo.models.io import load_classifier

from conftest import ROOT, snakemake, write_params
from real_mode import write_image_folder, write_tiny_model
from tiny_text_to_image import build_tiny_pipeline

pytestmark = pytest.mark.slow

CLASSES = ["bags", "boots", "trousers"]  # sorted: the folders' order is the label order


def your_data_params(base, *, api: str, model_dir):
    """The smoke settings cut to one iteration on a 3-class image folder of 28x28 grey PNGs."""
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["paths"] = {"data_dir": str(base / "data"), "results_dir": str(base / "results")}
    params["data"].update(private_set="image_folder", private_dir=str(base / "private"), augmented_count=1000,
                          shapes_count=300, private_fraction=None)  # smoke's share is sized for 60,000 images
    params["model"].update(source="local", local_path=str(model_dir))
    params["pe"].update(api=api, api_schedule=[], num_samples_per_class=6, num_iterations=1, variation_degrees=[0.6],
                        num_inference_steps=4, release_size=8, lookahead_degree=1, num_nearest_neighbours=2,
                        histogram_threshold=0.0)
    params["audit"].update(num_trials=100, max_private=60)
    params["robustness"]["enabled"] = params["mixing"]["enabled"] = params["mixing"]["public_pe"] = False
    params["dpsgd"].update(enabled=True, epochs=1, expected_batch_size=16, physical_batch_size=16)
    params["evaluation"].update(classifier_seeds=[0], classifier_epochs=1, real_epochs=1)
    return params


@pytest.mark.parametrize("api", ["diffusion", "text_to_image"])
def test_a_three_class_image_folder_runs_the_workflow(tmp_path, api):
    write_image_folder(tmp_path / "private", per_class={"train": 12, "test": 6}, shape=(28, 28, 1),
                       class_names=CLASSES)
    if api == "diffusion":
        # Unequal classes, one of a single image: it must run (issue 40), falling back to uniform parents where
        # its noisy counts all fall below H.
        for extra in sorted((tmp_path / "private" / "train" / CLASSES[0]).iterdir())[1:]:
            extra.unlink()
        model_dir = write_tiny_model(tmp_path / "tiny32", size=32, channels=3)
    else:
        model_dir = build_tiny_pipeline(tmp_path / "tiny-t2i")
    params = your_data_params(tmp_path, api=api, model_dir=model_dir)
    if api == "text_to_image":
        params["pe"]["prompts"] = {"boots": ["a boot", "an ankle boot"]}  # the others: their class names
        params["text_to_image"] = {"guidance_scale": 2.0, "resolution": None}
    layout = Layout(params)
    proc = snakemake("--printshellcmds", layout.metrics, layout.privacy_report,
                     params_file=write_params(tmp_path / "params.yaml", params), check=False, workdir=tmp_path)
    logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted(tmp_path.rglob("*.log"))[:40])
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    images, labels = load_images(layout.synthetic)
    assert images.shape == (24, 28, 28, 1) and np.bincount(labels).tolist() == [8, 8, 8]
    privacy = load_json(layout.privacy_report)
    assert privacy["public"]["class_set"] == CLASSES
    flagged = {(entry["iteration"], entry["class"]) for entry in privacy["uniform_fallbacks"]}
    for t in range(1, params["pe"]["num_iterations"] + 1):
        table = pd.read_csv(f"{layout.iteration_dir(t)}/histogram.csv")
        fell_back = table.groupby("class")["uniform_fallback"].first()
        assert {(t, int(c)) for c in fell_back[fell_back].index} == {(i, c) for i, c in flagged if i == t}
        assert (table.groupby("class")["thresholded_count"].sum()[fell_back] == 0).all()
    metrics = load_json(layout.metrics)
    assert 0.0 <= metrics["accuracy_mean"] <= 1.0
    assert {"precision_final", "recall_final"} <= set(metrics)
    classifiers = sorted(tmp_path.rglob("classifiers.safetensors"))
    assert classifiers and all(load_classifier(path, seed=0).num_classes == 3 for path in classifiers)
    if api == "text_to_image":
        record = privacy["compute"]["images"]
        assert record["prompts"] == {"bags": ["bags"], "boots": ["a boot", "an ankle boot"], "trousers": ["trousers"]}
        assert len(record["weights_sha256"]) == 64 and record["model_image_shape"][:2] == [16, 16]
        init_log = next(tmp_path.rglob("pe_init.log")).read_text()
        assert "one image-step takes" in init_log and "runs on the CPU" not in init_log  # the tiny run fits the CPU


def validate(tmp_path, params) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "privevo", "validate-params", "--params",
                           str(write_params(tmp_path / "params.yaml", params))], capture_output=True, text=True)


def test_apis_that_do_not_know_the_classes_refuse_them_in_one_line(tmp_path):
    write_image_folder(tmp_path / "private", per_class={"train": 2, "test": 1}, shape=(28, 28, 1),
                       class_names=CLASSES)
    params = your_data_params(tmp_path, api="simulator", model_dir=tmp_path)
    params["model"]["source"] = "pretrain"
    proc = validate(tmp_path, params)
    assert proc.returncode == 2 and "no garments for class(es) 'bags', 'boots', 'trousers'" in proc.stderr
    assert "use pe.api diffusion" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    params = your_data_params(tmp_path, api="text_to_image", model_dir=tmp_path / "nothing")
    proc = validate(tmp_path, params)
    assert proc.returncode == 2 and "is not a diffusers pipeline folder" in proc.stderr
    params = your_data_params(tmp_path, api="diffusion", model_dir=tmp_path)
    params["pe"]["prompts"] = {"sandals": ["a sandal"]}
    proc = validate(tmp_path, params)
    assert proc.returncode == 2 and "'sandals'" in proc.stderr and "'bags', 'boots', 'trousers'" in proc.stderr


def test_a_small_class_passes_and_an_empty_class_folder_is_refused_in_one_line_before_any_job(tmp_path):
    write_image_folder(tmp_path / "private", per_class={"train": 1, "test": 1}, shape=(28, 28, 1),
                       class_names=CLASSES)
    params = your_data_params(tmp_path, api="diffusion", model_dir=tmp_path)
    params["pe"]["num_nearest_neighbours"] = 3  # m counts candidates (6 per class), not private images
    proc = validate(tmp_path, params)
    assert proc.returncode == 0, proc.stderr  # one image per class is a valid private class
    assert "fewer images" not in proc.stderr and "fewer images" not in proc.stdout
    params["pe"]["num_nearest_neighbours"] = 2
    for png in (tmp_path / "private" / "train" / "boots").iterdir():
        png.unlink()
    proc = validate(tmp_path, params)
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "boots holds no PNG files" in proc.stderr


def test_an_unlabelled_image_folder_runs_as_one_population(tmp_path):
    """data.labelled false (the paper's Algorithm 4): one flat folder of PNGs runs PE as one population; FD and
    precision/recall are measured, the classifier steps are skipped and metrics.json says why."""
    from PIL import Image

    from real_mode import class_images

    folder = tmp_path / "private"
    folder.mkdir()
    for index, image in enumerate(class_images(np.arange(30) % 3, (28, 28, 1))):
        Image.fromarray(image[..., 0]).save(folder / f"{index:03d}.png")
    model_dir = write_tiny_model(tmp_path / "tiny32", size=32, channels=3)
    params = your_data_params(tmp_path, api="diffusion", model_dir=model_dir)
    params["data"]["labelled"] = False
    params["dpsgd"]["enabled"] = False
    # prdc's k = 5 neighbours need more than k + 1 rows in every population of the one class
    params["pe"].update(num_samples_per_class=8, release_size=10)
    layout = Layout(params)
    proc = snakemake("--printshellcmds", layout.metrics, layout.privacy_report,
                     params_file=write_params(tmp_path / "params.yaml", params), check=False, workdir=tmp_path)
    logs = "\n".join(f"== {p}\n{p.read_text()[-2000:]}" for p in sorted(tmp_path.rglob("*.log"))[:40])
    assert proc.returncode == 0, proc.stderr[-4000:] + logs
    images, labels = load_images(layout.synthetic)
    assert images.shape == (10, 28, 28, 1) and set(labels.tolist()) == {0}
    privacy = load_json(layout.privacy_report)
    assert privacy["public"]["class_set"] == ["all images"] and "one population" in privacy["public"]["unlabelled"]
    assert "audit" not in privacy
    metrics = load_json(layout.metrics)
    assert metrics["downstream"] == "skipped: unlabelled data has no classes to classify (data.labelled false)"
    assert metrics["accuracy_mean"] is None and metrics["real_data_accuracy_mean"] is None
    assert np.isfinite(metrics["fd_final"]) and {"precision_final", "recall_final"} <= set(metrics)
    assert not list(tmp_path.rglob("private_test.npz")) and not list(tmp_path.rglob("downstream.json"))
    manifest = load_json(layout.data_manifest)
    assert manifest["private_train"]["per_class"] == {"all images": 30} and not manifest["labelled"]
    # The whole DAG (rule all) builds without the classifier, comparison and latest/ rules.
    dry = snakemake("-n", params_file=tmp_path / "params.yaml", check=False, workdir=tmp_path)
    assert dry.returncode == 0, dry.stderr[-3000:]
    params["dpsgd"]["enabled"] = True
    proc = validate(tmp_path, params)
    assert proc.returncode == 2 and "params key dpsgd.enabled: must be false with data.labelled false" in proc.stderr
