# Baselines: DP-SGD on the private training set, the method PE must beat or explain at equal (epsilon, delta).
# Rule names start with baseline_ (the privacy-boundary test allows these to read private data).
# Reads:  data/prepared/<data>/private_{train,test}.npz
# Writes: results/dpsgd/<dpsgd>/{dpsgd.json (the privacy report), model.safetensors, model.json, downstream.json},
#         results/mix/<mix>/ the same for "PE + DP-SGD"


rule dpsgd:
    """The downstream CNN trained with DP-SGD (opacus): a DP release of its own, accounted and cross-checked.
    Its test accuracy (downstream.json) is evaluation, not part of the release."""
    input:
        train=lambda w: layout_of("dpsgd")(w).private_train,
        test=lambda w: layout_of("dpsgd")(w).evaluation_set,
    output:
        report=P.dpsgd_report,
        weights=P.dpsgd_weights,
        config=P.dpsgd_dir + "/model.json",
        downstream=P.dpsgd_downstream,
    params:
        settings=settings("dpsgd", "dpsgd"),
        run=overrides("dpsgd"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=120,  # no gpu: the small CNN trains with opacus on the CPU (privevo.models.dpsgd)
    log:
        P.dpsgd_dir + "/logs/dpsgd.log",
    shell:
        "{PRIVEVO} --threads {threads} dpsgd {PARAMS} {params.run} --train {input.train} --test {input.test} "
        "--out-report {output.report} --out-weights {output.weights} --out-downstream {output.downstream} > {log} 2>&1"


rule dpsgd_mix:
    """"PE + DP-SGD": the CNN trained on the PE run at mixing.pe_fraction * epsilon (post-processing of that
    release), fine-tuned on the private training set with DP-SGD whose noise is solved so that one PLD accountant
    over the PE histogram releases and the DP-SGD steps gives this run's epsilon."""
    input:
        train=lambda w: layout_of("mix")(w).private_train,
        test=lambda w: layout_of("mix")(w).evaluation_set,
        classifier=lambda w: SWEEP.mix_for(w.mix).pe.layout.classifiers,
        pe_privacy=lambda w: SWEEP.mix_for(w.mix).pe.layout.privacy_report,
    output:
        report=P.mix_report,
        weights=P.mix_weights,
        config=P.mix_dir + "/model.json",
        downstream=P.mix_downstream,
    params:
        settings=settings("dpsgd_mix", "mix"),
        run=overrides("mix"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=120,  # no gpu: the small CNN trains with opacus on the CPU (privevo.models.dpsgd)
    log:
        P.mix_dir + "/logs/dpsgd_mix.log",
    shell:
        "{PRIVEVO} --threads {threads} dpsgd {PARAMS} {params.run} --train {input.train} --test {input.test} "
        "--init-classifier {input.classifier} --pe-privacy {input.pe_privacy} --out-report {output.report} "
        "--out-weights {output.weights} --out-downstream {output.downstream} > {log} 2>&1"
