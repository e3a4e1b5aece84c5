"""benchmarks/sampler/run_sampler.py: PE's step records are read from the run's and its S_0's logs, not its
evaluation's."""

import json

from conftest import load_script

SCRIPT = "benchmarks/sampler/run_sampler.py"


def timing_line(step, seconds, unet):
    record = {"step": step, "step_seconds": seconds, "process_seconds": seconds + 3, "model_seconds": {"unet": unet}}
    return f"2026-11-30 07:00:00,000 INFO privevo: TIMING {json.dumps(record)}\n"


def test_step_timings_reads_the_run_and_base_logs_only(tmp_path):
    run, base, other = tmp_path / "run", tmp_path / "base", tmp_path / "other"
    for folder in (run, base, other):
        (folder / "logs").mkdir(parents=True)
    (base / "logs" / "pe_init.log").write_text("progress 10%\n" + timing_line("pe-init", 4.0, 3.5))
    (run / "logs" / "histogram_1.log").write_text(timing_line("pe-histogram", 2.0, 0.0) + "done\n")
    (run / "logs" / "pe_variation_1.log").write_text(timing_line("pe-variation", 6.5, 6.0))
    (other / "logs" / "pe_variation_1.log").write_text(timing_line("pe-variation", 100.0, 99.0))
    (run / "logs" / "inspect_histogram_1.log").write_text(timing_line("inspect", 3.0, 0.0))
    (run / "eval-1234abcd" / "logs").mkdir(parents=True)
    (run / "eval-1234abcd" / "logs" / "eval_fd_curve.log").write_text(timing_line("eval-fd-curve", 50.0, 0.0))

    records = load_script(SCRIPT).step_timings(str(run), str(base))

    assert sorted(record["step"] for record in records) == ["pe-histogram", "pe-init", "pe-variation"]
    assert sum(record["step_seconds"] for record in records) == 12.5
    assert sum(record["model_seconds"]["unet"] for record in records) == 9.5
