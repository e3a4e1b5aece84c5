"""The model calls of one PE run, counted from params alone (no model loaded), and a projected time.

One (epsilon, seed) run makes these foundation-model calls, one per class each (pe/loop.py, pe/lookahead.py):

- ``pe-init``: S_0 = RANDOM_API(N) per class, S sampler steps per image (DDIM or DPM-Solver++);
- ``pe-lookahead`` of S_0: k variations per candidate at degree_1;
- for t = 1..T: ``pe-variation`` makes S_t (N per class) at degree_t, and, for t < T only, ``pe-lookahead`` of
  S_t at degree_(t+1). The lookahead of S_T would need degree_(T+1), which does not exist: no histogram reads it,
  so the workflow never runs it (T - 1 lookaheads after S_0's).

A variation of degree d re-runs the last round(d * S) of the S sampler steps (apis.base.check_degree; 0 steps: the
image is copied, no model call), so its image-steps are images x round(d * S). UNet forward batches: each call
(one class) runs ceil(images / pe.batch_size) batches through every one of its steps. The embedder sees the
k lookahead variations of every candidate (k = 0: the candidates themselves) in one ``embed`` call per job
(per class shard when pe.shards > 1), in batches of embedding.batch_size.

Projected time = image-steps x seconds per image-step, measured on one machine for one model. On accelerators:
device-hours (GPU-hours) = image-steps x seconds per image-step / 3600, and the wall time on N devices is that over
N (a perfect split) or, split by whole class shards, set by the device holding ceil(10 / N) classes.
"""

from __future__ import annotations

import math

from privevo.apis import uses_foundation_model
from privevo.apis.base import check_degree
from privevo.config.schedule import api_of_iteration, population_sizes, scheduled_apis, variation_degrees
from privevo.pe.shards import shard_classes

# Measured seconds per sampling image-step (one image through one DDIM step), keyed by what they were measured on.
MEASURED_SECONDS_PER_IMAGE_STEP = {
    "cpu-avx2-fp32-default-unet": 1.8e-3,
}
DEFAULT_MEASUREMENT = "cpu-avx2-fp32-default-unet"
MEASUREMENT_NOTES = {
    "cpu-avx2-fp32-default-unet": (
        "the default params.yaml UNet (block_out_channels [16, 32, 64], 1 layer per block, no attention), fp32, "
        "batch 128, on a 2-core AVX2-only AMD EPYC CPU (README, Measured; benchmarks/bench_precision.py)"
    ),
}
# Costs per image-step that were NOT measured here, each derived from a cited public figure; `privevo plan --cost NAME`
# uses one and every output labels it "assumed".
ASSUMED_SECONDS_PER_IMAGE_STEP = {
    # Ho, Jain, Abbeel, "Denoising Diffusion Probabilistic Models" (NeurIPS 2020, arXiv:2006.11239), Appendix B:
    # their 35.7M-parameter CIFAR-10 UNet samples a batch of 256 images in 17 s on a TPU v3-8 (which the authors
    # compare to 8 V100 GPUs) with T = 1000 steps: 17 / (256 x 1000) s per image-step.
    "ddpm-cifar10-tpu-v3-8": 17.0 / (256 * 1000),
}
ASSUMPTION_NOTES = {
    "ddpm-cifar10-tpu-v3-8": (
        "ASSUMED, not measured: 17 s per batch of 256 CIFAR-10 images x 1000 steps for the 35.7M-parameter DDPM "
        "CIFAR-10 UNet (google/ddpm-cifar10-32) on one TPU v3-8 (Ho et al. 2020, arXiv:2006.11239, App. B), taken "
        "as the cost of one device; a GPU's own cost is a timing run's 'unet' model seconds over its image-steps "
        "(--seconds-per-image-step)"
    ),
}
# The UNet the measurement is for (params.yaml's model section, pretrained here).
_DEFAULT_UNET = {"source": "pretrain", "block_out_channels": [16, 32, 64], "layers_per_block": 1, "attention": False}
PROJECTED_DEVICES = (1, 8)


def _num_classes(params: dict) -> int:
    """K, the PE populations of a run: the private set's classes (read from the data), 1 for unlabelled data."""
    from privevo.config.params import params_class_names

    return len(params_class_names(params))


def _unet_batches(images_per_call: int, steps: int, batch_size: int, calls: int) -> int:
    return calls * math.ceil(images_per_call / batch_size) * steps if steps else 0


def _embed_batches(params: dict, candidates_per_class: int, images_per_candidate: int) -> int:
    """Embedder batches of one lookahead job set: one ``embed`` call per class shard."""
    pe, batch_size = params["pe"], params["embedding"]["batch_size"]
    shards = pe["shards"]
    per_shard = [len(shard_classes(s, shards, _num_classes(params))) * candidates_per_class * images_per_candidate
                 for s in range(shards)]
    return sum(math.ceil(n / batch_size) for n in per_shard)


def _row(params: dict, *, step: str, iteration: int, kind: str, degree: float, images_per_class: int,
         candidates_per_class: int, embedded_per_candidate: int = 0, api_iteration: int | None = None) -> dict:
    """``api_iteration``: the population whose API the step calls (pe.api_schedule), by default ``iteration``."""
    pe = params["pe"]
    steps = check_degree(degree, pe["num_inference_steps"], where=f"{step} degree")
    if not uses_foundation_model(api_of_iteration(params, iteration if api_iteration is None else api_iteration)):
        steps = 0  # a model-free API (the simulator) draws without any UNet step
    images = images_per_class * _num_classes(params)
    embedded = candidates_per_class * _num_classes(params) * embedded_per_candidate
    return {
        "step": step, "iteration": iteration, "kind": kind, "degree": degree, "steps_per_image": steps,
        "calls": _num_classes(params) if steps and images_per_class else 0, "images": images, "image_steps": images * steps,
        "unet_batches": _unet_batches(images_per_class, steps, pe["batch_size"], _num_classes(params)),
        "embedder_images": embedded,
        "embedder_batches": (_embed_batches(params, candidates_per_class, embedded_per_candidate)
                             if embedded_per_candidate else 0),
    }


def plan_run(params: dict) -> dict:
    """Every foundation-model and embedder call of one PE run of ``params`` (validated), with totals.

    Returns ``{"settings", "steps", "by_kind", "totals"}``: ``steps`` has one row per workflow step (pe-init,
    pe-lookahead t, pe-variation t) with its degree, DDIM steps per image, images, image-steps, UNet forward
    batches and embedder images/batches; ``by_kind`` sums them per call kind (random, variation, lookahead).
    """
    pe = params["pe"]
    k, num_iterations = pe["lookahead_degree"], pe["num_iterations"]
    sizes = population_sizes(params)
    n = sizes[0]
    degrees = variation_degrees(params)
    embedded = max(k, 1)  # k = 0 embeds each candidate itself

    def lookahead(t: int) -> dict:
        # The lookahead of S_t feeds iteration t + 1's histogram, at degree_(t+1) (cli cmd_pe_lookahead);
        # k = 0: no lookahead variations.
        return _row(params, step="pe-lookahead", iteration=t, kind="lookahead", degree=degrees[t],
                    images_per_class=sizes[t] * k, candidates_per_class=sizes[t], embedded_per_candidate=embedded,
                    api_iteration=t + 1)

    steps = [_row(params, step="pe-init", iteration=0, kind="random", degree=1.0, images_per_class=n,
                  candidates_per_class=n), lookahead(0)]
    for t in range(1, num_iterations + 1):
        steps.append(_row(params, step="pe-variation", iteration=t, kind="variation", degree=degrees[t - 1],
                          images_per_class=sizes[t], candidates_per_class=sizes[t]))
        if t < num_iterations:
            steps.append(lookahead(t))
    counted = ("calls", "images", "image_steps", "unet_batches", "embedder_images", "embedder_batches")
    by_kind = {kind: {key: sum(row[key] for row in steps if row["kind"] == kind) for key in counted}
               for kind in ("random", "variation", "lookahead")}
    totals = {key: sum(row[key] for row in steps) for key in counted}
    settings = {
        "classes": _num_classes(params), "num_samples_per_class": n, "population_sizes": sizes, "num_iterations": num_iterations,
        "lookahead_degree": k, "num_inference_steps": pe["num_inference_steps"], "sampler": pe["sampler"],
        "variation_degrees": degrees,
        "unet_batch_size": pe["batch_size"], "embedder": params["embedding"]["name"],
        "embedder_batch_size": params["embedding"]["batch_size"], "shards": pe["shards"], "api": pe["api"],
        "apis": scheduled_apis(params),
        "schedule": [f"{pe['api']} from S_0"] + [f"{entry['api']} from t = {entry['from_iteration']}"
                                                 + (f" (N = {entry['num_samples_per_class']})"
                                                    if entry.get("num_samples_per_class") else "")
                                                 for entry in pe["api_schedule"]],
    }
    return {"settings": settings, "steps": steps, "by_kind": by_kind, "totals": totals}


def _sizes_text(sizes: list[int]) -> str:
    """N, or N_0..N_T where pe.api_schedule changes it."""
    return str(sizes[0]) if len(set(sizes)) == 1 else "N_t " + "/".join(str(n) for n in sizes)


def default_unet(params: dict) -> bool:
    """Whether ``params`` sample with the UNet that the measured cost is for."""
    model = params["model"]
    return all(model[key] == value for key, value in _DEFAULT_UNET.items())


def project_time(plan: dict, seconds_per_image_step: float, *, source: str,
                 devices: tuple[int, ...] = PROJECTED_DEVICES) -> dict:
    """Projected model time of ``plan``: image-steps x ``seconds_per_image_step``, on 1 and more devices.

    Several devices are projected as a perfect split of the image-steps (equal shares, no overhead). Split by class
    shards instead (pe.shards), a device that holds ceil(10 / devices) of the 10 classes bounds the wall time.
    """
    if not (seconds_per_image_step > 0 and math.isfinite(seconds_per_image_step)):
        raise ValueError(f"seconds per image-step must be positive, got {seconds_per_image_step!r}")
    if not devices or any(int(d) != d or d < 1 for d in devices):
        raise ValueError(f"device counts must be positive integers, got {devices!r}")
    image_steps = plan["totals"]["image_steps"]
    seconds = image_steps * seconds_per_image_step
    classes = plan["settings"]["classes"]
    return {
        "seconds_per_image_step": seconds_per_image_step, "source": source,
        "image_steps_per_device_hour": 3600.0 / seconds_per_image_step,
        "seconds": seconds,
        "device_hours": seconds / 3600.0,
        "hours": {str(d): seconds / 3600.0 / d for d in devices},
        "hours_class_shards": {str(d): seconds / 3600.0 * math.ceil(classes / min(d, classes)) / classes
                               for d in devices},
        "step_seconds": [row["image_steps"] * seconds_per_image_step for row in plan["steps"]],
    }


def resolve_cost(params: dict, seconds_per_image_step: float | None, assumption: str | None = None
                 ) -> tuple[float | None, str, list[str]]:
    """The cost per image-step to project with, where it comes from, and notes on how far it applies.

    For a params file that samples on CUDA (device: cuda) the CPU measurement says nothing, so without
    ``seconds_per_image_step`` or a named ``assumption`` the cost is None: the plan counts, and projects nothing.
    """
    if seconds_per_image_step is not None and assumption is not None:
        raise ValueError("give a measured --seconds-per-image-step or an assumed --cost, not both")
    if seconds_per_image_step is not None:
        return float(seconds_per_image_step), "--seconds-per-image-step", []
    if assumption is not None:
        if assumption not in ASSUMED_SECONDS_PER_IMAGE_STEP:
            raise ValueError(f"unknown cost assumption {assumption!r}; choose from "
                             f"{', '.join(ASSUMED_SECONDS_PER_IMAGE_STEP)}")
        return ASSUMED_SECONDS_PER_IMAGE_STEP[assumption], f"assumed: {assumption}", [ASSUMPTION_NOTES[assumption]]
    if params["device"] == "cuda":
        return None, "none", [
            "device is cuda: there is no measured GPU cost, so nothing is projected; give --seconds-per-image-step "
            "(measured on your GPU) or --cost with a cited assumption (" + ", ".join(ASSUMED_SECONDS_PER_IMAGE_STEP)
            + "); then GPU-hours = image-steps x seconds per image-step / 3600"]
    notes = [f"the cost is the one measurement we have, {DEFAULT_MEASUREMENT} = "
             f"{MEASURED_SECONDS_PER_IMAGE_STEP[DEFAULT_MEASUREMENT]:g} s per image-step: "
             f"{MEASUREMENT_NOTES[DEFAULT_MEASUREMENT]}",
             "other models or hardware need --seconds-per-image-step (e.g. a timing run's 'unet' model seconds "
             "over the img-step total of its tqdm bars)"]
    if not default_unet(params):
        notes.append("this params file's model is not the measured default UNet: the projection does not apply to it")
    if params["pe"]["batch_size"] != 128:
        notes.append(f"pe.batch_size is {params['pe']['batch_size']}, the measurement used 128")
    return MEASURED_SECONDS_PER_IMAGE_STEP[DEFAULT_MEASUREMENT], f"measured: {DEFAULT_MEASUREMENT}", notes


# A run projected longer than this on the CPU gets a warning before its first image (one clear line).
CPU_WARNING_SECONDS = 3600.0


def cpu_time_warning(plan: dict, seconds_per_image_step: float, *, api: str,
                     warn_above_seconds: float = CPU_WARNING_SECONDS) -> str | None:
    """One warning line when ``plan``'s image-steps at ``seconds_per_image_step`` (measured here, on the CPU) come
    to more than ``warn_above_seconds``; None when the run fits."""
    image_steps = plan["totals"]["image_steps"]
    seconds = image_steps * seconds_per_image_step
    if seconds <= warn_above_seconds:
        return None
    return (f"pe.api {api} runs on the CPU: this run's {image_steps:,} image-steps at {seconds_per_image_step:.3g} s "
            f"each (one UNet step measured here) come to about {_duration(seconds)}; run it on a GPU (device: cuda "
            f"or auto there), or lower pe.num_samples_per_class / pe.num_inference_steps "
            f"(`privevo plan` counts the image-steps)")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.2f} h"


SAMPLER_NAMES = {"ddim": "DDIM", "dpm_solver": "DPM-Solver++"}


def format_plan(plan: dict, projection: dict | None, notes: list[str] = ()) -> str:
    """The plan and its projection (None: counts only) as a human-readable table."""
    s = plan["settings"]
    lines = [
        f"PE run: {s['classes']} classes x N = {_sizes_text(s['population_sizes'])}, T = {s['num_iterations']}, "
        f"lookahead k = {s['lookahead_degree']}, S = {s['num_inference_steps']} {SAMPLER_NAMES[s['sampler']]} steps, "
        f"UNet batch {s['unet_batch_size']}, embedder {s['embedder']} (batch {s['embedder_batch_size']}), "
        f"shards {s['shards']}",
        "degrees t = 1..T: " + ", ".join(f"{d:g}" for d in s["variation_degrees"]),
        "",
    ]
    if not any(uses_foundation_model(name) for name in s["apis"]):
        lines[1:1] = [f"pe.api {s['api']}: draws without a foundation model, so 0 UNet image-steps; the embedder "
                      "still sees every lookahead candidate"]
    elif len(s["apis"]) > 1:
        lines[1:1] = ["APIs (pe.api_schedule): " + ", ".join(s["schedule"]) + "; a model-free one makes 0 UNet steps"]
    header = ("step", "t", "kind", "degree", "steps", "images", "image-steps", "UNet batches", "embedded",
              "emb. batches", "projected")
    cost = projection["seconds_per_image_step"] if projection else None

    def projected(image_steps: int) -> str:
        return _duration(image_steps * cost) if cost else "-"

    step_rows = [(r["step"], str(r["iteration"]), r["kind"], f"{r['degree']:g}", str(r["steps_per_image"]),
                  f"{r['images']:,}", f"{r['image_steps']:,}", f"{r['unet_batches']:,}", f"{r['embedder_images']:,}",
                  f"{r['embedder_batches']:,}", projected(r["image_steps"]))
                 for r in plan["steps"]]
    total_rows = [(f"total {kind}", "", "", "", "", f"{t['images']:,}", f"{t['image_steps']:,}",
                   f"{t['unet_batches']:,}", f"{t['embedder_images']:,}", f"{t['embedder_batches']:,}",
                   projected(t["image_steps"]))
                  for kind, t in [*plan["by_kind"].items(), ("", plan["totals"])]]
    total_rows[-1] = ("TOTAL", *total_rows[-1][1:])
    widths = [max(len(row[i]) for row in (header, *step_rows, *total_rows)) for i in range(len(header))]

    def line(row) -> str:
        return "  ".join(cell.ljust(w) if i < 3 else cell.rjust(w) for i, (cell, w) in enumerate(zip(row, widths)))

    separator = "  ".join("-" * w for w in widths)
    lines += [line(header), separator, *map(line, step_rows), separator, *map(line, total_rows)]
    image_steps = plan["totals"]["image_steps"]
    lines.append("")
    if projection is None:
        lines.append(f"projected: nothing (no cost per image-step for this device); device-hours = {image_steps:,} "
                     "image-steps x seconds per image-step / 3600, wall time on N devices = device-hours / N")
    else:
        lines += [
            f"cost: {cost:g} s per image-step ({projection['source']}) = "
            f"{projection['image_steps_per_device_hour']:,.0f} image-steps per device-hour",
            f"device-hours (GPU-hours on GPUs) = {image_steps:,} image-steps x {cost:g} s / 3600 = "
            f"{projection['device_hours']:.3g} h, whatever the number of devices",
        ]
    for d, hours in (projection["hours"] if projection else {}).items():
        if d == "1":
            lines.append(f"projected UNet time on 1 device: {hours:.3g} h ({_duration(hours * 3600)})")
        else:
            shard_hours = projection["hours_class_shards"][d]
            lines.append(f"projected UNet time on {d} devices: {hours:.3g} h ({_duration(hours * 3600)}), assuming a "
                         f"perfect split of the image-steps across classes/shards; by whole class shards the busiest "
                         f"device holds {math.ceil(s['classes'] / int(d))} of {s['classes']} classes: "
                         f"{shard_hours:.3g} h ({_duration(shard_hours * 3600)})")
    lines += [
        "not projected: embedder forwards, model loading, the histogram, and embedding the private set "
        "(embed-private, once per embedding key)",
        "counted: one (epsilon, seed) run; a sweep repeats iterations 1..T per run, and S_0 with its lookahead "
        "per seed",
    ]
    lines += [f"note: {note}" for note in notes]
    return "\n".join(lines)
