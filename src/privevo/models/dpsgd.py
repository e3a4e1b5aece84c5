"""DP-SGD baseline: :class:`~privevo.models.classifier.SmallCNN` trained directly on the private images.

Opacus 1.6 does the per-example clipping and adds the Gaussian noise; the privacy accounting is
:func:`privevo.accountants.calibration.calibrate_sgd` (named accountant, PLD cross-check) and Opacus' own
accountant is read back after training as a third check.

What makes the stated epsilon hold (SPEC section 4):

- Poisson sampling: each logical step includes each private image independently with probability
  ``sample_rate = expected_batch_size / N``; an "epoch" is ``int(1 / sample_rate)`` such steps (Opacus'
  convention), so ``steps = epochs * int(1 / sample_rate)``, exactly the number of noisy updates made.
  The logical batch is split into physical batches of at most ``physical_batch_size`` (Opacus'
  BatchMemoryManager); clipping and noise act on the logical batch only.
- The batch sampling draws from a ``torch.Generator`` seeded from OS entropy (``os.urandom``), never
  stored or logged: amplification by subsampling needs the sampling to be secret too. The gradient
  noise follows the one DP noise policy (``privevo.pe.noise``): by default a ``torch.Generator`` seeded
  from OS entropy too; given ``noise`` (the caller's ``privevo.pe.noise.dp_noise_source(privacy)``, e.g.
  the secure source of ``privacy.secure_noise``), every noise value is drawn from it instead, through
  Opacus' noise hook (``DPOptimizer.add_noise``). Only the weight initialisation derives from ``seed``
  (role "classifier"), so two runs with the same seed start from the same weights but never end at the
  same ones.
- No model selection within a run: there is no validation split and the last step's weights are
  kept (picking an epoch on private validation data would spend privacy that nothing accounts for).
  The defaults themselves were chosen on a validation split of the private training set: that choice is
  not accounted, and every record lists it (``selected_on_private_data``, from
  :data:`privevo.models.dpsgd_settings.SELECTED_ON_PRIVATE_DATA`).

What the record does not hold (SPEC section 4: nothing computed on private data without noise is released):
no loss, accuracy or example count of the training batches (they are computed on private batches without
noise), neither in the record nor in the progress bar or the logs, and not the number N of private training
images. The sample rate q = expected_batch_size / N is part of the accounting and is written, so N can be
read back from it; as in Opacus and the DP-SGD literature the accounting treats N as public, and the record
says so (``data_set_size``).

The gradient noise is a continuous Gaussian drawn in floating point, never an exact (discrete) sampler; Opacus'
``secure_mode`` needs torchcsprng, which has no wheel for Python 3.11 / torch 2.13, so it is never used. The
noise values are never released directly: only the final weights after all the noisy steps. The record's
``noise`` says all this, with the source.

``poisson_sampling=False`` trains on shuffled fixed-size batches instead; the accounting is the same
Poisson analysis, which then is not a proven bound, and the record carries a warning saying so.
"""

from __future__ import annotations

import copy
import importlib.util
import logging
import math
import os
import sys
import time
import warnings
from collections.abc import Sequence
from typing import Any, Callable, Protocol

import numpy as np
import torch
import torch.nn.functional as F
from tqdm.auto import tqdm

from privevo.accountants.analysis.pld import compose_epsilon
from privevo.accountants.calibration import calibrate_sgd, calibrate_sgd_after, epsilon_for
from privevo.core.seeding import torch_seed
from privevo.core.timing import model_time
from privevo.io.images import check_labels
from privevo.models.classifier import SmallCNN, _check_input_images, _to_tensor, num_parameters
from privevo.models.dpsgd_settings import (DEFAULT_EPOCHS, DEFAULT_EXPECTED_BATCH_SIZE, DEFAULT_LEARNING_RATE,
                                           DEFAULT_MAX_GRAD_NORM, DEFAULT_MOMENTUM, DEFAULT_OPTIMIZER,
                                           DEFAULT_PHYSICAL_BATCH_SIZE, selected_on_private_data_record)

logger = logging.getLogger("privevo.models.dpsgd")

# The defaults, and which of them were chosen on private data (a validation split of the private training set,
# not accounted), live in privevo.models.dpsgd_settings: one list that dpsgd.json and privacy.json both read.
OPTIMIZERS = ("sgd", "adam")
OPACUS_ACCOUNTANTS = ("prv", "rdp")

SHUFFLED_WARNING = ("accounting assumes Poisson sampling; shuffled fixed-size batches were used, so the stated "
                    "epsilon is not a proven bound")
MODEL_SELECTION = ("none within the run: the weights after the last step are kept; no private validation split is "
                   "carved, since choosing an epoch on private data would spend privacy that is not accounted (the "
                   "defaults were chosen on private data: see selected_on_private_data)")
DATA_SET_SIZE = ("the number N of private training images is not written, but sample_rate = expected_batch_size / N "
                 "reveals it (N = expected_batch_size / sample_rate; steps_per_epoch reveals it roughly too). The "
                 "accounting treats the data set size as public, as Opacus and the DP-SGD literature do (Abadi et al. "
                 "2016): a known caveat under add/remove-one neighbouring, where neighbouring data sets differ in "
                 "size, so the stated epsilon does not cover what q says about N")
RANDOMNESS = ("batch sampling from a torch.Generator seeded by os.urandom (not stored); gradient noise from the DP "
              "noise source (see noise); weight initialisation from the seed (role 'classifier')")
RANDOMNESS_FINE_TUNED = ("batch sampling from a torch.Generator seeded by os.urandom (not stored); gradient noise from "
                         "the DP noise source (see noise); initial weights copied from initial_model (fine-tuning; the "
                         "seed is not used)")
DEFAULT_NOISE = {
    "source": "os-entropy",
    "description": "torch.normal from a torch.Generator (Opacus' own noise draw) seeded by 8 bytes of os.urandom per "
                   "run, never stored",
}
NOISE_HOOK = "every noise value drawn from the source, per parameter tensor at every step (Opacus' DPOptimizer.add_noise)"
# What Opacus (and privevo's draw through its noise hook) can and cannot offer here, whatever the source.
NOISE_DISTRIBUTION = ("continuous Gaussian N(0, (noise_multiplier * max_grad_norm)^2) added to every coordinate of the "
                      "summed clipped per-example gradients of each logical batch, at every step")
NOISE_SAMPLER = ("sampled in floating point (a floating-point Gaussian, not an exact discrete sampler); the "
                 "floating-point attacks on noise samplers (Mironov 2012; Jin et al. 2022) are not ruled out by "
                 "construction")
NOISE_RELEASED = ("never directly: each noise value is added to one step's summed gradient inside the process; only "
                  "the final weights after all the noisy steps are released (model.safetensors), no gradient, noise "
                  "value or intermediate weights")
SECURE_MODE = ("not used: Opacus' secure_mode needs torchcsprng, which has no wheel for Python 3.11 / torch 2.13; "
               "privacy.secure_noise instead switches to privevo's own source (privevo.pe.noise), whose description "
               "above says what it does, and which is floating point too")
NOISE_PRECISION = {
    None: "torch.normal in the gradient's dtype (float32), from the generator above",
    "source": "float64 from the source, cast to the gradient's dtype (float32) and added to it",
}


class NoiseSource(Protocol):
    """A DP noise source of the one policy (``privevo.pe.noise``: EntropyNoise, SecureNoise), passed in by the
    caller since models do not import pe."""

    name: str
    description: str
    is_dp: bool

    def gaussian(self, sigma: float, size: int) -> np.ndarray:
        """``size`` independent N(0, sigma^2) values as float64."""


def _os_entropy_generator() -> torch.Generator:
    """A CPU ``torch.Generator`` seeded from 8 bytes of OS entropy; the seed is neither kept nor logged."""
    return torch.Generator().manual_seed(int.from_bytes(os.urandom(8), "little"))


def noise_record(noise: NoiseSource | None) -> dict:
    """What dpsgd.json says about the gradient noise: its source, that its seed is never stored, and what the noise
    is and is not (floating point, no secure_mode, never released directly)."""
    if noise is None:
        record = {**DEFAULT_NOISE, "seed_stored": False, "drawn": "by Opacus (DPOptimizer.add_noise)",
                  "precision": NOISE_PRECISION[None]}
    else:
        record = {"source": noise.name, "description": noise.description, "seed_stored": False, "drawn": NOISE_HOOK,
                  "precision": NOISE_PRECISION["source"]}
    record.update({
        "distribution": NOISE_DISTRIBUTION,
        "exact_sampler": False,
        "sampler": NOISE_SAMPLER,
        "opacus_secure_mode": SECURE_MODE,
        "runtime": {"python": f"{sys.version_info.major}.{sys.version_info.minor}", "torch": torch.__version__,
                    "torchcsprng_installed": importlib.util.find_spec("torchcsprng") is not None},
        "released": NOISE_RELEASED,
    })
    return record


def _draw_noise_from(noise: NoiseSource, optimizer) -> None:
    """Replace Opacus' noise draw of ``optimizer`` (a DPOptimizer) by draws from ``noise``: the same step as
    ``DPOptimizer.add_noise`` (std noise_multiplier * max_grad_norm added to each summed clipped gradient)."""
    from opacus.optimizers.optimizer import _check_processed_flag, _mark_as_processed

    def add_noise() -> None:
        std = optimizer.noise_multiplier * optimizer.max_grad_norm
        for p in optimizer.params:
            _check_processed_flag(p.summed_grad)
            summed = p.summed_grad
            values = np.asarray(noise.gaussian(std, summed.numel()), dtype=np.float64)
            if values.shape != (summed.numel(),):
                raise RuntimeError(f"noise source {noise.name} drew {values.shape} values for {summed.numel()}")
            drawn = torch.from_numpy(values).to(dtype=summed.dtype, device=summed.device).view_as(summed)
            p.grad = (summed + drawn).view_as(p)
            _mark_as_processed(p.summed_grad)

    optimizer.add_noise = add_noise


def _check_int(name: str, value: int, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def _check_float(name: str, value: float) -> float:
    value = float(value)
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be a positive finite number, got {value!r}")
    return value


def _make_optimizer(name: str, params, learning_rate: float, momentum: float) -> torch.optim.Optimizer:
    if name == "sgd":
        return torch.optim.SGD(params, lr=learning_rate, momentum=momentum)
    if name == "adam":
        return torch.optim.Adam(params, lr=learning_rate)
    raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {name!r}")


def train_dpsgd(
    train_images: np.ndarray,
    train_labels: np.ndarray,
    *,
    epsilon: float,
    delta: float,
    seed: int,
    epochs: int = DEFAULT_EPOCHS,
    expected_batch_size: int = DEFAULT_EXPECTED_BATCH_SIZE,
    physical_batch_size: int = DEFAULT_PHYSICAL_BATCH_SIZE,
    max_grad_norm: float = DEFAULT_MAX_GRAD_NORM,
    learning_rate: float = DEFAULT_LEARNING_RATE,
    accountant: str = "prv",
    poisson_sampling: bool = True,
    optimizer: str = DEFAULT_OPTIMIZER,
    momentum: float = DEFAULT_MOMENTUM,
    num_classes: int | None = None,
    progress: bool | None = None,
    initial_model: SmallCNN | None = None,
    prior_events: Sequence[dict] = (),
    noise: NoiseSource | None = None,
    before_noise: Callable[[dict], None] | None = None,
) -> tuple[SmallCNN, dict[str, Any]]:
    """Train :class:`SmallCNN` with DP-SGD to (``epsilon``, ``delta``)-DP on the private training images.

    The noise multiplier is calibrated by :func:`~privevo.accountants.calibration.calibrate_sgd` for
    ``sample_rate = expected_batch_size / N`` and ``steps = epochs * int(1 / sample_rate)`` (with
    ``poisson_sampling=False``: ``epochs * ceil(N / expected_batch_size)`` shuffled batches), exactly the
    number of noisy updates made; the record's ``epsilon`` is at most ``epsilon``. ``optimizer``
    is "sgd" (with ``momentum``) or "adam", with a constant ``learning_rate``; the input normalisation
    is classifier.py's. The defaults are the proposed Fashion-MNIST settings (see the module constants).

    Mixing ("PE + DP-SGD"): with ``initial_model`` (e.g. a SmallCNN trained on PE's synthetic images), DP-SGD
    fine-tunes a copy of it (all its parameters, on the CPU; the caller's model is left unchanged) instead of
    a fresh seeded initialisation. With ``prior_events`` (releases already made from the same private data,
    event dicts of :func:`~privevo.accountants.analysis.pld.compose_epsilon`, e.g. PE's
    ``{"kind": "gaussian", "noise_multiplier": sigma_PE, "count": T}``), the noise is calibrated by
    :func:`~privevo.accountants.calibration.calibrate_sgd_after` so that the PLD composition of the prior events
    and the DP-SGD steps is at most ``epsilon`` (the *total*); the record's ``epsilon`` is then the composed
    one, ``events`` lists both parts, ``prior_epsilon`` and ``dpsgd_epsilon`` are each part alone, and
    ``named_accountant_check`` is the named ``accountant``'s epsilon of the DP-SGD part alone. With neither,
    training is exactly the plain baseline's.

    ``noise``: the source of the gradient noise, from the one DP noise policy (the caller passes
    ``privevo.pe.noise.dp_noise_source(params["privacy"])``, so ``privacy.secure_noise`` reaches DP-SGD);
    None draws it as Opacus does, from a ``torch.Generator`` seeded from OS entropy. Either way the seed
    is never stored, and the record's ``noise`` names the source.

    Returns ``(model, record)``: the model in eval mode (plain SmallCNN, Opacus hooks removed) and a
    JSON-ready record with everything that changes epsilon (sampling, sample_rate, steps, noise_multiplier,
    max_grad_norm, accountant), the accountants' epsilons (named, PLD cross-check, Opacus' own after
    training), the noise source and what the noise is (``noise``), training settings, the settings chosen on private
    data (``selected_on_private_data``), what q says about N (``data_set_size``), parameter count, wall time and any
    ``warnings``. No loss, accuracy or example count of the private training batches, and not N.
    """
    from opacus import PrivacyEngine
    from opacus.data_loader import DPDataLoader
    from opacus.utils.batch_memory_manager import BatchMemoryManager
    from torch.utils.data import DataLoader, TensorDataset

    start = time.perf_counter()
    images = _check_input_images(train_images, "train_images")
    labels = check_labels(np.asarray(train_labels), num_images=images.shape[0], num_classes=num_classes,
                          name="train_labels")
    # None: the classes the labels show (give the data's class count where a class may have no example).
    num_classes = int(labels.max()) + 1 if num_classes is None else int(num_classes)
    n = int(images.shape[0])
    epochs = _check_int("epochs", epochs)
    expected_batch_size = _check_int("expected_batch_size", expected_batch_size)
    physical_batch_size = _check_int("physical_batch_size", physical_batch_size)
    max_grad_norm = _check_float("max_grad_norm", max_grad_norm)
    learning_rate = _check_float("learning_rate", learning_rate)
    if optimizer not in OPTIMIZERS:
        raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {optimizer!r}")
    if expected_batch_size > n:
        raise ValueError(f"expected_batch_size {expected_batch_size} exceeds the {n} training images")
    if initial_model is not None:
        if type(initial_model) is not SmallCNN:
            raise ValueError(f"initial_model must be a plain SmallCNN, got {type(initial_model).__name__}")
        expected_shape = (int(images.shape[1]), int(images.shape[2]), int(images.shape[3]))
        if tuple(initial_model.input_shape) != expected_shape or initial_model.num_classes != num_classes:
            raise ValueError(f"initial_model takes {tuple(initial_model.input_shape)} images (H, W, C) with "
                             f"{initial_model.num_classes} classes; the training data has {expected_shape} with "
                             f"{num_classes}")
    if noise is not None and not (isinstance(getattr(noise, "name", None), str) and callable(getattr(noise, "gaussian", None))):
        raise ValueError(f"noise must be a DP noise source (privevo.pe.noise.dp_noise_source), got {noise!r}")
    if noise is not None and getattr(noise, "is_dp", False) is not True:
        raise ValueError(f"noise {noise.name!r} is not a DP noise source (is_dp is not True, e.g. derivable from a "
                         "seed): DP-SGD's noise must come from privevo.pe.noise.dp_noise_source")
    if isinstance(prior_events, (str, bytes, dict)):
        raise ValueError(f"prior_events must be a sequence of event dicts, got {prior_events!r}")
    prior_events = list(prior_events)

    sample_rate = expected_batch_size / n
    dataset = TensorDataset(_to_tensor(images), torch.from_numpy(labels))
    sampling_generator = _os_entropy_generator()
    if poisson_sampling:
        loader = DPDataLoader(dataset, sample_rate=sample_rate, generator=sampling_generator)
    else:
        loader = DataLoader(dataset, batch_size=expected_batch_size, shuffle=True, generator=sampling_generator)
    steps_per_epoch = len(loader)
    steps = epochs * steps_per_epoch

    if prior_events:
        privacy = calibrate_sgd_after(prior_events, sample_rate=sample_rate, steps=steps, delta=delta, epsilon=epsilon)
        # the named accountant on the DP-SGD part alone (PLD is the accountant of the composition)
        named_check = {"accountant": accountant, "what": "epsilon of the DP-SGD steps alone",
                       "epsilon": epsilon_for(sample_rate=sample_rate, noise_multiplier=privacy["noise_multiplier"],
                                              steps=steps, delta=delta, accountant=accountant),
                       "pld_epsilon": privacy["dpsgd_epsilon"]}
    else:
        privacy = calibrate_sgd(sample_rate=sample_rate, steps=steps, delta=delta, epsilon=epsilon,
                                accountant=accountant)
    noise_multiplier = privacy["noise_multiplier"]
    if before_noise is not None:
        # The caller charges the release (the privacy odometer) before a single noise value is drawn.
        before_noise({"kind": "poisson_gaussian", "sample_rate": float(sample_rate),
                      "noise_multiplier": float(noise_multiplier), "count": int(steps)})
    record_warnings: list[str] = []
    if not poisson_sampling:
        record_warnings.append(SHUFFLED_WARNING)
        logger.warning("DP-SGD: %s", SHUFFLED_WARNING)
    # no N here: q is what the accounting reads (and, as the record says, it reveals N at full precision)
    logger.info("DP-SGD seed %d: q=%.5g, %d steps (%d epochs), noise_multiplier %.4f for epsilon %.3g",
                seed, sample_rate, steps, epochs, noise_multiplier, privacy["epsilon"])

    opacus_accountant = accountant if accountant in OPACUS_ACCOUNTANTS else "prv"
    epoch_seconds: list[float] = []
    with torch.random.fork_rng(devices=[]), warnings.catch_warnings():
        # noise comes from the DP noise source or an OS-entropy-seeded generator (see the module docstring); Opacus'
        # secure_mode would need torchcsprng, which has no build for this Python / torch
        warnings.filterwarnings("ignore", message=".*[Ss]ecure RNG.*")
        warnings.filterwarnings("ignore", message="Full backward hook is firing")  # the first conv's input
        if initial_model is None:
            torch.manual_seed(torch_seed(seed, role="classifier"))
            model = SmallCNN(images.shape[-1], num_classes, images.shape[1:3])
        else:  # fine-tune a copy: the caller's model (and its parameters) stay untouched
            model = copy.deepcopy(initial_model).to("cpu").train()
            model.requires_grad_(True)
        opt = _make_optimizer(optimizer, model.parameters(), learning_rate, momentum)
        engine = PrivacyEngine(accountant=opacus_accountant)
        private_model, opt, loader = engine.make_private(
            module=model, optimizer=opt, data_loader=loader, noise_multiplier=noise_multiplier,
            max_grad_norm=max_grad_norm, poisson_sampling=False,  # the loader above already samples
            noise_generator=_os_entropy_generator() if noise is None else None)
        if noise is not None:
            _draw_noise_from(noise, opt)
        # make_private assumes sample_rate = 1 / len(loader); the exact rate is expected_batch_size / n.
        opt.expected_batch_size = expected_batch_size
        accountant_hook = engine.accountant.get_optimizer_hook_fn(sample_rate=sample_rate)
        steps_taken = 0

        def on_step(optim) -> None:
            nonlocal steps_taken
            steps_taken += 1
            accountant_hook(optim)
            bar.update(1)

        opt.attach_step_hook(on_step)
        if poisson_sampling:
            private_model.forbid_grad_accumulation()

        bar = tqdm(total=steps, desc=f"DP-SGD seed {seed}", unit="step", leave=False,
                   disable=None if progress is None else not progress)
        # No loss, accuracy or example count of the private batches is kept, shown or logged: they are computed on
        # private data without noise (SPEC section 4). The bar shows steps and the epoch only.
        for epoch in range(1, epochs + 1):
            epoch_start = time.perf_counter()
            private_model.train()
            with BatchMemoryManager(data_loader=loader, max_physical_batch_size=physical_batch_size,
                                    optimizer=opt) as physical_loader:
                for xb, yb in physical_loader:
                    with model_time("classifier"):
                        opt.zero_grad(set_to_none=True)
                        logits = private_model(xb)
                        # the mean, written so that an empty Poisson batch gives 0 (and a noise-only step), not NaN
                        loss = F.cross_entropy(logits, yb, reduction="sum") / max(int(yb.shape[0]), 1)
                        loss.backward()
                        opt.step()
            epoch_seconds.append(time.perf_counter() - epoch_start)
            bar.set_postfix(epoch=epoch)
        bar.close()
        model = private_model.to_standard_module()

    if steps_taken != steps:
        raise RuntimeError(f"DP-SGD took {steps_taken} noisy steps but was calibrated for {steps}")
    opacus_epsilon = float(engine.accountant.get_epsilon(delta))
    if prior_events:  # the composition again, with the steps actually taken
        final_epsilon = compose_epsilon(
            privacy["prior_events"] + [{"kind": "poisson_gaussian", "sample_rate": sample_rate,
                                        "noise_multiplier": noise_multiplier, "count": steps_taken}],
            delta=delta, discretization=privacy["value_discretization_interval"])
    else:
        final_epsilon = epsilon_for(sample_rate=sample_rate, noise_multiplier=noise_multiplier, steps=steps_taken,
                                    delta=delta, accountant=accountant)
    model.eval()
    model.selected_epoch = epochs
    model.split_sizes = {"train": n, "val": 0}
    wall = time.perf_counter() - start
    record: dict[str, Any] = {
        "method": "dpsgd",
        "epsilon": privacy["epsilon"],
        "delta": privacy["delta"],
        "target_epsilon": float(epsilon),
        "accountant": privacy["accountant"] if prior_events else accountant,
        "accountant_description": privacy["accountant_description"],
        "accountant_epsilon": privacy["accountant_epsilon"],
        "accountant_epsilon_after_training": final_epsilon,
        "epsilon_source": privacy["epsilon_source"],
        "cross_check": privacy["cross_check"],
        "opacus_check": {"accountant": f"opacus.accountants.{opacus_accountant}", "epsilon": opacus_epsilon},
        "neighbouring": privacy["neighbouring"],
        "sampling": "poisson" if poisson_sampling else "shuffled fixed-size batches",
        "accounting_sampling": privacy["sampling"],
        "sample_rate": sample_rate,
        "data_set_size": DATA_SET_SIZE,
        "steps": steps_taken,
        "steps_per_epoch": steps_per_epoch,
        "epochs": epochs,
        "expected_batch_size": expected_batch_size,
        "physical_batch_size": physical_batch_size,
        "noise_multiplier": noise_multiplier,
        "max_grad_norm": max_grad_norm,
        "clipping": "flat per-example L2",
        "learning_rate": learning_rate,
        "optimizer": {"name": optimizer, **({"momentum": momentum} if optimizer == "sgd" else {}),
                      "schedule": "constant"},
        "model": type(model).__name__,
        "num_parameters": num_parameters(model),
        "model_selection": MODEL_SELECTION,
        "selected_on_private_data": selected_on_private_data_record({
            "epochs": epochs, "expected_batch_size": expected_batch_size, "learning_rate": learning_rate,
            "optimizer": optimizer}),
        "randomness": RANDOMNESS,
        "noise": noise_record(noise),
        "seed": int(seed),
        "wall_seconds": wall,
        "seconds_per_epoch": float(np.mean(epoch_seconds)),
        "warnings": record_warnings,
    }
    if prior_events:
        record["opacus_check"]["what"] = "epsilon of the DP-SGD steps alone (Opacus does not see the prior events)"
        record.update({
            "composition": privacy["composition"],
            "value_discretization_interval": privacy["value_discretization_interval"],
            "prior_epsilon": privacy["prior_epsilon"],
            "dpsgd_epsilon": privacy["dpsgd_epsilon"],
            "named_accountant_check": named_check,
            "prior_events": privacy["prior_events"],
            "dpsgd_events": privacy["dpsgd_events"],
            "events": privacy["events"],
        })
    if initial_model is not None:
        record["initialisation"] = "copy of initial_model (fine-tuned with DP-SGD)"
        record["randomness"] = RANDOMNESS_FINE_TUNED
    logger.info("DP-SGD seed %d: epsilon %.4g (%s), PLD %.4g, Opacus %.4g, noise %s, %.0f s", seed, record["epsilon"],
                accountant, record["cross_check"]["epsilon"], opacus_epsilon, record["noise"]["source"], wall)
    return model, record
