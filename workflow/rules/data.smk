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
