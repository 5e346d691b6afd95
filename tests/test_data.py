import io
import numpy as np
import pytest
import torch
from PIL import Image

from captcha_lib import (CaptchaDataset, collate_batch, label_from_path, list_images, load_datasets,
                              make_loader, preprocess, split_paths, training_augmentation)
from captcha_lib import DataError, NotAnImageError, UnknownCharacterError
from captcha_lib import ImageError, load_image
from captcha_lib.data.images import (IMAGENET_MEAN, IMAGENET_STD, WIDTH_MULTIPLE, fitted_width, pad_batch,
                                     resize_image)
from captcha_lib import render
from captcha_lib import Vocabulary
from captcha_lib.defaults import MIXED_CASE_ALPHABET


def write_images(folder, names, style="default"):
    folder.mkdir(parents=True, exist_ok=True)
    for i, name in enumerate(names):
        image = render(label_from_path(name), seed=i, style=style)
        fmt = {"jpg": "JPEG", "jpeg": "JPEG"}.get(name.rsplit(".", 1)[1].lower())
        image.convert("RGB").save(folder / name, format=fmt)
    return folder


@pytest.mark.parametrize("path,label", [
    ("Dataset/train/8AE5T.jpg", "8AE5T"), ("8AE5T_3.png", "8AE5T"), ("x/y/abc.def.PNG", "abc"),
])
def test_label_from_file_name(path, label):
    assert label_from_path(path) == label


def test_list_images_takes_every_extension_in_any_case_and_ignores_other_files(tmp_path):
    names = ["AB1.png", "AB2.JPG", "AB3.jpeg", "AB4.bmp", "AB5.gif", "AB6.webp", "AB7.PnG"]
    write_images(tmp_path, names)
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / "sub").mkdir()
    assert [p.name for p in list_images(tmp_path)] == sorted(names)


def test_missing_and_empty_folders_are_clear_errors(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        list_images(tmp_path / "nope")
    (tmp_path / "readme.md").write_text("x")
    with pytest.raises(DataError, match="has no images"):
        list_images(tmp_path)


@pytest.mark.parametrize("mode", ["L", "P", "RGBA", "CMYK", "I;16", "1"])
def test_any_image_mode_becomes_rgb(tmp_path, mode):
    source = render("AB12", seed=1)
    image = source.convert(mode) if mode != "I;16" else source.convert("L").convert("I;16")
    path = tmp_path / ("AB12.tiff" if mode in ("CMYK", "I;16") else "AB12.png")
    image.save(path)
    array = load_image(path)
    assert array.dtype == np.uint8 and array.ndim == 3 and array.shape[2] == 3
    assert array.shape[:2] == (60, 160)


def test_arrays_and_pil_images_load_too():
    gray = np.full((50, 200), 128, dtype=np.uint8)
    assert load_image(gray).shape == (50, 200, 3)
    assert load_image(np.zeros((50, 200, 4), np.uint8)).shape == (50, 200, 3)
    assert load_image(np.ones((50, 200, 3), np.float32)).max() == 255
    assert load_image(Image.new("LA", (20, 10))).shape == (10, 20, 3)
    with pytest.raises(ImageError, match="image array"):
        load_image(np.zeros((2, 3, 4, 5)))


@pytest.mark.parametrize("damage", ["cut mid-IDAT", "scrambled IDAT", "cut JPEG"])
def test_a_cut_off_or_damaged_file_is_refused_by_name(tmp_path, damage):
    path = tmp_path / ("ABC.jpg" if "JPEG" in damage else "ABC.png")
    render("ABC", seed=0).save(path)
    data = bytearray(path.read_bytes())
    if damage == "scrambled IDAT":
        start = data.index(b"IDAT") + 40
        data[start:start + 200] = bytes(reversed(data[start:start + 200]))
    else:
        data = data[: len(data) * 2 // 3]
    path.write_bytes(bytes(data))
    with pytest.raises(ImageError, match="ABC"):
        load_image(path)


def test_every_pillow_mode_reads_as_it_looks():
    ramp = np.linspace(0, 1, 64).reshape(1, 64).repeat(8, axis=0)  # (8, 64): black to white
    expected = np.round(ramp * 255)
    sixteen = Image.fromarray((ramp * 65535).astype(np.uint16))
    images = (sixteen, Image.fromarray((ramp * 4000).astype(np.int32)), Image.fromarray(ramp.astype(np.float32)),
              Image.fromarray(expected.astype(np.uint8)))
    assert [image.mode for image in images] == ["I;16", "I", "F", "L"]
    for image in images:
        rgb = load_image(image)
        assert rgb.shape == (8, 64, 3) and rgb.dtype == np.uint8, image.mode
        assert np.abs(rgb[..., 0].astype(int) - expected).max() <= 1, image.mode  # not clipped to white
    encoded = io.BytesIO()
    sixteen.save(encoded, format="PNG")
    assert np.abs(load_image(encoded.getvalue())[..., 1].astype(int) - expected).max() <= 1  # as a file too
    clear = Image.new("RGBA", (4, 4), (0, 0, 0, 0))  # fully transparent black: shown as white
    assert (load_image(clear) == 255).all() and (load_image(clear.convert("LA")) == 255).all()
    palette = Image.new("P", (4, 4), 0)
    palette.putpalette([0, 0, 0] * 256)
    palette.info["transparency"] = 0
    assert (load_image(palette) == 255).all()
    half = Image.new("RGBA", (2, 2), (0, 0, 0, 128))
    assert 120 <= load_image(half)[0, 0, 0] <= 135  # half-transparent black on white: mid gray


def test_a_file_that_is_not_an_image_names_the_file(tmp_path):
    path = tmp_path / "ABC.png"
    path.write_bytes(b"this is not a png at all")
    with pytest.raises(NotAnImageError, match="ABC.png.*is not an image"):
        load_image(path)
    vocab = Vocabulary("ABC")
    with pytest.raises(ImageError, match="ABC.png"):
        CaptchaDataset([path], vocab)


def test_preprocess_is_resize_normalise_chw():
    image = render("8AE5T", seed=3)
    tensor = preprocess(image)  # 160x60 -> 40 high, 107 wide kept, rounded to a multiple of 16
    assert tensor.shape == (3, 40, 112) and tensor.dtype == np.float32
    # ImageNet normalisation: a pure white pixel maps to (1 - mean) / std per channel
    white = preprocess(np.full((60, 160, 3), 255, np.uint8))
    expected = [(1 - m) / s for m, s in zip(IMAGENET_MEAN, IMAGENET_STD)]
    assert white[:, 0, 0].tolist() == pytest.approx(expected, rel=1e-5)
    assert preprocess(image, (32, 64)).shape == (3, 32, 64)  # squeezed to the largest width


def test_resize_keeps_the_aspect_ratio_so_wide_captchas_stay_readable():
    wide = np.zeros((80, 690, 3), np.uint8)  # 8 characters, 86 pixels each
    assert resize_image(wide).shape == (40, 352, 3)  # glyphs 43 pixels wide at 40 high: as drawn
    assert resize_image(np.zeros((50, 200, 3), np.uint8)).shape == (40, 160, 3)
    assert resize_image(np.zeros((50, 2000, 3), np.uint8)).shape == (40, 512, 3)  # the cap
    assert resize_image(np.zeros((100, 20, 3), np.uint8)).shape == (40, 48, 3)  # at least square
    assert fitted_width(50, 200, (40, 512)) % WIDTH_MULTIPLE == 0


def test_pad_batch_pads_on_the_right_and_keeps_widths():
    images = [np.ones((3, 40, w), np.float32) for w in (16, 32, 24)]
    batch, widths = pad_batch(images)
    assert batch.shape == (3, 3, 40, 32) and widths.tolist() == [16, 32, 24]
    assert batch[0, :, :, :16].min() == 1 and batch[0, :, :, 16:].max() == 0  # 0: the mean colour


def test_reference_layout_and_flat_split(tmp_path):
    write_images(tmp_path / "ref" / "train", ["AB1.png", "BA2.png"])
    write_images(tmp_path / "ref" / "val", ["AB2.png"])
    train, val = split_paths(tmp_path / "ref")
    assert [p.name for p in train] == ["AB1.png", "BA2.png"] and [p.name for p in val] == ["AB2.png"]

    names = [f"{a}{b}{c}.png" for a in "AB" for b in "12" for c in "AB12"] + ["AA11_1.png", "AA11_2.png", "AA11.png"]
    write_images(tmp_path / "flat", names)
    first = split_paths(tmp_path / "flat", val_fraction=0.25, seed=3)
    again = split_paths(tmp_path / "flat", val_fraction=0.25, seed=3)
    other = split_paths(tmp_path / "flat", val_fraction=0.25, seed=4)
    assert first == again and first != other
    train_labels = {label_from_path(p) for p in first[0]}
    val_labels = {label_from_path(p) for p in first[1]}
    assert not train_labels & val_labels  # copies of one label stay on one side
    assert len(first[0]) + len(first[1]) == len(names)
    assert len(val_labels) == 5  # ceil(0.25 * 17 distinct labels)


def test_validation_label_with_unknown_character_names_file_and_character(tmp_path):
    write_images(tmp_path / "train", ["AB1.png", "BA2.png"])
    write_images(tmp_path / "val", ["AZ1.png"])
    with pytest.raises(UnknownCharacterError) as info:
        load_datasets(tmp_path)
    assert "AZ1.png" in str(info.value) and "'Z'" in str(info.value)


def test_train_gives_a_character_only_in_val_its_row_and_says_so(tmp_path):
    """A few labels split at random can leave a character only in val: `train` runs, with a note."""
    from captcha_lib import TrainConfig, train_run

    write_images(tmp_path / "flat", ["AB1.png", "BA2.png", "A12.png", "B21.png", "AZ1.png"])
    seed = next(s for s in range(50) if [p.name for p in split_paths(tmp_path / "flat", 0.1, s)[1]] == ["AZ1.png"])
    lines = []
    train_run(TrainConfig.recipe("crnn", data=str(tmp_path / "flat"), out=str(tmp_path / "run"), steps=2, batch_size=4,
                                 seed=seed, device="cpu", progress=False),
              log=lambda *args: lines.append(" ".join(map(str, args))))
    assert "note: 'Z' only in the val images (AZ1.png): no training image teaches it" in lines, lines
    checkpoint = torch.load(tmp_path / "run" / "model.pt", weights_only=True)
    assert checkpoint["vocabulary"]["characters"] == "12ABZ"


def test_dataset_batches_labels_of_different_lengths(tiny_dataset):
    train, val = load_datasets(tiny_dataset)
    assert len(train) == 48 and len(val) == 12
    assert len(train.images) == 48 and train.images[0].dtype == np.uint8  # decoded once, cached
    assert train.images[0].shape == (40, 112, 3)
    batch = next(iter(make_loader(train, batch_size=8)))
    assert batch["images"].shape == (8, 3, 40, 112) and batch["widths"].tolist() == [112] * 8
    lengths = [len(label) for label in batch["labels"]]
    assert batch["target_lengths"].tolist() == lengths
    assert batch["targets"].shape == (sum(lengths),)
    assert train.vocabulary.decode(batch["targets"][: lengths[0]].tolist()) == batch["labels"][0]


def test_loader_order_depends_on_seed_only(tiny_dataset):
    train, _ = load_datasets(tiny_dataset)
    order = lambda seed: [b["labels"] for b in make_loader(train, 16, shuffle=True, seed=seed)]
    assert order(1) == order(1) and order(1) != order(2)


def test_augmentation_keeps_shape_and_is_seeded(tiny_dataset):
    train, _ = load_datasets(tiny_dataset, augment=True)
    assert train.augment is not None
    item = train[0]
    assert item["image"].shape == (3, 40, 112)
    image = train.images[0]
    a = [training_augmentation(seed=5)(image=image)["image"] for _ in range(2)]
    assert np.array_equal(a[0], a[1])
    assert not np.array_equal(training_augmentation(seed=6)(image=image)["image"], a[0])


def test_collate_concatenates_targets_and_pads_images():
    samples = [{"image": torch.ones(3, 40, 80), "target": torch.tensor([1, 2, 3]), "label": "ABC"},
               {"image": torch.ones(3, 40, 160), "target": torch.tensor([4]), "label": "D"}]
    batch = collate_batch(samples)
    assert batch["targets"].tolist() == [1, 2, 3, 4]
    assert batch["target_lengths"].tolist() == [3, 1]
    assert batch["images"].shape == (2, 3, 40, 160) and batch["widths"].tolist() == [80, 160]
    assert batch["images"][0, :, :, 80:].abs().sum() == 0  # right-padded with the mean colour


def test_auto_augmentation_only_for_small_training_sets(tiny_dataset, monkeypatch):
    import captcha_lib.data.datasets as data

    assert load_datasets(tiny_dataset, augment="auto")[0].augment is not None  # 48 images: small
    monkeypatch.setattr(data, "SMALL_TRAINING_SET", 10)
    assert load_datasets(tiny_dataset, augment="auto")[0].augment is None
    assert load_datasets(tiny_dataset, augment=False)[0].augment is None


def test_resizing_to_the_same_size_changes_nothing(tiny_dataset):
    from captcha_lib import resize_image
    from captcha_lib.data.images import _bilinear_taps

    image = resize_image(load_image(list_images(tiny_dataset / "train")[0]))  # (40, 150, 3)
    assert resize_image(image) is image  # the shortcut the service relies on ...
    left, right, weight = _bilinear_taps(150, 150)
    assert (left == np.arange(150)).all() and not weight.any()  # ... is what the taps would compute


def test_shuffled_batches_group_similar_widths(tmp_path):
    from captcha_lib import generate_dataset
    from captcha_lib.data.datasets import SimilarWidths

    widths = [16 * (1 + i % 20) for i in range(203)]
    batches = list(SimilarWidths(widths, 8, torch.Generator().manual_seed(0), window=5))
    assert sorted(i for batch in batches for i in batch) == list(range(203)) and len(batches) == 26
    assert batches == list(SimilarWidths(widths, 8, torch.Generator().manual_seed(0), window=5))  # the seed's order
    spread = np.mean([max(widths[i] for i in b) - min(widths[i] for i in b) for b in batches])
    assert spread < 100  # random batches of 8 from 16..320 would spread about 240 pixels
    generate_dataset(tmp_path, n_train=24, n_val=0, seed=0, style="wide", workers=1)
    train = CaptchaDataset(list_images(tmp_path / "train"), Vocabulary(MIXED_CASE_ALPHABET))
    loader = make_loader(train, batch_size=8, shuffle=True, seed=0)
    assert isinstance(loader.batch_sampler, SimilarWidths) and len(loader) == 3


# ---------------------------------------------------------------- hostile bytes, every mode

from hypothesis import given, strategies as st  # noqa: E402

_PNG = io.BytesIO()
render("AB3", seed=0).save(_PNG, format="PNG")
_PNG = _PNG.getvalue()


@given(st.binary(max_size=3000))
def test_random_bytes_are_an_image_error_or_an_rgb_image(data):
    try:
        rgb = load_image(data)
    except ImageError:
        return
    assert rgb.ndim == 3 and rgb.shape[2] == 3 and rgb.dtype == np.uint8


@given(st.lists(st.tuples(st.integers(0, len(_PNG) - 1), st.integers(0, 255)), min_size=1, max_size=20))
def test_a_damaged_png_is_an_image_error_or_an_rgb_image(changes):
    data = bytearray(_PNG)
    for position, value in changes:
        data[position] = value
    try:
        rgb = load_image(bytes(data))
    except ImageError:
        return
    assert rgb.shape == (60, 160, 3) and rgb.dtype == np.uint8


@given(mode=st.sampled_from(["1", "L", "LA", "P", "PA", "RGB", "RGBA", "CMYK", "YCbCr", "I", "I;16", "F", "HSV"]),
       width=st.integers(1, 30), height=st.integers(1, 30), fill=st.integers(0, 255))
def test_every_mode_becomes_rgb(mode, width, height, fill):
    bands = len(Image.new(mode, (1, 1)).getbands())
    image = Image.new(mode, (width, height), fill if bands == 1 else tuple([fill] * bands))
    rgb = load_image(image)
    assert rgb.shape == (height, width, 3) and rgb.dtype == np.uint8
