"""Every params file the project ships validates against the schema (a stale one would fail only when run). Files
that name a user's own data or model folder validate once those folders hold what they should (the test writes
tiny ones where the file says, relative to the working directory, as a user's run would read them)."""

from pathlib import Path

import pytest

from privevo.config.params import load_params, read_params_file

from conftest import ROOT

NOT_PARAMS = {ROOT / "benchmarks" / "findings" / "campaign.yaml"}  # the findings campaign's cell list
SHIPPED = sorted({ROOT / "params.yaml", *(ROOT / "config").glob("*.yaml"), *(ROOT / "benchmarks").rglob("*.yaml")}
                 - NOT_PARAMS)


def write_what_it_names(params: dict, base: Path) -> None:
    from real_mode import class_images, write_image_folder

    data, model = params["data"], params["model"]
    if data["private_set"] == "image_folder":
        folder = base / data["private_dir"]
        if data.get("labelled", True):
            write_image_folder(folder, per_class={"train": 2, "test": 1}, shape=(28, 28, 1),
                               class_names=["bags", "boots", "trousers"])
        else:
            from PIL import Image

            folder.mkdir(parents=True)
            for index, image in enumerate(class_images(list(range(3)), (28, 28, 3))):
                Image.fromarray(image).save(folder / f"{index}.png")
    if params["pe"]["api"] == "text_to_image":
        from tiny_text_to_image import build_tiny_pipeline

        build_tiny_pipeline(base / model["local_path"])


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_params_file_validates(path, tmp_path, monkeypatch):
    raw = read_params_file(path)
    if raw["data"]["private_set"] == "image_folder" and not Path(raw["data"]["private_dir"]).is_absolute():
        monkeypatch.chdir(tmp_path)
        write_what_it_names(raw, tmp_path)
    params = load_params(path)
    assert params["pe"]["num_iterations"] >= 1 and isinstance(params["pe"]["by_epsilon"], list)
