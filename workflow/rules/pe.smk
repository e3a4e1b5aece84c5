# Private Evolution: one iteration t = histogram -> pe_variation -> pe_lookahead, writing under iter_t/.
# Artifacts that do not depend on epsilon (private embeddings, S_0 and its lookahead) live outside the
# privacy-tagged run folder, so a change of epsilon reuses them.
# Reads:  data/private_train.npz (embedded once), results/model, params' privacy section
# Writes: results/embeddings/*, results/pe/base/iter_000/{candidates.*, lookahead.npy},
#         <run>/{calibration.json, audit.json, synthetic.*, privacy.json},
#         <run>/iter_t/{histogram.{npz,csv}, selected.npz, draws/, candidates.*, lookahead.npy}


rule histogram_private_embeddings:
    """Embeddings of the private training set: the query side of the DP nearest-neighbour histogram."""
    input:
        private_train=L.private_train,
    output:
        embeddings=L.private_embeddings,
        labels=L.private_labels,
    params:
        settings=settings("histogram_private_embeddings"),
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        L.log("histogram_private_embeddings"),
    shell:
        "{PRIVEVO} embed-private {PARAMS} --private {input.private_train} --out {output.embeddings} "
        "--out-labels {output.labels} > {log} 2>&1"


rule pe_initial_samples:
    input:
        model=L.model_marker,
    output:
        candidates=L.candidates(0),
        grid=report(L.candidates_grid(0), category="samples", subcategory="S_0",
                    caption="../report/initial_samples.rst"),
    params:
        settings=settings("pe_initial_samples"),
        model=L.model_dir,
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        L.log("pe_initial_samples"),
    shell:
        "{PRIVEVO} pe-init {PARAMS} --model {params.model} --out {output.candidates} > {log} 2>&1"


rule pe_initial_lookahead:
    input:
        model=L.model_marker,
        candidates=L.candidates(0),
    output:
        lookahead=L.lookahead(0),
    params:
        settings=settings("pe_initial_lookahead"),
        model=L.model_dir,
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        L.log("pe_initial_lookahead"),
    shell:
        "{PRIVEVO} pe-lookahead {PARAMS} --model {params.model} --candidates {input.candidates} --iteration 0 "
        "--out {output.lookahead} > {log} 2>&1"


rule privacy_calibration:
    output:
        calibration=L.calibration,
    params:
        settings=settings("privacy_calibration"),
    log:
        L.run_log("privacy_calibration"),
    shell:
        "{PRIVEVO} calibrate --params {PARAMS_FILE} --out {output.calibration} > {log} 2>&1"


rule histogram:
    """The DP nearest-neighbour histogram of iteration t: the only PE rule that reads private data."""
    input:
        private_embeddings=L.private_embeddings,
        private_labels=L.private_labels,
        candidates=lambda w: L.candidates(int(w.iteration) - 1),
        lookahead=lambda w: L.lookahead(int(w.iteration) - 1),
        calibration=L.calibration,
    output:
        histogram=L.iteration_dir("{iteration}") + "/histogram.npz",
        table=report(L.iteration_dir("{iteration}") + "/histogram.csv", category="histograms",
                     caption="../report/histogram_table.rst"),
        selected=L.iteration_dir("{iteration}") + "/selected.npz",
    params:
        settings=settings("histogram"),
        out_dir=L.iteration_dir("{iteration}"),
    threads: ALL_CORES
    log:
        L.run_log("histogram_{iteration}"),
    shell:
        "{PRIVEVO} pe-histogram {PARAMS} --iteration {wildcards.iteration} --private-embeddings {input.private_embeddings} "
        "--private-labels {input.private_labels} --candidates {input.candidates} --lookahead {input.lookahead} "
        "--calibration {input.calibration} --out-dir {params.out_dir} > {log} 2>&1"


rule pe_variation:
    input:
        model=L.model_marker,
        selected=L.iteration_dir("{iteration}") + "/selected.npz",
    output:
        candidates=L.iteration_dir("{iteration}") + "/candidates.npz",
        grid=report(L.iteration_dir("{iteration}") + "/candidates.png", category="samples",
                    subcategory="iteration {iteration}", caption="../report/iteration_samples.rst"),
    params:
        settings=lambda w: settings("pe_variation")(int(w.iteration)),
        model=L.model_dir,
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        L.run_log("pe_variation_{iteration}"),
    shell:
        "{PRIVEVO} pe-variation {PARAMS} --model {params.model} --selected {input.selected} --iteration {wildcards.iteration} "
        "--out {output.candidates} > {log} 2>&1"


rule pe_lookahead:
    input:
        model=L.model_marker,
        candidates=L.iteration_dir("{iteration}") + "/candidates.npz",
    output:
        lookahead=L.iteration_dir("{iteration}") + "/lookahead.npy",
    params:
        settings=lambda w: settings("pe_lookahead")(int(w.iteration)),
        model=L.model_dir,
    threads: ALL_CORES
    resources:
        gpu=1,
    log:
        L.run_log("pe_lookahead_{iteration}"),
    shell:
        "{PRIVEVO} pe-lookahead {PARAMS} --model {params.model} --candidates {input.candidates} --iteration {wildcards.iteration} "
        "--out {output.lookahead} > {log} 2>&1"


rule privacy_audit:
    """Empirical lower bound on one release's epsilon: the real histogram code run many times on public
    stand-in sets D and D + canary. Reads no private data."""
    input:
        candidates=L.candidates(0),
        lookahead=L.lookahead(0),
        calibration=L.calibration,
    output:
        audit=L.audit,
    params:
        settings=settings("privacy_audit"),
    threads: ALL_CORES
    log:
        L.run_log("privacy_audit"),
    shell:
        "{PRIVEVO} audit {PARAMS} --candidates {input.candidates} --lookahead {input.lookahead} "
        "--calibration {input.calibration} --out {output.audit} > {log} 2>&1"


rule pe_release:
    input:
        final=L.candidates(L.num_iterations),
        calibration=L.calibration,
        audit=L.audit,
    output:
        synthetic=L.synthetic,
        grid=report(L.synthetic_grid, category="samples", subcategory="final", caption="../report/synthetic.rst"),
        privacy=report(L.privacy_report, category="privacy", caption="../report/privacy.rst"),
    params:
        settings=settings("pe_release"),
    log:
        L.run_log("pe_release"),
    shell:
        "{PRIVEVO} pe-release {PARAMS} --final {input.final} --calibration {input.calibration} --audit {input.audit} "
        "--out-synthetic {output.synthetic} --out-privacy {output.privacy} > {log} 2>&1"
