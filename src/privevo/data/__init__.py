"""The data stage: the private (Fashion-MNIST) and public (pretraining) image sets, checked and written."""

from privevo.data.checks import DataSourceError, check_image_set
from privevo.data.membership import hash_subset, neighbouring_relation_record
from privevo.data.prepare import prepare_data, stratified_head

__all__ = ["DataSourceError", "check_image_set", "hash_subset", "neighbouring_relation_record", "prepare_data",
           "stratified_head"]
