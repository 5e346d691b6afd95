"""captcha_lib: CAPTCHA text recognition with PyTorch (CNN + bidirectional GRU + CTC loss).

The notebooks import everything from here; each module owns one concern:
data (files, labels, preprocessing), vocab, generate, models, ctc, decoding, metrics,
trainer, recipes, checkpoint, predict, evaluation, cli.
"""

from .checkpoint import load_checkpoint, save_checkpoint
from .ctc import best_path, ctc_loss, greedy_decode
from .data import (IMAGE_SIZE, CaptchaDataset, collate_batch, label_from_path, list_images, load_datasets,
                   load_image, make_loader, preprocess, split_paths, training_augmentation)
from .decoding import (Decoder, Reading, accuracy_at_coverage, brute_force_decode, parse_decoder,
                       prefix_beam_search, text_log_probability)
from .evaluation import error_rows, evaluate_decoders
from .errors import CaptchaError, CheckpointError, DataError, UnknownCharacterError
from .generate import generate_dataset, render
from .metrics import character_error_rate, edit_distance, positional_character_accuracy, sequence_accuracy
from .models import CRNN, DEFAULT_MODEL, MODELS, CaptchaModel, build_model, count_parameters
from .predict import Predictor
from .recipes import RECIPES, train_run
from .trainer import Trainer, TrainerConfig, resolve_device, set_seed
from .vocab import BLANK_INDEX, Vocabulary

__version__ = "0.1.0"
