"""The argparse front of ``privevo <step>`` (also ``python -m privevo <step>``): parsing, logging, exit codes."""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time


logger = logging.getLogger("privevo")
TIMING_PREFIX = "TIMING "
_PROCESS_START = time.time()


def _configure_logging(level: str) -> None:
    logging.basicConfig(level=getattr(logging, level.upper()), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # faiss announces every SIMD variant it tries at INFO.
    logging.getLogger("faiss.loader").setLevel(logging.WARNING)


def _add_overrides(p: argparse.ArgumentParser) -> None:
    p.add_argument("--set", action="append", default=[], dest="overrides", metavar="KEY=VALUE",
                   help="override one params key (YAML value), e.g. --set privacy.epsilon=4; repeatable")


def _add_shard(p: argparse.ArgumentParser) -> None:
    p.add_argument("--shard", type=int, default=0, help="this job's shard (0-based) of the classes")
    p.add_argument("--shards", type=int, default=1,
                   help="split the classes into this many jobs (pe.shards); >1 writes a partial .npz to merge")


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be a positive finite number, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {text!r}")
    return value


PUBLIC_POOL_HELP = "the prepared public set: the pool of an API that retrieves from it (pe.api retrieval)"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="privevo", description="Differentially private synthetic images with Private Evolution.")
    parser.add_argument("--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"])
    parser.add_argument("--threads", type=int, help="CPU threads for torch and faiss (default: their own choice); "
                        "the workflow passes each job's declared threads")
    sub = parser.add_subparsers(dest="command", required=True, metavar="<step>")

    def step(name, step_name, help_text, params=True):
        """The verb ``name`` runs privevo.steps.<step_name> (the same word with "_" for "-")."""
        if step_name != name.replace("-", "_"):
            raise ValueError(f"the verb {name!r} must run the step of the same name, not {step_name!r}")
        p = sub.add_parser(name, help=help_text, description=help_text)
        if params:
            p.add_argument("--params", default="params.yaml", help="the params file (default: params.yaml)")
            _add_overrides(p)
        p.set_defaults(step=step_name)
        return p

    step("validate-params", "validate_params", "check params.yaml against the schema and print derived settings")
    p = step("plan", "plan", "count a PE run's model calls (images, image-steps, UNet batches, embedder "
             "forwards) and project its time, without loading a model")
    cost = p.add_mutually_exclusive_group()
    cost.add_argument("--seconds-per-image-step", type=_positive_float, metavar="SECONDS",
                      help="measured cost of one image through one DDIM step (default: the measured CPU value in the "
                      "README, for the default UNet only; none for device: cuda)")
    cost.add_argument("--cost", metavar="NAME",
                      help="project with a named cost that was not measured here, derived from a cited public figure "
                      "(config/plan.py ASSUMED_SECONDS_PER_IMAGE_STEP, e.g. ddpm-cifar10-tpu-v3-8); labelled "
                      "'assumed' in the output")
    p.add_argument("--devices", type=_positive_int, nargs="+", default=[1, 8], metavar="N",
                   help="project the wall time on N devices (default: 1 8); device-hours do not depend on N")
    p.add_argument("--json", dest="json_out", help="also write the numbers as JSON here")
    p = step("prepare-data", "prepare_data", "write the private (Fashion-MNIST) and public image sets as .npz")
    p.add_argument("--out-dir", help="output folder (default: paths.data_dir)")
    p = step("pretrain", "pretrain", "pretrain the foundation DDPM on the public set only")
    p.add_argument("--public", required=True)
    p.add_argument("--out", required=True, help="diffusers model folder to write")
    p = step("model-info", "model_info", "record which foundation model a run uses (with weight hashes)")
    p.add_argument("--model", required=True, help="the diffusers model folder")
    p.add_argument("--out", required=True)
    p = step("embed-private", "embed_private", "embed the private training set (input of the DP histogram)")
    p.add_argument("--private", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--out-labels", required=True)
    p = step("calibrate", "calibrate", "privacy calculator: solve for the noise multiplier or for epsilon", params=False)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--epsilon", type=float)
    group.add_argument("--noise-multiplier", type=float)
    group.add_argument("--params", dest="params_file", help="take privacy.* and pe.num_iterations from this params file")
    _add_overrides(p)
    p.add_argument("--delta", type=float)
    p.add_argument("--num-iterations", type=int, help="PE: the number of Gaussian histogram releases T")
    p.add_argument("--sample-rate", type=float, help="DP-SGD: Poisson sampling rate q (expected batch / N)")
    p.add_argument("--steps", type=int, help="DP-SGD: number of noisy gradient steps")
    p.add_argument("--accountant", choices=["prv", "rdp"], default="prv", help="DP-SGD accountant (default prv)")
    p.add_argument("--out", help="also write the JSON record here")
    p = step("dpsgd", "dpsgd", "the DP-SGD baseline: the downstream CNN trained on the private set with opacus")
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--out-report", required=True, help="dpsgd.json: the privacy and training record (the release's report)")
    p.add_argument("--out-weights", required=True, help="model.safetensors (model.json is written next to it)")
    p.add_argument("--out-downstream", required=True, help="test accuracy (evaluation, not part of the release)")
    p.add_argument("--init-classifier", help='"PE + DP-SGD": fine-tune this CNN (trained on PE synthetic data; '
                   "its first classifier seed) instead of training from scratch; needs --pe-privacy")
    p.add_argument("--pe-privacy", help="privacy.json of the PE release the CNN was trained on: its events are composed "
                   "with DP-SGD's in one PLD accountant, and DP-SGD's noise is solved for the rest of privacy.epsilon")
    p = step("pe-init", "pe_init", "S_0: RANDOM_API samples for every class")
    p.add_argument("--model", required=True)
    p.add_argument("--public", help=PUBLIC_POOL_HELP)
    p.add_argument("--out", required=True)
    p = step("pe-lookahead", "pe_lookahead", "lookahead embeddings of a population")
    p.add_argument("--model", required=True)
    p.add_argument("--public", help=PUBLIC_POOL_HELP)
    p.add_argument("--candidates", required=True)
    p.add_argument("--iteration", type=int, required=True, help="index of the population (its degree is variation_degrees[i])")
    p.add_argument("--out", required=True)
    _add_shard(p)
    p = step("pe-histogram", "pe_histogram", "DP nearest-neighbour histogram and selection of one iteration")
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--private-embeddings", required=True)
    p.add_argument("--private-labels", required=True)
    p.add_argument("--candidates", required=True)
    p.add_argument("--lookahead", required=True)
    p.add_argument("--calibration", required=True)
    p.add_argument("--out-dir", required=True)
    p = step("pe-variation", "pe_variation", "S_t = VARIATION_API(selected samples)")
    p.add_argument("--model", required=True)
    p.add_argument("--public", help=PUBLIC_POOL_HELP)
    p.add_argument("--selected", required=True)
    p.add_argument("--iteration", type=int, required=True)
    p.add_argument("--out", required=True)
    _add_shard(p)
    p = step("pe-merge-shards", "pe_merge_shards", "merge the class shards of a generation step", params=False)
    p.add_argument("--kind", choices=["candidates", "lookahead"], required=True)
    p.add_argument("--parts", nargs="+", required=True)
    p.add_argument("--out", required=True)
    p = step("pe-release", "pe_release", "write the final synthetic set and privacy.json")
    p.add_argument("--final", required=True)
    p.add_argument("--calibration", required=True)
    p.add_argument("--out-synthetic", required=True)
    p.add_argument("--out-privacy", required=True)
    p.add_argument("--audit", help="audit.json of this run, to include in privacy.json")
    p.add_argument("--histograms", nargs="*", default=(),
                   help="the run's iter_*/histogram.npz, for the classes that fell back to uniform parents")
    p.add_argument("--data-manifest", help="data_manifest.json: its public membership record (the neighbouring relation)")
    p.add_argument("--model", help="the foundation model folder: needed when pe.release_size adds variations of S_T")
    p.add_argument("--public", help=PUBLIC_POOL_HELP)
    p = step("audit", "audit", "empirical privacy audit: a lower bound on the epsilon of one histogram release")
    p.add_argument("--candidates", required=True, help="S_0's candidates.npz (for the class labels)")
    p.add_argument("--lookahead", required=True, help="S_0's lookahead embeddings")
    p.add_argument("--calibration", required=True)
    p.add_argument("--noise-scale", type=float, default=1.0,
                   help="scale the mechanism's noise (simulates an implementation with too little noise; 1 = as accounted)")
    p.add_argument("--out", required=True)
    p = step("fid", "fid", "Frechet distance between two .npz image sets (FD-Lite0 by default; FID with Inception)",
             params=False)
    p.add_argument("first")
    p.add_argument("second")
    from privevo.embedders import EMBEDDERS

    p.add_argument("--embedder", choices=EMBEDDERS.names(), default="lite0")
    p.add_argument("--resolution", type=int, default=64)
    p.add_argument("--inception-path")
    p.add_argument("--device", default="auto")
    p.add_argument("--batch-size", type=int, default=128)
    p = step("eval-reference-stats", "eval_reference_stats", "feature statistics of the private set (evaluation)",
             params=False)
    p.add_argument("--embeddings", required=True)
    p.add_argument("--labels", required=True)
    p.add_argument("--out", required=True)
    p = step("eval-fd-curve", "eval_fd_curve", "Frechet distance of every population S_0..S_T (evaluation)")
    p.add_argument("--reference", required=True)
    p.add_argument("--private-embeddings", help="the private training set's features in the FD's space: adds "
                   "precision, recall, density and coverage (prdc) of every population")
    p.add_argument("--populations", nargs="+", required=True, help="candidates.npz of S_0, S_1, ..., S_T in order")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-png", required=True)
    p = step("eval-cleanfid-check", "eval_cleanfid_check",
             "privevo's Inception FID next to clean-fid's compute_fid on the same images (evaluation); writes a "
             "skipped record where clean-fid does not import")
    p.add_argument("--synthetic", required=True, help="synthetic.npz of the run")
    p.add_argument("--real", required=True, help="the real images (.npz) both FIDs are measured against")
    p.add_argument("--out", required=True, help="JSON with both FIDs and their difference")
    p = step("eval-downstream", "eval_downstream", "train the small CNN on a set, test on the real test split")
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--real", action="store_true", help="the training set is the real private set (reference ceiling)")
    p.add_argument("--out", required=True)
    p.add_argument("--out-curves", required=True)
    p.add_argument("--out-png", required=True)
    p.add_argument("--out-classifiers", help="save every classifier seed's CNN here (.safetensors + .json)")
    p.add_argument("--init-classifier", help='"public + PE": start every layer but the last from this CNN '
                   "(written by public-classifier)")
    p = step("public-classifier", "public_classifier",
             "train the CNN on the public set's own labels (the feature extractor of public + PE)")
    p.add_argument("--public", required=True, help="public.npz")
    p.add_argument("--out", required=True, help="classifier.safetensors (classifier.json is written next to it)")
    p = step("robustness", "robustness",
             "calibration, corruptions, FGSM/PGD and OOD detection of one saved classifier on the real test split")
    p.add_argument("--classifier", required=True, help="a .safetensors written by eval-downstream or dpsgd")
    from privevo.steps.robustness import ROBUSTNESS_METHODS

    p.add_argument("--method", required=True, choices=ROBUSTNESS_METHODS,
                   help="what the classifier was trained on (names its row in the robustness table)")
    p.add_argument("--test", required=True, help="private_test.npz")
    p.add_argument("--public", required=True, help="public.npz: its sources are the out-of-distribution sets")
    p.add_argument("--out-json", required=True)
    p.add_argument("--out-csv", required=True, help="long format: metric, corruption, severity, value")
    p.add_argument("--out-png", required=True, help="reliability diagram")
    p = step("robustness-table", "robustness_table",
             "results/robustness.{csv,md} and plots from every classifier's robustness.json", params=False)
    p.add_argument("--inputs", nargs="+", required=True)
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-corruptions-png", required=True)
    p.add_argument("--out-attacks-png", required=True)
    p.add_argument("--out-reliability-png", required=True)
    p = step("inspect", "inspect", "summarise the noisy histogram of one iteration folder", params=False)
    p.add_argument("iteration_dir")
    p.add_argument("--top", type=int, default=3)
    p.add_argument("--plot", help="save sorted noisy counts per class to this PNG")
    p.add_argument("--grid", help="save the top- and bottom-voted candidates per class to this PNG")
    p.add_argument("--voted", help="candidates.npz of the population voted on (default: the previous iteration's; "
                   "required for iteration 1, whose S_0 sits in a base folder)")
    p = step("eval-metrics", "eval_metrics", "collect the final scalars of a run into metrics.json", params=False)
    p.add_argument("--privacy", required=True)
    p.add_argument("--fd-curve", required=True)
    p.add_argument("--downstream", help="downstream.json of the run; leave out (with --real) for unlabelled data, "
                   "which trains no classifier")
    p.add_argument("--real", help="downstream.json of the CNN trained on real data; leave out with --downstream")
    p.add_argument("--run", help="the run's key (default: the privacy report's folder)")
    p.add_argument("--cleanfid-check", help="cleanfid_check.json of the run (Inception runs): both FIDs go in")
    p.add_argument("--out", required=True)
    p = step("publish", "publish", "copy a run's reports to a fixed folder for dvc metrics and plots", params=False)
    p.add_argument("--metrics", required=True)
    p.add_argument("--privacy", required=True)
    p.add_argument("--fd-curve", required=True)
    p.add_argument("--downstream-curves", required=True)
    p.add_argument("--histograms", nargs="+", required=True, help="histogram.csv of iterations 1..T, in order")
    p.add_argument("--comparison", help="comparison.csv, whose headline numbers go into metrics.json")
    p.add_argument("--out-dir", required=True)
    p = step("summary", "summary", "one table row per run (CSV and Markdown)", params=False)
    p.add_argument("--metrics", nargs="+", required=True, help="metrics.json of every run")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-md", required=True)
    p = step("compare", "compare", "one row per (method, epsilon): PE, DP-SGD, public prior, real data",
             params=False)
    p.add_argument("--pe", nargs="+", required=True, help="metrics.json of every PE run")
    p.add_argument("--prior", nargs="+", default=[], help="downstream.json of the CNN trained on each seed's S_0")
    p.add_argument("--dpsgd", nargs="*", default=[], help="dpsgd.json of every DP-SGD run")
    p.add_argument("--dpsgd-downstream", nargs="*", default=[], help="downstream.json of every DP-SGD run, same order")
    p.add_argument("--public-pe", nargs="*", default=[], help='downstream.json of every "public + PE" CNN')
    p.add_argument("--public-pe-metrics", nargs="*", default=[], help="metrics.json of the PE run of each, same order")
    p.add_argument("--mix", nargs="*", default=[], help='dpsgd.json of every "PE + DP-SGD" run')
    p.add_argument("--mix-downstream", nargs="*", default=[], help='downstream.json of every "PE + DP-SGD" run, same order')
    p.add_argument("--real", required=True, help="downstream.json of the CNN trained on real data")
    p.add_argument("--out-csv", required=True)
    p.add_argument("--out-md", required=True)
    p.add_argument("--out-png", required=True)
    p = step("ledger", "ledger", "the privacy ledger: every release, their composed cost, and the odometer's view "
             "of every charge ever made on the private data set")
    p.add_argument("--releases", nargs="*", default=(), help="privacy.json / dpsgd.json of every release")
    p.add_argument("--out", required=True)
    p.add_argument("--out-md", required=True)
    return parser


def run_step(args: argparse.Namespace) -> int:
    """Call the step the verb names with the parsed arguments as its keyword inputs; a step whose first input is
    ``params`` gets the params file loaded, validated and resolved at its epsilon."""
    import inspect

    from privevo.steps import step_function

    function = step_function(args.step)
    positional, keywords = [], {}
    for name, parameter in inspect.signature(function).parameters.items():
        if parameter.kind is parameter.POSITIONAL_OR_KEYWORD and name == "params":
            from privevo.config.params import load_params

            positional.append(load_params(args.params, args.overrides, at_epsilon=True))
        elif hasattr(args, name):
            keywords[name] = getattr(args, name)
        elif parameter.default is parameter.empty:
            raise TypeError(f"step {args.step} needs {name!r}, which its verb does not define")
    function(*positional, **keywords)
    return 0


def main(argv: list[str] | None = None) -> int:
    from privevo.accountants.validation import AccountingError
    from privevo.io.images import ArtifactError
    from privevo.config.params import ParamsError
    from privevo.data import DataSourceError
    from privevo.pe.histogram import EmptyHistogramError

    args = build_parser().parse_args(argv)
    _configure_logging(args.log_level)
    if args.threads:
        from privevo.core.devices import set_cpu_threads

        set_cpu_threads(args.threads)
    start = time.perf_counter()
    try:
        code = run_step(args)
    except (ParamsError, FileNotFoundError, EmptyHistogramError, DataSourceError, ArtifactError,
            AccountingError) as exc:
        # Bad input is the user's to fix: one line naming it, no traceback.
        logger.error("%s", exc)
        return 2
    from privevo.core.timing import model_totals

    totals = model_totals()
    wall = time.perf_counter() - start
    logger.info("step %s finished in %.1f s (model forward passes: %s)", args.command, wall,
                ", ".join(f"{k} {v:.1f} s" for k, v in totals.items()) or "none")
    # One machine-readable line per step for benchmarks/; process_seconds counts from the import of this
    # module (so it includes the lazy imports of torch etc. and model loading, not interpreter start-up).
    logger.info("%s%s", TIMING_PREFIX, json.dumps({"step": args.command, "step_seconds": round(wall, 3),
                "process_seconds": round(time.time() - _PROCESS_START, 3),
                "model_seconds": {k: round(v, 3) for k, v in totals.items()}}))
    return code
