"""Shared test settings for the pe tests: the smoke config cut to three candidates per class and three iterations."""

import yaml

from conftest import ROOT


def write_tiny_params(tmp_path, **privacy):
    """params.yaml of a tiny run in ``tmp_path``; its odometer lives there too, so no charge leaves the test."""
    params = yaml.safe_load((ROOT / "config" / "smoke.yaml").read_text())
    params["pe"].update(num_samples_per_class=3, num_iterations=3, lookahead_degree=2, num_inference_steps=10,
                        variation_degrees=[0.9, 0.6, 0.3])
    params["privacy"].update(odometer_dir=str(tmp_path / "odometer"), **privacy)
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params))
    return path
