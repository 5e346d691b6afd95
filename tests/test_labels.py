"""Labels the way data sets come: file names, a pattern on the name, or a labels file."""

import shutil

import pytest

from captcha_lib import (ConfigError, DataError, Labeller, TrainConfig, list_images, load_checkpoint, render,
                         split_paths, train_run)


@pytest.fixture
def numbered(tmp_path):
    """Six rendered images named 0.png ... 5.png, their texts only in a labels file."""
    folder = tmp_path / "images"
    folder.mkdir()
    texts = ["Ab12", "b1A2", "12Ab", "2bA1", "A1b2", "bA21"]  # every text holds every character
    for index, text in enumerate(texts):
        render(text, seed=index).save(folder / f"{index}.png")
    return folder, texts


def test_a_tab_separated_list_with_paths_relative_to_it(numbered):
    folder, texts = numbered
    listing = folder.parent / "labels.txt"
    listing.write_text("".join(f"images/{i}.png\t{text}\n" for i, text in enumerate(texts)))
    labeller = Labeller(file=listing)
    assert [labeller(folder / f"{i}.png") for i in range(6)] == texts  # case kept
    assert Labeller(file=listing, ignore_case=True)(folder / "2.png") == "12ab"


def test_a_csv_with_or_without_its_header(numbered):
    folder, texts = numbered
    (folder / "labels.csv").write_text("file,text\n" + "".join(f"{i}.png,{t}\n" for i, t in enumerate(texts)))
    assert Labeller(file=folder / "labels.csv")(folder / "3.png") == "2bA1"
    (folder / "bare.csv").write_text("".join(f"{i}.png,{t}\n" for i, t in enumerate(texts)))
    assert Labeller(file=folder / "bare.csv")(folder / "5.png") == "bA21"


@pytest.mark.parametrize("content, fragment", [
    ("0.png\tAb12\n9.png\tZZ\n", "line 2: image 9.png does not exist"),
    ("0.png\tAB12\n1.png\t\n", "line 2: the label of 1.png is empty"),
    ("0.png\tAB12\n0.png\tBA21\n", "line 2: 0.png is listed twice (first on line 1)"),
    ("0.png AB12\n", "line 1: expected path<TAB>text, got 1 fields"),
    ("0.png\tAB\t12\n", "line 1: expected path<TAB>text, got 3 fields"),
    ("\n\n", "lists no images"),
])
def test_a_bad_labels_file_names_the_file_and_line(numbered, content, fragment):
    folder, _ = numbered
    listing = folder / "labels.tsv"
    listing.write_text(content)
    with pytest.raises(DataError, match="labels.tsv") as error:
        Labeller(file=listing)
    assert fragment in str(error.value)


def test_an_image_missing_from_the_labels_file(numbered):
    folder, _ = numbered
    (folder / "labels.tsv").write_text("0.png\tAB12\n")
    with pytest.raises(DataError, match="1.png has no label in"):
        list_images(folder, Labeller(file=folder / "labels.tsv"))


def test_a_pattern_on_the_file_name(tmp_path):
    for name in ("AB12-3.png", "BA21-10.png"):
        render("AB12", seed=0).save(tmp_path / name)
    assert Labeller(pattern=r"(.+)-\d+")(tmp_path / "BA21-10.png") == "BA21"
    assert Labeller(pattern=r"\d+_(?P<text>.+)")(tmp_path / "3_Xy7.jpg") == "Xy7"
    with pytest.raises(DataError, match="does not match the label pattern"):
        Labeller(pattern=r"(.+)_\d+")(tmp_path / "AB12-3.png")
    with pytest.raises(ConfigError, match="needs a group"):
        Labeller(pattern=r".+-\d+")
    with pytest.raises(ConfigError, match="not a regular expression"):
        Labeller(pattern=r"(.+")
    with pytest.raises(ConfigError, match="not both"):
        Labeller(file=tmp_path / "x.csv", pattern="(.+)")


def test_train_and_evaluate_with_a_labels_file(numbered, tmp_path):
    import subprocess
    import sys

    folder, texts = numbered
    for copy in range(3):  # 24 images of 6 texts, split by label: copies never straddle train and val
        for i in range(6):
            shutil.copy(folder / f"{i}.png", folder / f"{i}_{copy}.png")
    listing = tmp_path / "labels.csv"
    listing.write_text("".join(f"images/{p.name},{texts[int(p.stem.split('_')[0])]}\n" for p in sorted(folder.glob("*.png"))))
    labeller = Labeller(file=listing)
    train, val = split_paths(folder, 0.34, seed=0, labeller=labeller)
    assert {labeller(p) for p in train}.isdisjoint({labeller(p) for p in val})
    trainer = train_run(TrainConfig(data=str(folder), out=str(tmp_path / "run"), labels=str(listing), epochs=1,
                                    batch_size=8, progress=False, val_fraction=0.34), log=lambda *_: None)
    _, vocabulary, _ = load_checkpoint(tmp_path / "run" / "model.pt")
    assert vocabulary.characters == trainer.vocabulary.characters == "12Ab"  # from the file, case kept
    result = subprocess.run([sys.executable, "-m", "captcha_lib", "evaluate", "--checkpoint", str(tmp_path / "run" / "model.pt"),
                             "--data", str(folder), "--labels", str(listing), "--decoders", "greedy"],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and '"n": 24' in result.stdout, result.stderr
    result = subprocess.run([sys.executable, "-m", "captcha_lib", "train", "--data", str(folder), "--out",
                             str(tmp_path / "run2"), "--labels", str(tmp_path / "missing.csv")],
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 2 and result.stderr.startswith("error: labels file") and "missing.csv" in result.stderr
