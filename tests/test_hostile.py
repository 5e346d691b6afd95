"""The hostile-input sweep: bad options, files and checkpoints through the real command line.

Every probe must end with exit status 2, one `error:` line naming what is wrong, no
traceback, and nothing half-written left behind.
"""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from captcha_lib import render

# (command line with placeholders, a fragment the one-line message must hold)
PROBES = [
    ("generate --train -5 --out {tmp}/g", "--train"),
    ("generate --val x --out {tmp}/g", "--val"),
    ("generate --length 500 --out {tmp}/g", "length"),
    ("generate --length 0 --out {tmp}/g", "length"),
    ("generate --alphabet A_B --out {tmp}/g", "alphabet"),
    ("generate --style neon --out {tmp}/g", "--style"),
    ("generate --workers 0 --out {tmp}/g", "--workers"),
    ("generate --out {file} --train 2", "is a file"),
    ("train --data {data} --out {tmp}/r --epochs 0", "epochs"),
    ("train --data {data} --out {tmp}/r --lr -1", "lr"),
    ("train --data {data} --out {tmp}/r --lr nan", "lr"),
    ("train --data {data} --out {tmp}/r --lr inf", "lr"),
    ("train --data {data} --out {tmp}/r --batch-size 0", "batch_size"),
    ("train --data {data} --out {tmp}/r --device bogus", "device"),
    pytest.param("train --data {data} --out {tmp}/r --device cuda", "no CUDA GPU",
                 marks=pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")),
    ("train --data {damaged} --out {tmp}/r", "{victim} is not a readable image (image file is truncated)"),
    ("train --data {data} --out {tmp}/r --workers -1", "workers"),
    ("train --data {data} --out {tmp}/r --max-minutes -1", "max_minutes"),
    ("train --data {data} --out {tmp}/r --steps -3", "steps"),
    ("train --data {data} --out {tmp}/r --image-size 0x0", "image size"),
    ("train --data {data} --out {tmp}/r --val-fraction 2", "val_fraction"),
    ("train --data {data} --out {tmp}/r --schedule linear", "--schedule"),
    ("train --data {data} --out {tmp}/r --model resnet", "--model"),
    ("train --data {data} --out {tmp}/r --time-stride 3", "--time-stride"),
    ("train --data {data} --out {tmp}/r --coarse-factor 1", "coarse_factor"),
    ("train --data {data} --out {tmp}/r --target-accuracy 2", "target_accuracy"),
    ("train --data {data} --out {tmp}/r --labels {tmp}/none.tsv", "none.tsv"),
    ("train --data {data} --out {tmp}/r --label-pattern (", "pattern"),
    ("train --data {data} --out {tmp}/r --init {tmp}/none.pt", "none.pt"),
    ("train --data {data} --out {tmp}/r --init {garbage}", "garbage.pt"),
    ("train --data {data} --out {file}", "is a file"),
    ("train --data {tmp}/none --out {tmp}/r", "does not exist"),
    ("train --data {empty} --out {tmp}/r", "has no images"),
    ("train --data {data} --out {run}", "already holds a trained model"),
    ("train --resume {tmp}/none", "no last.pt"),
    ("predict --checkpoint {ckpt} --batch-size 0 {image}", "--batch-size"),
    ("predict --checkpoint {ckpt} --batch-size -1 {image}", "--batch-size"),
    ("predict --checkpoint {ckpt} --decoder bogus {image}", "decoder"),
    ("predict --checkpoint {ckpt} --decoder constrained --decode-alphabet ?! {image}", "?"),
    ("predict --checkpoint {ckpt} {tmp}/none.png", "does not exist"),
    ("predict --checkpoint {ckpt} {corrupt}", "ABC.png"),
    ("predict --checkpoint {garbage} {image}", "garbage.pt"),
    ("predict --checkpoint {crafted_no_vocabulary} {image}", "no_vocabulary.pt"),
    ("predict --checkpoint {crafted_model} {image}", "unknown model"),
    ("predict --checkpoint {crafted_size} {image}", "image_size"),
    ("predict --checkpoint {crafted_version} {image}", "version"),
    ("predict --checkpoint {crafted_hidden} {image}", "hidden_size"),
    ("predict --checkpoint {pickle} {image}", "pickle.pt"),  # code in a pickle: refused, never run
    ("evaluate --checkpoint {ckpt} --data {data} --batch-size 0", "--batch-size"),
    ("evaluate --checkpoint {ckpt} --data {data} --errors {tmp}", "is a folder"),
    ("evaluate --checkpoint {ckpt} --data {tmp}/none", "does not exist"),
    ("export --checkpoint {ckpt} --out {tmp}", "is a folder"),
    ("export --checkpoint {garbage} --out {tmp}/m.onnx", "garbage.pt"),
    ("calibrate --checkpoint {ckpt} --data {data} --target-accuracy 0", "target accuracy"),
    ("label --checkpoint {ckpt} --in {tmp}/none --out {tmp}/l", "does not exist"),
    ("label --checkpoint {ckpt} --in {empty} --out {tmp}/l", "has no images"),
    ("label --checkpoint {ckpt} --in {data}/val --out {tmp}/l --threshold 7", "threshold"),
    ("serve --checkpoint {ckpt} --port 99999", "port"),
    ("serve --checkpoint {ckpt} --port 0", "--port"),
    ("serve --checkpoint {ckpt} --request-timeout 0", "--request-timeout"),
    ("serve --checkpoint {ckpt} --max-connections 0", "--max-connections"),
    ("serve --checkpoint {garbage}", "garbage.pt"),
    ("pretrain --steps 0 --out {tmp}/p", "--steps"),
    ("pretrain --out {file}", "is a file"),
    ("pretrain --workers -1 --out {tmp}/p", "--workers"),
]


class _RunsCode:
    """Unpickling this would run a shell command: a checkpoint must never be loaded that way."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return os.system, (f"touch {self.marker}",)


@pytest.fixture(scope="module")
def places(tiny_dataset, trained_checkpoint, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("hostile")
    (tmp / "empty").mkdir()
    (tmp / "a_file").write_text("not a folder")
    (tmp / "garbage.pt").write_bytes(b"\x80\x04 not a checkpoint")
    (tmp / "ABC.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    image = tmp / "7AB.png"
    render("7AB", seed=1).save(image)
    good = torch.load(trained_checkpoint, weights_only=True)
    crafted = {"no_vocabulary": lambda c: c.pop("vocabulary"), "model": lambda c: c.update(model_name="resnet"),
               "size": lambda c: c.update(image_size=[0, 0]), "version": lambda c: c.update(version="2"),
               "hidden": lambda c: c["model_config"].update(hidden_size=10**7)}
    torch.save({"format": "captcha_lib.checkpoint", "model": _RunsCode(tmp / "ran")}, tmp / "pickle.pt")
    damaged = tmp / "damaged"
    shutil.copytree(tiny_dataset, damaged)
    victim = sorted((damaged / "train").iterdir())[0]
    victim.write_bytes(victim.read_bytes()[:150])
    paths = {"pickle": tmp / "pickle.pt", "damaged": damaged, "victim": victim.name}
    for name, change in crafted.items():
        checkpoint = torch.load(trained_checkpoint, weights_only=True)
        change(checkpoint)
        torch.save(checkpoint, tmp / f"{name}.pt")
        paths[f"crafted_{name}"] = tmp / f"{name}.pt"
    assert good["format"] == "captcha_lib.checkpoint"
    return {"tmp": tmp, "data": tiny_dataset, "ckpt": trained_checkpoint, "run": trained_checkpoint.parent,
            "file": tmp / "a_file", "empty": tmp / "empty", "garbage": tmp / "garbage.pt", "corrupt": tmp / "ABC.png",
            "image": image, **paths}


@pytest.mark.parametrize("probe, fragment", PROBES,
                         ids=[p.values[0] if hasattr(p, "values") else p[0] for p in PROBES])
def test_bad_input_is_one_line_exit_2_and_leaves_nothing(probe, fragment, places):
    before = {p for p in places["tmp"].rglob("*")}
    args = [part.format(**places) for part in probe.split()]
    result = subprocess.run([sys.executable, "-m", "captcha_lib", *args], capture_output=True, text=True, timeout=120)
    message = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, message[-2000:])
    assert "Traceback" not in result.stderr and len(message.splitlines()) == 1, message
    assert message.startswith("error: ") and fragment.format(**places) in message, message
    assert {p for p in places["tmp"].rglob("*")} == before  # nothing made, nothing half-written
    assert not (places["tmp"] / "ran").exists()  # the pickled command never ran


def _children(pid: int) -> set[int]:
    """Live processes whose parent is `pid` (Linux /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid and fields[0] != "Z":
            found.add(int(stat.parent.name))
    return found


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="parent-death signal is Linux's")
def test_generate_workers_stop_when_generate_is_killed_with_sigkill(tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "captcha_lib", "generate", "--out", str(tmp_path / "d"),
                                "--train", "200000", "--val", "0", "--workers", "2"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    workers: set[int] = set()
    while len(workers) < 2 and time.monotonic() < deadline and process.poll() is None:
        workers |= _children(process.pid)
        time.sleep(0.1)
    assert len(workers) >= 2, "the pool never started"
    process.kill()  # SIGKILL: nothing in generate runs after this
    process.wait()
    deadline = time.monotonic() + 15
    while any(_alive(pid) for pid in workers) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not any(_alive(pid) for pid in workers), "pool workers outlived a killed generate"
