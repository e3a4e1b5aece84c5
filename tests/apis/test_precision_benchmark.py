"""benchmarks/bench_precision.py: one precision, a thread count and channels-last run (tiny settings); bad input fails."""

import pytest
import torch

from conftest import load_script

SCRIPT = "benchmarks/bench_precision.py"


@pytest.fixture
def keep_torch_threads():
    # --threads sets torch's process-wide pool; later tests in this worker must keep theirs.
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)


def test_one_precision_at_one_thread_in_channels_last(capsys, keep_torch_threads):
    load_script(SCRIPT).main(["--device", "cpu", "--precisions", "fp32", "--threads", "1", "--channels-last",
                           "--train-steps", "1", "--sample-steps", "1"])
    out = capsys.readouterr().out
    assert "1 CPU threads" in out and "channels-last" in out
    rows = [line.split() for line in out.splitlines() if line.startswith(("fp32", "bf16"))]
    assert [row[0] for row in rows] == ["fp32"]
    train_seconds, sample_ms = float(rows[0][1]), float(rows[0][3])
    assert train_seconds > 0 and sample_ms > 0
    assert "bf16 / fp32" not in out


def test_unknown_precision_is_one_clear_error(capsys, keep_torch_threads):
    with pytest.raises(SystemExit):
        load_script(SCRIPT).main(["--precisions", "fp16"])
    assert "--precisions takes fp32 and/or bf16, got 'fp16'" in capsys.readouterr().err
