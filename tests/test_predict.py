import numpy as np
import pytest
from PIL import Image

from captcha_lib import save_checkpoint
from captcha_lib import list_images
from captcha_lib import ImageError
from captcha_lib import CRNN
from captcha_lib import Reader
from captcha_lib import set_seed
from captcha_lib import Vocabulary


@pytest.fixture
def predictor(tmp_path):
    set_seed(0)
    vocab = Vocabulary("ABC123")
    path = save_checkpoint(tmp_path / "model.pt", CRNN(vocab.num_characters), vocab, (40, 150))
    return Reader.from_checkpoint(path, device="cpu", batch_size=5)


def test_paths_pil_images_and_arrays_give_the_same_text(predictor, tiny_dataset):
    paths = list_images(tiny_dataset / "val")
    from_paths = predictor.predict(paths)
    from_pil = predictor.predict([Image.open(p) for p in paths])
    from_arrays = predictor.predict([np.asarray(Image.open(p).convert("RGB")) for p in paths])
    assert len(from_paths) == len(paths) == 12  # 12 images in batches of 5
    assert from_paths == from_pil == from_arrays
    assert all(set(text) <= set("ABC123") for text in from_paths)
    assert predictor.predict_one(paths[0]) == from_paths[0]


def test_logits_shape(predictor, tiny_dataset):
    paths = list_images(tiny_dataset / "val")[:3]
    # 160x60 images: 112 pixels wide at 40 high, 8 pixels a timestep
    assert predictor.logits(paths).shape == (14, 3, 7)


def test_unreadable_image_is_a_clear_error(predictor, tmp_path):
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG not really")
    with pytest.raises(ImageError, match="broken.png"):
        predictor.predict([bad])


def test_read_gives_the_same_texts_with_their_confidence(predictor, tiny_dataset):
    from captcha_lib import Decoder, text_log_probability

    paths = list_images(tiny_dataset / "val")
    readings = predictor.read(paths)
    assert [r.text for r in readings] == predictor.predict(paths)
    logits = predictor.logits(paths[:5])  # one batch of 5
    labels = [predictor.vocabulary.encode(r.text) for r in readings[:5]]
    expected = np.exp(text_log_probability(logits, labels)).tolist()
    assert [r.confidence for r in readings[:5]] == pytest.approx(expected)
    constrained = Reader.from_checkpoint(predictor.path, batch_size=5,
                                         decoder=Decoder("constrained", 4, min_length=3, max_length=3))
    assert all(len(text) == 3 for text in constrained.predict(paths))


def test_the_upload_widget_reads_what_is_uploaded_and_names_what_it_cannot(trained_checkpoint, tiny_dataset):
    import datetime

    from captcha_lib.course.upload import read_uploads, upload_widget, uploaded_files

    reader = Reader.from_checkpoint(trained_checkpoint)
    path = list_images(tiny_dataset / "val")[0]
    png = path.read_bytes()
    files = [("mine.png", png), ("notes.png", b"not an image")]
    results = read_uploads(reader, files)
    assert results[0]["text"] == reader.predict([path])[0] and results[0]["error"] == ""
    assert results[1]["text"] == "" and "is not an image" in results[1]["error"]
    # ipywidgets 8's value, and ipywidgets 7's, give the same files
    v8 = tuple({"name": n, "type": "image/png", "size": len(d), "content": memoryview(d),
                "last_modified": datetime.datetime.now(datetime.timezone.utc)} for n, d in files)
    assert uploaded_files(v8) == files
    assert uploaded_files({n: {"content": d, "metadata": {}} for n, d in files}) == files
    widget = upload_widget(reader)
    upload, shown = widget.children
    upload.value = v8  # what the browser does when files are chosen
    assert len(shown.children) == 2 and "is not an image" in shown.children[1].value
