import pytest
import torch

from captcha_lib import defaults
from captcha_lib import (CRNN, DEFAULT_MODEL, MODELS, ReferenceModel, build_model, count_parameters,
                                receptive_field, time_steps)


def test_reference_model_matches_the_notebook():
    model = ReferenceModel(num_characters=36)
    assert count_parameters(model) == 228_005
    names = [name for name, _ in model.named_children()]
    assert names == ["conv1", "pool1", "conv2", "pool2", "gru", "output"]
    assert (model.gru.input_size, model.gru.hidden_size, model.gru.num_layers) == (640, 32, 2)
    assert model.gru.bidirectional and model.gru.dropout == 0.25
    logits, loss = model(torch.randn(32, 3, 40, 150))
    assert logits.shape == (37, 32, 37) and loss is None


TIME_STEPS = {"reference": 37, "crnn": 18}  # 150 pixels / 4 and / 8 (any width works: a model pools what it gets)


@pytest.mark.parametrize("name", sorted(MODELS))
def test_models_return_logits_and_loss(name):
    model = build_model(name, num_characters=10)
    targets = torch.tensor([1, 2, 3, 4, 5, 6, 7])
    logits, loss = model(torch.randn(2, 3, 40, 150), targets, torch.tensor([3, 4]))
    assert logits.shape == (TIME_STEPS[name], 2, 11)
    assert loss.ndim == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters())


@pytest.mark.parametrize("name,downsampling", [("reference", 4), ("crnn", 8)])
@pytest.mark.parametrize("width", [100, 150, 200, 333])
def test_any_width_works_and_width_becomes_time(name, downsampling, width):
    model = build_model(name, num_characters=5).eval()
    logits, _ = model(torch.randn(1, 3, 40, width))
    assert logits.shape == (width // downsampling, 1, 6)


@pytest.mark.parametrize("height,width,steps", [(40, 150, 18), (48, 200, 25), (64, 96, 12)])
def test_crnn_reads_any_height_it_is_built_for(height, width, steps):
    model = CRNN(num_characters=5, image_height=height)
    assert time_steps(model, (height, width)) == steps and model.training  # the dry run leaves the mode alone
    logits, loss = model(torch.randn(2, 3, height, width), torch.tensor([1, 2, 3, 4]), torch.tensor([2, 2]))
    assert logits.shape == (steps, 2, 6) and torch.isfinite(loss)


def test_reference_reads_only_its_own_height():
    assert time_steps(build_model("reference", 5, image_height=40), (40, 150)) == 37
    with pytest.raises(ValueError, match="40-pixel-high"):
        build_model("reference", 5, image_height=48)


def test_receptive_field():
    assert receptive_field(ReferenceModel(36)) == (10, 10)  # 3x3 conv, pool, 3x3 conv, pool
    assert receptive_field(CRNN(36)) == (22, 22)


def test_default_model_is_the_crnn_and_config_rebuilds_it():
    assert DEFAULT_MODEL == "crnn"
    assert tuple(MODELS) == defaults.MODEL_NAMES and defaults.DEFAULT_MODEL == DEFAULT_MODEL  # the CLI's copy
    model = CRNN(num_characters=19)
    clone = build_model(model.name, **model.config())
    assert clone.config() == model.config()
    clone.load_state_dict(model.state_dict())


@pytest.mark.parametrize("name,options", [("reference", {}), ("crnn", {}), ("crnn", {"time_stride": 16})])
def test_a_padded_batch_reads_each_image_as_alone(name, options):
    """Images of three widths in one batch, padded to the widest, give each image the logits,
    the loss and the texts it gets on its own; padded timesteps are certain blanks."""
    torch.manual_seed(0)
    model = build_model(name, num_characters=5, **options).eval()
    widths = [96, 160, 352]
    images = [torch.randn(1, 3, 40, width) for width in widths]
    batch = torch.zeros(3, 3, 40, max(widths))
    for row, image in zip(batch, images):
        row[..., :image.shape[-1]] = image[0]
    targets, target_lengths = torch.tensor([1, 2, 3, 4, 2, 3, 4, 5, 1]), torch.tensor([3, 3, 3])
    with torch.no_grad():
        logits, loss = model(batch, targets, target_lengths, widths=torch.tensor(widths))
        losses = []
        for index, image in enumerate(images):
            alone, alone_loss = model(image, targets[3 * index:3 * index + 3], target_lengths[index:index + 1])
            steps = alone.shape[0]
            assert steps == widths[index] // model.stride
            torch.testing.assert_close(logits[:steps, index], alone[:, 0], atol=1e-5, rtol=1e-4)
            assert (torch.softmax(logits[steps:, index], -1)[:, 0] == 1.0).all()  # past its end: a certain blank
            losses.append(alone_loss)
    torch.testing.assert_close(loss, torch.stack(losses).mean(), atol=1e-4, rtol=1e-4)
    # a batch of equal widths skips the masking: the same as passing no widths
    with torch.no_grad():
        same = torch.cat([images[1]] * 2)
        torch.testing.assert_close(model(same, widths=torch.tensor([160, 160]))[0], model(same)[0])


@pytest.mark.parametrize("time_stride", [4, 8, 16])
def test_the_crnn_pools_to_its_time_stride(time_stride):
    model = CRNN(num_characters=5, time_stride=time_stride)
    assert time_steps(model, (40, 160)) == 160 // time_stride
    assert model.config()["time_stride"] == time_stride
    with pytest.raises(ValueError, match="time_stride"):
        CRNN(num_characters=5, time_stride=12)


def test_the_coarse_head_adds_to_the_training_loss_only():
    torch.manual_seed(0)
    images, targets, lengths = torch.randn(2, 3, 40, 160), torch.tensor([1, 2, 3, 4, 5, 1]), torch.tensor([3, 3])
    model = CRNN(num_characters=5)
    without = CRNN(num_characters=5, coarse_weight=0.0)
    without.load_state_dict({k: v for k, v in model.state_dict().items() if not k.startswith("coarse_output")})
    assert without.coarse_output is None  # a model without the coarse loss carries no coarse weights
    torch.manual_seed(1)  # the same dropout masks in both
    _, loss = model(images, targets, lengths)
    torch.manual_seed(1)
    _, main_only = without(images, targets, lengths)
    assert loss > main_only  # the coarse CTC loss is added while training
    model.eval(), without.eval()
    torch.testing.assert_close(model(images, targets, lengths), without(images, targets, lengths))  # not when reading


def test_the_coarse_factor_follows_the_width_of_a_character():
    from captcha_lib.training.run import coarse_factor_for

    # (label, source, (height, width)): 4 timesteps a character -> pairs; about 5.5 -> threes
    assert coarse_factor_for([("5bbzt", "a.png", (50, 200))], (40, 512), 8) == 2
    assert coarse_factor_for([("aB3dE5gH", "b.png", (80, 690))], (40, 512), 8) == 3
    assert coarse_factor_for([], (40, 512), 8) == 2
    model = CRNN(num_characters=5, coarse_factor=3).train()
    _, loss = model(torch.randn(2, 3, 40, 160), torch.tensor([1, 2, 3, 4, 5, 1]), torch.tensor([3, 3]))
    assert torch.isfinite(loss) and model.coarse_output.in_features == 3 * model.hidden_size
    with pytest.raises(ValueError, match="coarse_factor"):
        CRNN(num_characters=5, coarse_factor=1)


@pytest.mark.parametrize("options", [{"batch_norm": False}, {"projection": False}, {"residual": False},
                                     {"projection": False, "residual": False}])
def test_each_part_of_the_crnn_can_be_taken_out_and_the_checkpoint_remembers(options, tmp_path):
    from captcha_lib import Vocabulary, load_checkpoint, save_checkpoint

    torch.manual_seed(0)
    model = CRNN(num_characters=19, **options)
    if "batch_norm" in options:
        assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in model.modules())
    if "projection" in options:
        assert model.gru.input_size == 64 * 5  # the raw column of conv features
    logits, loss = model(torch.randn(2, 3, 40, 160), torch.randint(1, 20, (10,)), torch.tensor([5, 5]))
    assert logits.shape == (20, 2, 20) and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)  # every part is used
    save_checkpoint(tmp_path / "m.pt", model, Vocabulary("23456789abcdefghijk"), (40, 512))
    loaded = load_checkpoint(tmp_path / "m.pt")[0]
    assert loaded.config() == model.config()
    model.eval(), loaded.eval()
    image = torch.randn(1, 3, 40, 96)
    assert torch.equal(model(image)[0], loaded(image)[0])
