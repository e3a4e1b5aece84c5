# Baselines: DP-SGD on the private training set, the method PE must beat or explain at equal (epsilon, delta).
# Rule names start with baseline_ (the privacy-boundary test allows these to read private data).
# Reads:  data/prepared/<data>/private_{train,test}.npz
# Writes: results/dpsgd/<dpsgd>/{dpsgd.json (the privacy report), model.safetensors, model.json, downstream.json}


rule baseline_dpsgd:
    """The downstream CNN trained with DP-SGD (opacus): a DP release of its own, accounted and cross-checked.
    Its test accuracy (downstream.json) is evaluation, not part of the release."""
    input:
        train=lambda w: layout_of("dpsgd")(w).private_train,
        test=lambda w: layout_of("dpsgd")(w).private_test,
    output:
        report=P.dpsgd_report,
        weights=P.dpsgd_weights,
        config=P.dpsgd_dir + "/model.json",
        downstream=P.dpsgd_downstream,
    params:
        settings=settings("baseline_dpsgd", "dpsgd"),
        run=overrides("dpsgd"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    log:
        P.dpsgd_dir + "/logs/baseline_dpsgd.log",
    shell:
        "{PRIVEVO} --threads {threads} dpsgd {PARAMS} {params.run} --train {input.train} --test {input.test} "
        "--out-report {output.report} --out-weights {output.weights} --out-downstream {output.downstream} > {log} 2>&1"
