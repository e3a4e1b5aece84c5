"""Expand a params file into the runs of its sweep: every (epsilon, seed) pair, with the keys they share.

A run reaches each ``privevo <step>`` as overrides of the one params file (``--set seed=1 --set
privacy.epsilon=10``), so params.yaml stays the single source of settings.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field, replace

from privevo.config.layout import Layout
from privevo.config.params import (apply_override, fd_embedding_name, mix_pe_epsilon, number_tag, settings_at_epsilon,
                                   validate_params)

# Which overrides each artifact family's steps get: work above the PE seed only sees the model seed.
FAMILIES = ("data", "model", "embedding", "base", "run", "dpsgd", "real", "evaluation", "mix", "public")
MODEL_FAMILIES = ("data", "model", "embedding", "real", "public")


@dataclass(frozen=True)
class Run:
    """One point of a sweep: resolved params (its seed and epsilon set) and where its artifacts live."""

    seed: int
    model_seed: int
    epsilon: float | None
    params: dict = field(repr=False)
    model_params: dict = field(repr=False)
    layout: Layout = field(repr=False)
    # A pe.by_epsilon entry gives this run another S_0 than pe.* would (population size, lookahead, degree_1).
    s0_from_entry: bool = False
    # Set on fd_embedding_view(): the embedder its embedding step must use in place of embedding.name.
    embedding_name: str | None = None

    @property
    def key(self) -> str:
        return self.layout.run_key

    def overrides(self, family: str = "run") -> list[str]:
        """The ``--set`` values a step of ``family`` needs to see this run's settings."""
        if family not in FAMILIES:
            raise KeyError(f"unknown artifact family {family!r}; expected one of {FAMILIES}")
        if family in MODEL_FAMILIES:
            name = [f"embedding.name={self.embedding_name}"] if family == "embedding" and self.embedding_name else []
            return [f"seed={self.model_seed}", *name]
        values = [f"seed={self.seed}"]
        # S_0 ("base") is epsilon-free unless a pe.by_epsilon entry changes it; only then does its step get the
        # epsilon, so an entry that leaves S_0 alone does not change (and rerun) the S_0 jobs' commands.
        epsilon_families = ("run", "dpsgd", "evaluation", "mix") + (("base",) if self.s0_from_entry else ())
        if self.epsilon is not None and family in epsilon_families:
            values.append(f"privacy.epsilon={number_tag(self.epsilon)}")
        return values

    def params_for(self, family: str) -> dict:
        """The params a step of ``family`` sees (the model seed for data, model and embeddings)."""
        return self.model_params if family in MODEL_FAMILIES else self.params

    def cli(self, family: str = "run") -> str:
        return " ".join(f"--set {shlex.quote(value)}" for value in self.overrides(family))

    def fd_embedding_view(self) -> "Run":
        """This run as the step that embeds the private set in its FD's space sees it (evaluation.fd_embedding):
        embedding.name replaced, so its layout's embedding key is this run's fd_embedding key."""
        name = fd_embedding_name(self.params)
        params = apply_override(self.params, f"embedding.name={name}")
        model_params = apply_override(self.model_params, f"embedding.name={name}")
        return replace(self, params=params, model_params=model_params,
                       layout=Layout(model_params, model_seed=self.model_seed), embedding_name=name)


def _resolve(params: dict, epsilon: float | None, seed: int) -> dict:
    """``params`` (pe.by_epsilon unapplied) at one seed and epsilon, with that epsilon's pe settings applied."""
    resolved = apply_override(params, f"seed={seed}")
    if epsilon is not None:
        resolved = apply_override(resolved, f"privacy.epsilon={number_tag(epsilon)}")
    return settings_at_epsilon(validate_params(resolved))


def _run(params: dict, epsilon: float | None, seed: int) -> Run:
    model_seed = seed if params["sweep"]["model_seeds"] else params["seed"]
    resolved = _resolve(params, epsilon, seed)
    model_params = settings_at_epsilon(validate_params(apply_override(params, f"seed={model_seed}")))
    # The PE part of this run's "PE + DP-SGD" is the same params at pe_fraction * epsilon, resolved from the
    # unapplied params: its pe.by_epsilon entry (or none) decides its folder.
    pe_epsilon = mix_pe_epsilon(resolved)
    mix_pe_run = None
    if pe_epsilon is not None and params["pe"]["by_epsilon"]:
        pe_key = Layout(_resolve(params, pe_epsilon, seed), model_seed=model_seed).run_key
        mix_pe_run = f"{pe_key.split('/', 1)[0]}/eps_{number_tag(pe_epsilon)}"
    layout = Layout(resolved, model_seed=model_seed, mix_pe_run=mix_pe_run)
    s0_from_entry = False
    if params["pe"]["by_epsilon"]:
        file_settings = {**resolved, "pe": {**params["pe"], "by_epsilon": []}}  # the file's pe.*, no entry applied
        s0_from_entry = Layout(file_settings, model_seed=model_seed).keys["base"] != layout.keys["base"]
    return Run(seed=int(seed), model_seed=int(model_seed), epsilon=None if epsilon is None else float(epsilon),
               params=resolved, model_params=model_params, layout=layout, s0_from_entry=s0_from_entry)


def expand_sweep(params: dict) -> list[Run]:
    """Every (epsilon, seed) of ``params['sweep']``, epsilons outer; null lists mean the params' own value.

    ``params`` as load_params returns them by default: pe.by_epsilon unapplied, so each run resolves its own.
    """
    sweep = params["sweep"]
    epsilons = sweep["epsilons"] if sweep["epsilons"] is not None else [params["privacy"]["epsilon"]]
    seeds = sweep["seeds"] if sweep["seeds"] is not None else [params["seed"]]
    return [_run(params, epsilon, seed) for epsilon in epsilons for seed in seeds]


@dataclass(frozen=True)
class Mix:
    """ "PE + DP-SGD" at ``total``'s epsilon: the CNN trained on ``pe``'s synthetic set (the same seed at
    mixing.pe_fraction * epsilon), fine-tuned with DP-SGD on the rest of the budget."""

    total: Run
    pe: Run


def expand_mixes(params: dict, runs: list[Run]) -> list[Mix]:
    """One Mix per run whose epsilon is among mixing.epsilons (null: all); none when mixing is off."""
    mixing = params["mixing"]
    if not mixing["enabled"]:
        return []
    wanted = None if mixing["epsilons"] is None else {float(e) for e in mixing["epsilons"]}
    mixes = []
    for run in runs:
        if run.epsilon is None or (wanted is not None and run.epsilon not in wanted):
            continue
        pe_epsilon = mix_pe_epsilon(run.params)
        same = [r for r in runs if r.seed == run.seed and r.epsilon == pe_epsilon]
        mixes.append(Mix(total=run, pe=same[0] if same else _run(params, pe_epsilon, run.seed)))
    return mixes


class Sweep:
    """The runs of one params file, and lookups from an artifact key (a Snakemake wildcard) to a run using it."""

    def __init__(self, params: dict):
        self.params = params
        self.runs = expand_sweep(params)
        self.primary = self.runs[0]
        self.mixes = expand_mixes(params, self.runs)
        # PE runs that only feed a mix (their epsilon is not in the sweep) are releases too: the workflow runs,
        # evaluates and accounts them like the sweep's own.
        extra = {mix.pe.key: mix.pe for mix in self.mixes if mix.pe.key not in {run.key for run in self.runs}}
        self.pe_runs = self.runs + list(extra.values())

    def keys(self, family: str) -> list[str]:
        """The distinct keys of ``family`` (e.g. one model for every seed unless sweep.model_seeds)."""
        return list(dict.fromkeys(run.layout.keys[family] for run in self.runs))

    def mix_for(self, key: str) -> Mix:
        for mix in self.mixes:
            if mix.total.layout.keys["mix"] == key:
                return mix
        raise KeyError(f"no mix of this sweep has key {key!r}")

    def run_for(self, family: str, key: str) -> Run:
        """A run whose ``family`` artifact has ``key``: they all agree on that artifact's settings.

        An embedding key that only names an FD feature space (evaluation.fd_embedding) gives that run's view with
        the FD's embedder, so one rule makes the private embeddings of both spaces."""
        for run in self.pe_runs:
            if run.layout.keys[family] == key:
                return run
        if family == "embedding":
            for run in self.pe_runs:
                if run.layout.keys["fd_embedding"] == key:
                    return run.fd_embedding_view()
        raise KeyError(f"no run of this sweep has {family} key {key!r}")

    def layouts(self) -> list[Layout]:
        return [run.layout for run in self.runs]
