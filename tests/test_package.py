"""The package's shape: one public API, one training configuration, no hidden state."""

import ast
import importlib
import inspect
import os
import subprocess
import sys
from pathlib import Path

import pytest

import captcha_lib
from captcha_lib import ConfigError, DataError, RECIPES, TrainConfig, character_confusions, train_run
from captcha_lib.files import atomic_path, write_json

PACKAGE = Path(captcha_lib.__file__).parent


def test_every_exported_name_loads_and_editors_see_the_same_names():
    for name in captcha_lib.__all__:
        assert getattr(captcha_lib, name) is not None, name
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    typed = {alias.asname or alias.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)
             and node.level == 1 for alias in node.names}
    assert typed == set(captcha_lib.__all__)  # the TYPE_CHECKING imports list exactly the lazy names


def test_the_layout_follows_the_course():
    stages = sorted(p.name for p in PACKAGE.iterdir() if (p / "__init__.py").is_file())
    assert stages == ["cli", "course", "data", "decoding", "deploy", "model", "training"]  # cli: the command line
    for module in PACKAGE.rglob("*.py"):  # small modules, each one concern
        assert len(module.read_text().splitlines()) <= 300, module


def test_train_config_is_the_one_place_for_training_options():
    config = TrainConfig()
    assert (config.model, config.lr, config.steps, config.schedule) == ("crnn", 4e-3, 5000, "cosine")
    reference = TrainConfig.recipe("reference")
    for name, value in RECIPES["reference"].items():
        assert getattr(reference, name) == value
    assert TrainConfig.recipe("crnn", epochs=3).steps is None  # asked for epochs: train them all
    assert TrainConfig.recipe("crnn", epochs=3, steps=10).steps == 10
    assert TrainConfig(image_size="48x200").image_size == (48, 200)
    assert TrainConfig(max_minutes=0, grad_clip=0).max_minutes is None  # 0: no limit, as on the command line
    # train_run takes the config and nothing else that is a training option
    assert list(inspect.signature(train_run).parameters) == ["config", "log", "on_epoch", "resume_from"]


@pytest.mark.parametrize("options, fragment", [
    ({"batch_size": 0}, "batch_size"), ({"epochs": -1}, "epochs"), ({"lr": float("nan")}, "lr"), ({"lr": -1}, "lr"),
    ({"workers": -1}, "workers"), ({"images_per_epoch": 0}, "images_per_epoch"), ({"val_fraction": 1.5}, "val_fraction"),
    ({"image_size": "4x150"}, "image size"), ({"image_size": "40"}, "HEIGHTxMAX_WIDTH"), ({"model": "resnet"}, "model"),
    ({"schedule": "linear"}, "schedule"), ({"device": "bogus"}, "device"), ({"style": "neon"}, "style"),
    ({"length": "0"}, "length"), ({"alphabet": "A_B"}, "alphabet"), ({"steps": 2.5}, "steps"),
    ({"batch_size": True}, "batch_size"), ({"schedule": "plateau", "warmup_steps": 10}, "warmup"),
])
def test_invalid_options_are_refused_when_the_config_is_made(options, fragment):
    with pytest.raises(ConfigError, match=fragment):
        TrainConfig(**options)


def test_an_unknown_option_is_an_error_not_silently_dropped():
    with pytest.raises(ConfigError, match="unknown training option learning_rate"):
        TrainConfig.recipe("crnn", learning_rate=0.1)
    with pytest.raises(TypeError):
        TrainConfig(learning_rate=0.1)


def test_train_run_checks_before_any_work(tmp_path, tiny_dataset):
    with pytest.raises(ConfigError, match="data folder and a run folder"):
        train_run(TrainConfig())
    with pytest.raises(DataError, match="timesteps"):  # 16 pixels wide: 2 timesteps for 3-4 characters
        train_run(TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "run"), image_size="40x16"))
    (tmp_path / "file").write_text("x")
    with pytest.raises(ConfigError, match="is a file"):
        train_run(TrainConfig(data=str(tiny_dataset), out=str(tmp_path / "file")))


def test_no_state_is_read_at_import_time(monkeypatch, tmp_path):
    from captcha_lib.course import workspace

    monkeypatch.setenv("CAPTCHA_FAST", "1")
    assert workspace().fast and workspace().data_dir.name == "fast"
    monkeypatch.setenv("CAPTCHA_FAST", "0")
    monkeypatch.chdir(tmp_path)
    assert not workspace().fast and workspace().root == Path(".")


def test_atomic_writes_leave_the_old_file_or_the_new_one(tmp_path):
    target = write_json(tmp_path / "history.json", [{"epoch": 1}])
    with pytest.raises(RuntimeError):
        with atomic_path(target) as partial:
            partial.write_text("half a fil")
            raise RuntimeError("killed mid-write")
    assert target.read_text().startswith("[") and not list(tmp_path.glob("*.partial"))


def test_character_confusions():
    characters, matrix = character_confusions(["AB", "AC", "ABC", "B"], ["AB", "AB", "ABD", "BB"])
    assert characters == ["B", "C", "D"]  # in a substitution; "B" for "BB" has the wrong length: not lined up
    assert matrix.tolist() == [[2, 1, 0],  # true B: read B twice, C once
                               [0, 0, 0],
                               [0, 1, 0]]  # true D: read C
    characters, matrix = character_confusions(["AB", ""], ["AB", "CD"])  # no substitution: nothing to plot
    assert characters == [] and matrix.shape == (0, 0)


def test_an_all_blank_model_is_measured_without_a_crash(tiny_dataset, tmp_path):
    """Notebook 05's measures on a model stuck on the plateau: every read empty."""
    import torch

    from captcha_lib import CRNN, Reader, Vocabulary, character_error_rate, list_images, save_checkpoint
    from captcha_lib import label_from_path, sequence_accuracy

    vocabulary = Vocabulary("".join(sorted({c for p in list_images(tiny_dataset / "train") for c in label_from_path(p)})))
    model = CRNN(vocabulary.num_characters)
    with torch.no_grad():
        model.output[1].bias[0] = 100.0  # the blank wins at every timestep
    save_checkpoint(tmp_path / "blank.pt", model, vocabulary, (40, 512))
    paths = list_images(tiny_dataset / "val")
    reads, truths = Reader.from_checkpoint(tmp_path / "blank.pt").predict(paths), [label_from_path(p) for p in paths]
    assert set(reads) == {""}
    assert sequence_accuracy(reads, truths) == 0.0 and character_error_rate(reads, truths) == 1.0
    characters, matrix = character_confusions(reads, truths)
    assert characters == [] and matrix.shape == (0, 0)


def test_every_module_imports_on_its_own():
    for module in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(module.relative_to(PACKAGE.parent).with_suffix("").parts)
        if name.endswith("__main__"):
            continue
        importlib.import_module(name.removesuffix(".__init__"))


def test_importing_the_package_opens_no_network_connection():
    """Offline by design: nothing, a dependency's update check included, reaches out on import."""
    script = ("import socket\n"
              "def refuse(*args, **kwargs): raise SystemExit(f'network connection attempted: {args}')\n"
              "socket.socket.connect = socket.create_connection = refuse\n"
              "import captcha_lib.data.datasets, captcha_lib.training.run, captcha_lib.deploy.reader\n")
    env = {key: value for key, value in os.environ.items() if key != "NO_ALBUMENTATIONS_UPDATE"}
    result = subprocess.run([sys.executable, "-W", "error::UserWarning", "-c", script], capture_output=True,
                            text=True, env=env, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
