"""ONNX export: the same logits and texts as PyTorch, and a runtime that needs no torch."""

import subprocess
import sys

import numpy as np
from PIL import Image
import pytest
import torch

pytest.importorskip("onnxruntime")
onnx = pytest.importorskip("onnx")

from captcha_lib import save_checkpoint  # noqa: E402
from captcha_lib import list_images  # noqa: E402
from captcha_lib import Decoder  # noqa: E402
from captcha_lib import CheckpointError  # noqa: E402
from captcha_lib import export_onnx  # noqa: E402
from captcha_lib import ReferenceModel  # noqa: E402
from captcha_lib import Reader  # noqa: E402
from captcha_lib import Reader  # noqa: E402
from captcha_lib import Vocabulary  # noqa: E402

# Everything the exported model's runtime must do without (numpy, Pillow, onnxruntime only).
HEAVY = ("torch", "albumentations", "cv2", "captcha", "matplotlib", "sklearn", "tqdm")


@pytest.fixture(scope="module")
def exported(trained_checkpoint, tmp_path_factory):
    return export_onnx(trained_checkpoint, tmp_path_factory.mktemp("onnx") / "model.onnx")


def test_logits_and_texts_match_pytorch(trained_checkpoint, exported, tiny_dataset):
    paths = list_images(tiny_dataset / "val") + list_images(tiny_dataset / "train")[:20]
    torch_reader = Reader.from_checkpoint(trained_checkpoint, device="cpu")
    onnx_reader = Reader.from_onnx(exported)
    batch = np.stack(torch_reader.preprocess(paths))  # (B, 3, H, W): the same input for both
    with torch.inference_mode():
        expected, _ = torch_reader.model(torch.from_numpy(batch))
    logits = onnx_reader.run(batch)
    np.testing.assert_allclose(torch_reader.run(batch), expected.numpy(), atol=0, rtol=0)  # one API, both arrays
    assert logits.shape == tuple(expected.shape)  # (T, B, C)
    np.testing.assert_allclose(logits, expected.numpy(), atol=1e-4, rtol=0)
    assert onnx_reader.predict(paths) == torch_reader.predict(paths)
    for decoder in (Decoder("beam", 8), Decoder("constrained", 8, 3, 4)):
        torch_texts = [r.text for r in Reader.from_checkpoint(trained_checkpoint, decoder=decoder).read(paths)]
        assert [r.text for r in Reader.from_onnx(exported, decoder=decoder).read(paths)] == torch_texts


def test_mixed_widths_read_as_one_by_one_in_both_backends(trained_checkpoint, exported, tiny_dataset):
    # the same CAPTCHAs at three aspect ratios: 104, 160 and 344 pixels wide once resized
    images = [Image.open(p).convert("RGB") for p in list_images(tiny_dataset / "val")[:6]]
    images = [image.resize((image.width * factor // 2, image.height)) for image, factor in zip(images, [2, 3, 6] * 2)]
    for reader in (Reader.from_checkpoint(trained_checkpoint), Reader.from_onnx(exported)):
        alone = [reader.read([image])[0] for image in images]
        together = reader.read(images)
        assert [r.text for r in together] == [r.text for r in alone]
        assert [r.confidence for r in together] == pytest.approx([r.confidence for r in alone], abs=1e-5)


def test_batch_and_width_are_dynamic(trained_checkpoint, exported):
    reader = Reader.from_onnx(exported)
    stride = Reader.from_checkpoint(trained_checkpoint).model.stride
    for batch, width in [(1, 160), (7, 160), (3, 208)]:
        logits = reader.run(np.zeros((batch, 3, 40, width), np.float32))
        assert logits.shape == (width // stride, batch, reader.vocabulary.num_characters + 1)  # T = W / stride


def test_metadata_carries_what_reading_needs(trained_checkpoint, exported):
    reader = Reader.from_onnx(exported)
    torch_reader = Reader.from_checkpoint(trained_checkpoint, device="cpu")
    assert reader.vocabulary == torch_reader.vocabulary
    assert reader.image_size == torch_reader.image_size == (40, 512)
    assert reader.model_name == "crnn" and reader.metadata["label_lengths"] == [3, 4]


def test_the_reference_model_exports_too(tmp_path):
    vocab = Vocabulary("ABC")
    checkpoint = save_checkpoint(tmp_path / "ref.pt", ReferenceModel(vocab.num_characters).eval(), vocab, (40, 150))
    reader = Reader.from_onnx(export_onnx(checkpoint, tmp_path / "ref.onnx"))
    batch = np.random.default_rng(0).normal(size=(2, 3, 40, 150)).astype(np.float32)
    with torch.inference_mode():
        expected, _ = Reader.from_checkpoint(checkpoint, device="cpu").model(torch.from_numpy(batch))
    np.testing.assert_allclose(reader.run(batch), expected.numpy(), atol=1e-4, rtol=0)


def test_predict_with_onnx_runs_without_torch(trained_checkpoint, exported, tiny_dataset):
    paths = [str(p) for p in list_images(tiny_dataset / "val")]
    expected = Reader.from_checkpoint(trained_checkpoint, device="cpu").read(paths)
    # A fresh interpreter where importing torch (or OpenCV, albumentations, ...) fails.
    code = ("import sys\n"
            f"for name in {HEAVY!r}: sys.modules[name] = None\n"
            "from captcha_lib.cli import main\n"
            "status = main(sys.argv[1:])\n"
            f"assert not any(name in sys.modules and sys.modules[name] is not None for name in {HEAVY!r})\n"
            "sys.exit(status)\n")
    result = subprocess.run([sys.executable, "-c", code, "predict", "--onnx", str(exported), "--confidence", *paths],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    rows = [line.split("\t") for line in result.stdout.splitlines()]
    assert [row[0] for row in rows] == paths
    assert [row[1] for row in rows] == [r.text for r in expected]
    assert [float(row[2]) for row in rows] == pytest.approx([r.confidence for r in expected], abs=1e-4)


def test_bad_onnx_files_are_clear_errors(tmp_path, trained_checkpoint):
    with pytest.raises(CheckpointError, match="does not exist"):
        Reader.from_onnx(tmp_path / "missing.onnx")
    garbage = tmp_path / "garbage.onnx"
    garbage.write_bytes(b"not a model")
    with pytest.raises(CheckpointError, match="garbage.onnx is not an ONNX model"):
        Reader.from_onnx(garbage)
    foreign = tmp_path / "foreign.onnx"  # a valid ONNX model without our metadata
    x = onnx.helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1])
    y = onnx.helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1])
    onnx.save(onnx.helper.make_model(onnx.helper.make_graph([onnx.helper.make_node("Identity", ["x"], ["y"])],
                                                             "identity", [x], [y])), str(foreign))
    with pytest.raises(CheckpointError, match="not one exported by captcha_lib"):
        Reader.from_onnx(foreign)
    with pytest.raises(CheckpointError, match="is not a captcha_lib checkpoint"):
        export_onnx(garbage, tmp_path / "out.onnx")


# The modules that reading with an exported model needs: none may import torch or the training code.
READ_PATH = ("captcha_lib.defaults", "captcha_lib.errors", "captcha_lib.data.vocab", "captcha_lib.data.images",
             "captcha_lib.data.labels", "captcha_lib.decoding.decoders", "captcha_lib.decoding.metrics",
             "captcha_lib.decoding.evaluation", "captcha_lib.deploy.reader", "captcha_lib.deploy.onnx_reader")


def test_the_read_path_imports_and_reads_without_torch(exported, tiny_dataset):
    paths = [str(p) for p in list_images(tiny_dataset / "val")]
    expected = [r.text for r in Reader.from_onnx(exported).read(paths)]
    code = ("import importlib, sys\n"
            f"for name in {HEAVY!r}: sys.modules[name] = None  # importing any of them now fails\n"
            f"for module in {READ_PATH!r}: importlib.import_module(module)\n"
            "from captcha_lib import Reader, evaluate_decoders\n"
            f"reader = Reader.from_onnx({str(exported)!r})\n"
            f"print('\\t'.join(r.text for r in reader.read({paths!r})))\n"
            f"report, _ = evaluate_decoders(reader, {paths!r})\n"
            "loaded = [m for m in sys.modules if m.startswith(('captcha_lib.training', 'captcha_lib.model'))]\n"
            "assert not loaded, loaded\n")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.rstrip("\n").split("\t") == expected


def test_evaluate_reads_an_onnx_model_as_it_reads_a_checkpoint(trained_checkpoint, exported, tiny_dataset):
    import json

    def evaluate(*model):
        result = subprocess.run([sys.executable, "-m", "captcha_lib", "evaluate", *model, "--data", str(tiny_dataset),
                                 "--decoders", "greedy", "beam:4"], capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        report = json.loads(result.stdout)
        return {name: decoder["sequence_accuracy"] for name, decoder in report["decoders"].items()}

    assert evaluate("--onnx", str(exported)) == evaluate("--checkpoint", str(trained_checkpoint))
