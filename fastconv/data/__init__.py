"""Datasets, batching and Pillow image transforms (``torch.utils.data`` / ``torchvision`` names)."""

from . import transforms
from .dataset import Dataset, Subset, TensorDataset, random_split
from .folder import IMG_EXTENSIONS, ImageFolder, ImageReadError, find_classes, load_image
from ._workers import WorkerError
from .loader import DataLoader, default_collate

__all__ = ["Dataset", "TensorDataset", "Subset", "random_split", "DataLoader", "default_collate", "ImageFolder",
           "ImageReadError", "WorkerError", "load_image", "find_classes", "IMG_EXTENSIONS", "transforms"]
