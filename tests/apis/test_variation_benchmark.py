"""benchmarks/bench_variation_throughput.py runs (tiny settings) and its plain diffusers loop makes privevo's images."""

import json

from conftest import ROOT, load_script

SCRIPT = "benchmarks/bench_variation_throughput.py"


def test_benchmark_reports_both_loops_and_they_agree(tmp_path, capsys):
    out = tmp_path / "throughput.json"
    result = load_script(SCRIPT).main(["--device", "cpu", "--params", str(ROOT / "config" / "smoke.yaml"),
                                      "--batch-size", "3", "--steps", "4", "--degree", "0.5", "--repeats", "1",
                                      "--mixed-precision", "fp32", "--json", str(out)])
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["steps_run"] == 2 and len(result["seconds"]["privevo"]) == len(result["seconds"]["plain"]) == 1
    assert result["ratio"] > 0 and 0 < result["privevo"]["unet_share_of_wall"] <= 1
    # The same noise through the same UNet and scheduler: the plain loop reproduces privevo's images.
    assert result["max_uint8_difference"] <= 1
    assert "privevo / plain throughput" in capsys.readouterr().out
