# Data: the private set (Fashion-MNIST) and the public pretraining set, as uint8 NHWC .npz.
# Reads:  the Fashion-MNIST IDX files (data.fashion_mnist_dir), the public sources (installed packages)
# Writes: data/prepared/<data key>/{private_train, private_validation, private_test, public}.npz, data_manifest.json (labelled PRIVATE)
#         (data.labelled false: no private_test.npz; an unlabelled folder has no test split)
rule prepare_data:
    output:
        private_train=P.private_train,
        private_validation=P.private_validation,
        **({"private_test": P.private_test} if LABELLED else {}),  # unlabelled data has no test split
        public=P.public,
        manifest=P.data_manifest,
    params:
        settings=settings("prepare_data", "data"),
        run=overrides("data"),
        out_dir=P.prepared_dir,
    resources:
        mem_mb=4000,
        runtime=10,
    log:
        P.log("prepare_data_{data}"),
    shell:
        "{PRIVEVO} prepare-data {PARAMS} {params.run} --out-dir {params.out_dir} > {log} 2>&1"
