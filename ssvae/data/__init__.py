"""Data sets, labeled-subset selection and the on-device batch sampler."""

from ssvae.data.dataset import Dataset
from ssvae.data.dataset import Split
from ssvae.data.labels import hold_out_class
from ssvae.data.labels import labeled_rows
from ssvae.data.labels import UNLABELED
from ssvae.data.labels import select_labeled_indices
from ssvae.data.labels import split_validation
from ssvae.data.registry import ARRAYS_NAME
from ssvae.data.registry import default_validation_size
from ssvae.data.registry import load_dataset
from ssvae.data.sampler import make_pools
from ssvae.data.sampler import Pools
from ssvae.data.sampler import sample_batch
from ssvae.data.sampler import labeled_first
from ssvae.data.sampler import PAPER_LABELED_FRACTION
from ssvae.data.sampler import sampling_mode

__all__ = [
    "Dataset",
    "Split",
    "hold_out_class",
    "labeled_rows",
    "UNLABELED",
    "load_dataset",
    "make_pools",
    "Pools",
    "sample_batch",
    "labeled_first",
    "PAPER_LABELED_FRACTION",
    "sampling_mode",
    "select_labeled_indices",
    "split_validation",
    "default_validation_size",
    "ARRAYS_NAME",
]
