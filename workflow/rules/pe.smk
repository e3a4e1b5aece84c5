# Private Evolution: one iteration t = histogram -> pe_variation -> pe_lookahead, writing under iter_t/.
# Artifacts that do not depend on epsilon (private embeddings, S_0 and its lookahead) live outside the
# run folders, keyed by their own settings, so every epsilon of a sweep (and a change of epsilon) reuses them.
# Reads:  data/prepared/<data>/private_train.npz (embedded once), results/model/<model>, params' privacy section
# Writes: results/embeddings/<embedding>/*, results/pe/base/<base>/iter_000/{candidates.*, lookahead.npy},
#         <run>/{calibration.json, audit-<audit>.json, synthetic.*, privacy.json},
#         <run>/iter_t/{histogram.{npz,csv}, selected.npz, draws/, candidates.*, lookahead.npy}
RUN = P.run_dir
ITERATION = P.iteration_dir("{iteration}")


rule embed_private:
    """Embeddings of the private training set: the query side of the DP nearest-neighbour histogram."""
    input:
        private_train=lambda w: layout_of("embedding")(w).private_train,
    output:
        embeddings=P.private_embeddings,
        labels=P.private_labels,
    params:
        settings=settings("embed_private", "embedding"),
        run=overrides("embedding"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=60,
        gpu=GPU,
    log:
        P.log("embed_private_{embedding}"),
    shell:
        "{PRIVEVO} --threads {threads} embed-private {PARAMS} {params.run} --private {input.private_train} "
        "--out {output.embeddings} --out-labels {output.labels} > {log} 2>&1"


rule pe_init:
    input:
        model=lambda w: layout_of("base")(w).api_inputs,
    output:
        candidates=P.candidates(0),
        grid=report(P.candidates_grid(0), category="samples", subcategory="S_0",
                    caption="../report/initial_samples.rst"),
    params:
        settings=settings("pe_init", "base"),
        run=overrides("base"),
        model=lambda w: layout_of("base")(w).model_dir,
        public=public_option("base"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=60,
        gpu=GPU,
    log:
        P.base_dir + "/logs/pe_init.log",
    shell:
        "{PRIVEVO} --threads {threads} pe-init {PARAMS} {params.run} --model {params.model} {params.public} "
        "--out {output.candidates} > {log} 2>&1"


rule pe_lookahead_initial:
    input:
        model=lambda w: layout_of("base")(w).api_inputs,
        candidates=P.candidates(0),
    output:
        lookahead=P.lookahead(0),
    params:
        settings=settings("pe_lookahead_initial", "base"),
        run=overrides("base"),
        model=lambda w: layout_of("base")(w).model_dir,
        public=public_option("base"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=6000,
        runtime=120,
        gpu=GPU,
    log:
        P.base_dir + "/logs/pe_lookahead_initial.log",
    shell:
        "{PRIVEVO} --threads {threads} pe-lookahead {PARAMS} {params.run} --model {params.model} {params.public} "
        "--candidates {input.candidates} --iteration 0 --out {output.lookahead} > {log} 2>&1"


rule calibrate:
    output:
        calibration=RUN + "/calibration.json",
    params:
        settings=settings("calibrate", "run"),
        run=overrides("run"),
    resources:
        mem_mb=1000,
        runtime=5,
    log:
        P.run_log("calibrate"),
    shell:
        "{PRIVEVO} calibrate --params {PARAMS_FILE} {params.run} --out {output.calibration} > {log} 2>&1"


rule pe_histogram:
    """The DP nearest-neighbour histogram of iteration t: the only PE rule that reads private data.
    One job per iteration on a cluster too: it is one release with one noise draw."""
    input:
        private_embeddings=lambda w: layout_of("run")(w).private_embeddings,
        private_labels=lambda w: layout_of("run")(w).private_labels,
        candidates=lambda w: layout_of("run")(w).candidates(int(w.iteration) - 1),
        lookahead=lambda w: layout_of("run")(w).lookahead(int(w.iteration) - 1),
        calibration=RUN + "/calibration.json",
    output:
        histogram=ITERATION + "/histogram.npz",
        table=report(ITERATION + "/histogram.csv", category="histograms", caption="../report/histogram_table.rst"),
        selected=ITERATION + "/selected.npz",
    params:
        settings=settings("pe_histogram", "run"),
        run=overrides("run"),
        out_dir=ITERATION,
    threads: HEAVY_THREADS
    resources:
        mem_mb=8000,
        runtime=30,
        gpu=GPU,  # faiss runs on the GPU when there is one
    log:
        P.run_log("pe_histogram_{iteration}"),
    shell:
        "{PRIVEVO} --threads {threads} pe-histogram {PARAMS} {params.run} --iteration {wildcards.iteration} "
        "--private-embeddings {input.private_embeddings} --private-labels {input.private_labels} "
        "--candidates {input.candidates} --lookahead {input.lookahead} --calibration {input.calibration} "
        "--out-dir {params.out_dir} > {log} 2>&1"


include: "pe_generation.smk"


rule audit:
    """Empirical lower bound on one release's epsilon: the real histogram code run many times on public
    stand-in sets D and D + canary. Reads no private data."""
    input:
        candidates=lambda w: layout_of("run")(w).candidates(0),
        lookahead=lambda w: layout_of("run")(w).lookahead(0),
        calibration=RUN + "/calibration.json",
    output:
        audit=RUN + "/audit-{audit}.json",
    params:
        settings=settings("audit", "run"),
        run=overrides("run"),
    threads: HEAVY_THREADS
    resources:
        mem_mb=4000,
        runtime=30,
        gpu=GPU,  # thousands of nearest-neighbour searches, on the GPU like the histogram's
    log:
        P.run_log("audit_{audit}"),
    shell:
        "{PRIVEVO} --threads {threads} audit {PARAMS} {params.run} --candidates {input.candidates} "
        "--lookahead {input.lookahead} --calibration {input.calibration} --out {output.audit} > {log} 2>&1"


rule pe_release:
    input:
        model=lambda w: layout_of("run")(w).api_inputs,
        final=lambda w: layout_of("run")(w).candidates(layout_of("run")(w).num_iterations),
        calibration=RUN + "/calibration.json",
        audit=lambda w: layout_of("run")(w).audit if LABELLED else [],  # the audit's stand-ins are other classes
        histograms=lambda w: [layout_of("run")(w).iteration_dir(t) + "/histogram.npz"
                              for t in range(1, layout_of("run")(w).num_iterations + 1)],
        data_manifest=lambda w: layout_of("run")(w).data_manifest,
    output:
        synthetic=P.synthetic,
        grid=report(P.synthetic_grid, category="samples", subcategory="final", caption="../report/synthetic.rst"),
        privacy=report(P.privacy_report, category="privacy", caption="../report/privacy.rst"),
    params:
        settings=settings("pe_release", "run"),
        run=overrides("run"),
        model=lambda w: layout_of("run")(w).model_dir,
        public=public_option("run"),
        audit=lambda w, input: f"--audit {input.audit}" if input.audit else "",
    threads: HEAVY_THREADS
    resources:
        mem_mb=2000,
        runtime=30,
        gpu=GPU,
    log:
        P.run_log("pe_release"),
    shell:
        "{PRIVEVO} --threads {threads} pe-release {PARAMS} {params.run} --model {params.model} {params.public} "
        "--final {input.final} --calibration {input.calibration} --histograms {input.histograms} "
        "--data-manifest {input.data_manifest} "
        "{params.audit} --out-synthetic {output.synthetic} --out-privacy {output.privacy} > {log} 2>&1"
