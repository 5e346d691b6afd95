"""captcha_lib: CAPTCHA text recognition with PyTorch (CNN + bidirectional GRU + CTC loss).

Everything a notebook or a user needs is imported from here: `from captcha_lib import X`.
The package is laid out by the course's stages:

    data/       vocab, images, labels (no torch), datasets, generate, synthetic   notebook 01
    model/      crnn, reference, build, ctc, checkpoint                            notebook 02
    training/   config, trainer, run, distributed                                  notebooks 03, 07
    decoding/   decoders, metrics, evaluation (no torch)                           notebooks 04, 05
    deploy/     reader (no torch), torch_reader, onnx_reader, export, serve        notebook 06
    course/     notebook support (data and runs made when missing, plots); not the library's API

Names load on first use (PEP 562), so `import captcha_lib` is instant and the read path
(images, decoding, the ONNX reader) runs where torch is not installed. Editors follow the
imports under TYPE_CHECKING below; a test checks that they list the same names.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

_EXPORTS = {
    "errors": ["CaptchaError", "CheckpointError", "ConfigError", "DataError", "ImageError", "ImageTooLargeError",
               "NotAnImageError", "UnknownCharacterError"],
    "defaults": ["DEFAULT_ALPHABET", "DEFAULT_MODEL", "IMAGE_SIZE", "STYLES"],
    "data.vocab": ["BLANK_INDEX", "Vocabulary", "parse_length"],
    "data.images": ["load_image", "normalize_image", "parse_image_size", "preprocess", "resize_image"],
    "data.labels": ["Labeller", "label_from_path", "label_lengths", "list_images", "split_paths", "vocabulary_from_paths"],
    "data.datasets": ["CaptchaDataset", "collate_batch", "datasets_from_paths", "load_datasets", "make_loader",
                      "training_augmentation"],
    "data.generate": ["generate_dataset", "render"],
    "data.synthetic": ["SyntheticCaptchas"],
    "model.crnn": ["CRNN"],
    "model.reference": ["ReferenceModel"],
    "model.build": ["MODELS", "build_model", "count_parameters", "receptive_field", "resolve_device", "time_steps"],
    "model.ctc": ["ctc_loss", "min_time_steps"],
    "model.checkpoint": ["load_checkpoint", "save_checkpoint"],
    "training.config": ["RECIPES", "TrainConfig"],
    "training.trainer": ["Trainer"],
    "training.schedule": ["set_seed"],
    "training.run": ["resume_run", "train_run"],
    "training": ["distributed"],
    "decoding.decoders": ["GREEDY", "Decoder", "Reading", "best_path", "brute_force_decode", "log_softmax",
                          "parse_decoder", "prefix_beam_search", "text_log_probability", "accuracy_at_coverage"],
    "decoding.metrics": ["character_error_rate", "edit_distance", "positional_character_accuracy",
                         "sequence_accuracy"],
    "decoding.evaluation": ["character_confusions", "error_rows", "evaluate_decoders"],
    "deploy.reader": ["Reader"],
    "deploy.torch_reader": ["TorchReader"],
    "deploy.onnx_reader": ["OnnxReader"],
    "deploy.export": ["export_onnx"],
    "deploy.serve": ["MicroBatcher", "create_app", "serve"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)
__version__ = "0.2.0"

if TYPE_CHECKING:  # what editors and type checkers read; at run time each name loads on first use
    from .data.datasets import (CaptchaDataset, collate_batch, datasets_from_paths, load_datasets, make_loader,
                                training_augmentation)
    from .data.generate import generate_dataset, render
    from .data.images import load_image, normalize_image, parse_image_size, preprocess, resize_image
    from .data.labels import Labeller, label_from_path, label_lengths, list_images, split_paths, vocabulary_from_paths
    from .data.synthetic import SyntheticCaptchas
    from .data.vocab import BLANK_INDEX, Vocabulary, parse_length
    from .decoding.decoders import (GREEDY, Decoder, Reading, accuracy_at_coverage, best_path, brute_force_decode,
                                    log_softmax, parse_decoder, prefix_beam_search, text_log_probability)
    from .decoding.evaluation import character_confusions, error_rows, evaluate_decoders
    from .decoding.metrics import (character_error_rate, edit_distance, positional_character_accuracy,
                                   sequence_accuracy)
    from .defaults import DEFAULT_ALPHABET, DEFAULT_MODEL, IMAGE_SIZE, STYLES
    from .deploy.export import export_onnx
    from .deploy.onnx_reader import OnnxReader
    from .deploy.reader import Reader
    from .deploy.serve import MicroBatcher, create_app, serve
    from .deploy.torch_reader import TorchReader
    from .errors import (CaptchaError, CheckpointError, ConfigError, DataError, ImageError, ImageTooLargeError,
                         NotAnImageError, UnknownCharacterError)
    from .model.build import MODELS, build_model, count_parameters, receptive_field, resolve_device, time_steps
    from .model.checkpoint import load_checkpoint, save_checkpoint
    from .model.crnn import CRNN
    from .model.ctc import ctc_loss, min_time_steps
    from .model.reference import ReferenceModel
    from .training import distributed
    from .training.config import RECIPES, TrainConfig
    from .training.run import resume_run, train_run
    from .training.schedule import set_seed
    from .training.trainer import Trainer


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'captcha_lib' has no attribute {name!r}")
    module = import_module(f".{_MODULE_OF[name]}", __name__)
    value = import_module(f".{_MODULE_OF[name]}.{name}", __name__) if name == "distributed" else getattr(module, name)
    globals()[name] = value  # next time, no lookup
    return value


def __dir__():
    return __all__
