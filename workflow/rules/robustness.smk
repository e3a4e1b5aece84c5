# Robustness of every trained classifier (PE synthetic, public prior, non-private real, DP-SGD) on the real
# test split: calibration, common corruptions, FGSM/PGD, out-of-distribution AUROC against each public source.
# Evaluation: reads the private test split and is NOT part of any DP release (rule names start with eval_).
# Reads:  <classifier folder>/classifiers.safetensors (or DP-SGD's model.safetensors), the evaluation set (private_test.npz or, with evaluation.split: validation, private_validation.npz), public.npz
# Writes: <classifier folder>/robustness-<robustness>/{robustness.json, robustness.csv, reliability.png},
#         results/robustness.{csv,md}, results/robustness_{corruptions,attacks,reliability}.png
ROBUSTNESS_ENABLED = config["robustness"]["enabled"]
ROBUSTNESS_FILES = ("robustness.json", "robustness.csv", "reliability.png")


def robustness_outputs(folder):
    return dict(zip(("summary", "rows", "reliability"), (f"{folder}/{name}" for name in ROBUSTNESS_FILES)))


ROBUSTNESS_SHELL = (
    "{PRIVEVO} --threads {threads} robustness {PARAMS} {params.run} --method {params.method} "
    "--classifier {input.classifier} --test {input.test} --public {input.public} --out-json {output.summary} "
    "--out-csv {output.rows} --out-png {output.reliability} > {log} 2>&1"
)


rule robustness:
    """The CNN trained on the run's synthetic set (its first classifier seed)."""
    input:
        classifier=P.classifiers,
        test=lambda w: layout_of("run")(w).evaluation_set,
        public=lambda w: layout_of("run")(w).public,
    output:
        **robustness_outputs(P.robustness),
    params:
        settings=settings("robustness", "run"),
        run=overrides("run"),
        method="pe",
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        P.robustness + "/robustness.log",
    shell:
        ROBUSTNESS_SHELL


rule robustness_public_pe:
    """The "public + PE" CNN (its first classifier seed)."""
    input:
        classifier=P.public_pe_classifiers,
        test=lambda w: layout_of("run")(w).evaluation_set,
        public=lambda w: layout_of("run")(w).public,
    output:
        **robustness_outputs(P.public_pe_robustness),
    params:
        settings=settings("robustness", "run"),
        run=overrides("run"),
        method="public_pe",
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        P.public_pe_robustness + "/robustness.log",
    shell:
        ROBUSTNESS_SHELL


rule robustness_prior:
    """The public prior: the CNN trained on S_0 (zero privacy cost)."""
    input:
        classifier=P.prior_classifiers,
        test=lambda w: layout_of("base")(w).evaluation_set,
        public=lambda w: layout_of("base")(w).public,
    output:
        **robustness_outputs(P.prior_robustness),
    params:
        settings=settings("robustness", "base"),
        run=overrides("base"),
        method="prior",
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        P.prior_robustness + "/robustness.log",
    shell:
        ROBUSTNESS_SHELL


rule robustness_real:
    """The non-private CNN trained on the real private training set."""
    input:
        classifier=P.real_classifiers,
        test=lambda w: layout_of("real")(w).evaluation_set,
        public=lambda w: layout_of("real")(w).public,
    output:
        **robustness_outputs(P.real_robustness),
    params:
        settings=settings("robustness", "real"),
        run=overrides("real"),
        method="real",
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        P.real_robustness + "/robustness.log",
    shell:
        ROBUSTNESS_SHELL


rule robustness_dpsgd:
    """The DP-SGD CNN (its test-set evaluation is not part of its release)."""
    input:
        classifier=P.dpsgd_weights,
        test=lambda w: layout_of("dpsgd")(w).evaluation_set,
        public=lambda w: layout_of("dpsgd")(w).public,
    output:
        **robustness_outputs(P.dpsgd_robustness),
    params:
        settings=settings("robustness", "dpsgd"),
        run=overrides("dpsgd"),
        method="dpsgd",
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        P.dpsgd_robustness + "/robustness.log",
    shell:
        ROBUSTNESS_SHELL


rule robustness_mix:
    """The "PE + DP-SGD" CNN."""
    input:
        classifier=P.mix_weights,
        test=lambda w: layout_of("mix")(w).evaluation_set,
        public=lambda w: layout_of("mix")(w).public,
    output:
        **robustness_outputs(P.mix_robustness),
    params:
        settings=settings("robustness", "mix"),
        run=overrides("mix"),
        method="mix",
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
    log:
        P.mix_robustness + "/robustness.log",
    shell:
        ROBUSTNESS_SHELL


rule robustness_table:
    """One row per (method, epsilon), mean +- std over the sweep's seeds; plots for the HTML report."""
    input:
        pe=[run.layout.robustness + "/robustness.json" for run in SWEEP.runs],
        prior=list(dict.fromkeys(run.layout.prior_robustness + "/robustness.json" for run in SWEEP.runs)),
        dpsgd=[run.layout.dpsgd_robustness + "/robustness.json" for run in SWEEP.runs] if DPSGD_ENABLED else [],
        mix=[mix.total.layout.mix_robustness + "/robustness.json" for mix in SWEEP.mixes],
        public_pe=[run.layout.public_pe_robustness + "/robustness.json" for run in SWEEP.runs] if PUBLIC_PE else [],
        real=L.real_robustness + "/robustness.json",
    output:
        table=L.robustness_csv,
        markdown=L.robustness_md,
        corruptions=report(L.robustness_plots["corruptions"], category="robustness",
                           caption="../report/robustness_corruptions.rst"),
        attacks=report(L.robustness_plots["attacks"], category="robustness", caption="../report/robustness_attacks.rst"),
        reliability=report(L.robustness_plots["reliability"], category="robustness",
                           caption="../report/robustness_reliability.rst"),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        L.log("robustness_table"),
    shell:
        "{PRIVEVO} robustness-table --inputs {input.pe} {input.public_pe} {input.prior} {input.dpsgd} {input.mix} "
        "{input.real} "
        "--out-csv {output.table} --out-md {output.markdown} --out-corruptions-png {output.corruptions} "
        "--out-attacks-png {output.attacks} --out-reliability-png {output.reliability} > {log} 2>&1"
