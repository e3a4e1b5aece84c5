# Data: the private set (Fashion-MNIST) and the public pretraining set, as uint8 NHWC .npz.
# Reads:  the Fashion-MNIST IDX files (data.fashion_mnist_dir), the public sources (installed packages)
# Writes: data/{private_train, private_test, public}.npz, data/data_manifest.json (labelled PRIVATE)
rule prepare_data:
    output:
        private_train=L.private_train,
        private_test=L.private_test,
        public=L.public,
        manifest=L.data_manifest,
    params:
        settings=settings("prepare_data"),
    log:
        L.log("prepare_data"),
    shell:
        "{PRIVEVO} prepare-data {PARAMS} > {log} 2>&1"
