# PE generation of iteration t: S_t = VARIATION_API(selected), then the lookahead embeddings of S_t.
# With pe.shards > 1 each step runs as one job per class shard (classes s, s + shards, ...) plus a merge,
# so a cluster generates classes in parallel; the bytes equal the unsharded run's (seeded per class).
# Reads:  <run>/iter_t/selected.npz, the foundation model
# Writes: <run>/iter_t/{candidates.{npz,png}, lookahead.npy}, and shards/ parts when sharded
SHARDS = config["pe"]["shards"]


def generation_resources(runtime):
    return {"mem_mb": 6000, "runtime": runtime, "gpu": GPU}


if SHARDS == 1:

    rule pe_variation:
        input:
            model=lambda w: layout_of("run")(w).api_inputs,
            selected=ITERATION + "/selected.npz",
        output:
            candidates=ITERATION + "/candidates.npz",
            grid=report(ITERATION + "/candidates.png", category="samples", subcategory="iteration {iteration}",
                        caption="../report/iteration_samples.rst"),
        params:
            settings=settings("pe_variation", "run"),
            run=overrides("run"),
            model=lambda w: layout_of("run")(w).model_dir,
            public=public_option("run"),
        threads: HEAVY_THREADS
        resources:
            **generation_resources(60),
        log:
            P.run_log("pe_variation_{iteration}"),
        shell:
            "{PRIVEVO} --threads {threads} pe-variation {PARAMS} {params.run} --model {params.model} {params.public} "
            "--selected {input.selected} --iteration {wildcards.iteration} --out {output.candidates} > {log} 2>&1"

    rule pe_lookahead:
        input:
            model=lambda w: layout_of("run")(w).api_inputs,
            candidates=ITERATION + "/candidates.npz",
        output:
            lookahead=ITERATION + "/lookahead.npy",
        params:
            settings=settings("pe_lookahead", "run"),
            run=overrides("run"),
            model=lambda w: layout_of("run")(w).model_dir,
            public=public_option("run"),
        threads: HEAVY_THREADS
        resources:
            **generation_resources(120),
        log:
            P.run_log("pe_lookahead_{iteration}"),
        shell:
            "{PRIVEVO} --threads {threads} pe-lookahead {PARAMS} {params.run} --model {params.model} {params.public} "
            "--candidates {input.candidates} --iteration {wildcards.iteration} --out {output.lookahead} > {log} 2>&1"

else:
    SHARD = ITERATION + "/shards/{kind}_{shard}-of-" + str(SHARDS) + ".npz"

    wildcard_constraints:
        shard=r"\d+",

    rule pe_variation_shard:
        input:
            model=lambda w: layout_of("run")(w).api_inputs,
            selected=ITERATION + "/selected.npz",
        output:
            part=SHARD.replace("{kind}", "variation"),
        params:
            settings=settings("pe_variation", "run"),
            run=overrides("run"),
            model=lambda w: layout_of("run")(w).model_dir,
            public=public_option("run"),
        threads: HEAVY_THREADS
        resources:
            **generation_resources(60),
        log:
            P.run_log("pe_variation_{iteration}_shard{shard}"),
        shell:
            "{PRIVEVO} --threads {threads} pe-variation {PARAMS} {params.run} --model {params.model} {params.public} "
            "--selected {input.selected} --iteration {wildcards.iteration} --shard {wildcards.shard} "
            "--shards {SHARDS} --out {output.part} > {log} 2>&1"

    rule pe_merge_shards_variation:
        input:
            parts=expand(SHARD.replace("{kind}", "variation"), shard=range(SHARDS), allow_missing=True),
        output:
            candidates=ITERATION + "/candidates.npz",
            grid=report(ITERATION + "/candidates.png", category="samples", subcategory="iteration {iteration}",
                        caption="../report/iteration_samples.rst"),
        resources:
            mem_mb=2000,
            runtime=10,
        log:
            P.run_log("pe_merge_shards_variation_{iteration}"),
        shell:
            "{PRIVEVO} pe-merge-shards --kind candidates --parts {input.parts} --out {output.candidates} > {log} 2>&1"

    rule pe_lookahead_shard:
        input:
            model=lambda w: layout_of("run")(w).api_inputs,
            candidates=ITERATION + "/candidates.npz",
        output:
            part=SHARD.replace("{kind}", "lookahead"),
        params:
            settings=settings("pe_lookahead", "run"),
            run=overrides("run"),
            model=lambda w: layout_of("run")(w).model_dir,
            public=public_option("run"),
        threads: HEAVY_THREADS
        resources:
            **generation_resources(120),
        log:
            P.run_log("pe_lookahead_{iteration}_shard{shard}"),
        shell:
            "{PRIVEVO} --threads {threads} pe-lookahead {PARAMS} {params.run} --model {params.model} {params.public} "
            "--candidates {input.candidates} --iteration {wildcards.iteration} --shard {wildcards.shard} "
            "--shards {SHARDS} --out {output.part} > {log} 2>&1"

    rule pe_merge_shards_lookahead:
        input:
            parts=expand(SHARD.replace("{kind}", "lookahead"), shard=range(SHARDS), allow_missing=True),
        output:
            lookahead=ITERATION + "/lookahead.npy",
        resources:
            mem_mb=2000,
            runtime=10,
        log:
            P.run_log("pe_merge_shards_lookahead_{iteration}"),
        shell:
            "{PRIVEVO} pe-merge-shards --kind lookahead --parts {input.parts} --out {output.lookahead} > {log} 2>&1"
