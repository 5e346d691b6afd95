"""captcha_lib: CAPTCHA text recognition with PyTorch (CNN + bidirectional GRU + CTC loss).

The notebooks import everything from here; each module owns one concern:
images (load, resize, normalise), data (files, labels, datasets), vocab, generate, models,
ctc, decoding, metrics, trainer, distributed (torchrun), synthetic (fresh data), recipes,
checkpoint, reader, predict, evaluation, export and onnx_runtime (deployment), serve
(HTTP), cli.

Names are imported when first used (PEP 562), so `import captcha_lib` is instant and the
parts that need no torch (images, decoding, onnx_runtime) run where torch is not installed.
"""

from importlib import import_module

_EXPORTS = {
    "checkpoint": ["load_checkpoint", "save_checkpoint"],
    "ctc": ["ctc_loss", "greedy_decode"],
    "data": ["CaptchaDataset", "collate_batch", "label_from_path", "list_images", "load_datasets", "make_loader",
             "preprocess", "split_paths", "training_augmentation"],
    "decoding": ["Decoder", "Reading", "accuracy_at_coverage", "best_path", "brute_force_decode", "parse_decoder",
                 "prefix_beam_search", "text_log_probability"],
    "evaluation": ["error_rows", "evaluate_decoders"],
    "errors": ["CaptchaError", "CheckpointError", "DataError", "UnknownCharacterError"],
    "generate": ["generate_dataset", "render"],
    "images": ["IMAGE_SIZE", "load_image", "normalize_image", "resize_image"],
    "metrics": ["character_error_rate", "edit_distance", "positional_character_accuracy", "sequence_accuracy"],
    "models": ["CRNN", "DEFAULT_MODEL", "MODELS", "CaptchaModel", "build_model", "count_parameters"],
    "onnx_runtime": ["OnnxPredictor"],
    "predict": ["Predictor"],
    "recipes": ["RECIPES", "train_run"],
    "synthetic": ["SyntheticCaptchas"],
    "trainer": ["Trainer", "TrainerConfig", "resolve_device", "set_seed"],
    "vocab": ["BLANK_INDEX", "Vocabulary"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'captcha_lib' has no attribute {name!r}")
    value = getattr(import_module(f".{_MODULE_OF[name]}", __name__), name)
    globals()[name] = value  # next time, no lookup
    return value


def __dir__():
    return __all__
