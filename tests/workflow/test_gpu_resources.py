"""Every rule whose privevo step can use CUDA declares the `gpu` resource, and no other rule does.

Read from the rule files' text (fast, no Snakemake DAG): each rule's step is the word after
``{PRIVEVO} [--threads {threads}]`` in its shell command.
"""

import re

import pytest

from conftest import ROOT

RULES = ROOT / "workflow" / "rules"

# The steps that put work on the GPU when there is one, and why.
CUDA_STEPS = {
    "pretrain": "trains the UNet and samples from it",
    "pe-init": "UNet sampling (RANDOM_API)",
    "pe-variation": "UNet sampling (VARIATION_API)",
    "pe-lookahead": "UNet sampling and the embedder",
    "embed-private": "the embedder",
    "eval-fd-curve": "the embedder",
    "pe-histogram": "nearest-neighbour search (faiss-gpu or torch on CUDA)",
    "audit": "thousands of nearest-neighbour searches",
    "pe-release": "UNet sampling (VARIATION_API) when pe.release_size extends S_T",
    "eval-cleanfid-check": "Inception features, privevo's and clean-fid's",
}
# Steps that run torch on the CPU only: the small downstream CNN is never moved to a device.
CPU_TORCH_STEPS = {"eval-downstream", "public-classifier", "dpsgd", "robustness"}

STEP = re.compile(r"\{PRIVEVO\}(?: --threads \{threads\})? ([a-z0-9-]+)")


def rules():
    """(file, rule name, step, declares gpu) of every rule that runs a privevo step."""
    found = []
    for path in sorted(RULES.glob("*.smk")):
        text = path.read_text()
        blocks = re.split(r"^\s*rule (\w+):", text, flags=re.M)
        for name, body in zip(blocks[1::2], blocks[2::2]):
            shell = body.split("shell:", 1)[1] if "shell:" in body else ""
            match = STEP.search(shell)
            if match is None:  # the command is a constant of the file, e.g. ROBUSTNESS_SHELL
                constant = re.match(r"\s*([A-Z_]+)\s", shell)
                if constant:
                    match = STEP.search(text.split(f"{constant.group(1)} = ", 1)[1])
            if match is None:
                continue
            declares = "gpu=GPU" in body or "generation_resources(" in body
            found.append((path.name, name, match.group(1), declares))
    return found


def test_the_rules_are_found():
    steps = {step for _, _, step, _ in rules()}
    assert set(CUDA_STEPS) <= steps and CPU_TORCH_STEPS <= steps
    assert len(rules()) > 30


@pytest.mark.parametrize("path, rule, step, declares", rules(), ids=lambda v: v if isinstance(v, str) else "")
def test_gpu_is_declared_exactly_where_the_step_can_use_cuda(path, rule, step, declares):
    if step in CUDA_STEPS:
        assert declares, f"{path}: rule {rule} runs `privevo {step}` ({CUDA_STEPS[step]}) but declares no gpu"
    else:
        assert not declares, f"{path}: rule {rule} runs `privevo {step}`, which never uses CUDA, yet declares gpu"


def test_gpu_is_one_only_when_params_ask_for_cuda():
    common = (RULES / "common.smk").read_text()
    assert 'GPU = 1 if config["device"] == "cuda" else 0' in common
    assert '"gpu": GPU' in (RULES / "pe_generation.smk").read_text()
