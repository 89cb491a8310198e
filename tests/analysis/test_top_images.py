"""Top images per channel: the streaming top-k against the full-batch one, a class's logit ranks images of that
class first, the receptive-field crop lands on a planted pattern, and the user errors."""
import json
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn as nn

from xaicnn.analysis.top_images import RunningTopK, model_top_images, receptive_boxes, top_images
from xaicnn.errors import UserError
from xaicnn.training.checkpoint import Run


def full_top_k(values: np.ndarray, k: int) -> np.ndarray:
    """Reference: per channel (column of values [N, C]), image indices by value descending, then index ascending."""
    n = len(values)
    return np.stack([np.lexsort((np.arange(n), -values[:, c]))[:k] for c in range(values.shape[1])])


def identity(images):
    return images.float()


# --- the streaming top-k ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("batch_size", [1, 3, 7, 64, 200])
def test_streaming_top_k_equals_the_full_batch_top_k_ties_going_to_the_lower_index(batch_size):
    g = torch.Generator().manual_seed(0)
    values = torch.randint(0, 5, (57, 4), generator=g).float()  # five distinct values: ties everywhere
    peaks = torch.randint(0, 100, (57, 4), generator=g)
    running = RunningTopK(4, 6)
    for first in range(0, 57, batch_size):
        running.update(values[first:first + batch_size], peaks[first:first + batch_size])
    expected = full_top_k(values.numpy(), 6)
    assert running.indices.tolist() == expected.tolist()
    assert torch.equal(running.values, values.T.gather(1, torch.from_numpy(expected)))
    assert torch.equal(running.peaks, peaks.T.gather(1, torch.from_numpy(expected)))
    assert torch.allclose(running.means(), values.double().mean(0))


def conv_net():
    torch.manual_seed(1)
    return nn.Sequential(nn.Conv2d(1, 6, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(6, 5, 3), nn.ReLU(),
                         nn.Flatten(), nn.Linear(5 * 6 * 6, 3)).eval()


@pytest.mark.parametrize("layer", ["4", "6"])
def test_a_model_streamed_in_any_batch_size_matches_its_full_batch_activations(layer):
    # the full range of pixel values, so no two images tie (a conv's last bits may differ with the batch size)
    images = torch.randint(0, 256, (40, 1, 16, 16), generator=torch.Generator().manual_seed(2), dtype=torch.uint8)
    labels = torch.arange(40) % 3
    model = conv_net()
    with torch.no_grad():
        out = model[:int(layer) + 1](identity(images))
    values = out.flatten(2).amax(2) if out.dim() == 4 else out
    expected = full_top_k(values.numpy(), 5)
    results = [model_top_images(model, identity, images, labels, layer, k=5, channels=range(out.shape[1]),
                                batch_size=b) for b in (1, 6, 40, 128)]
    for result in results:
        assert result.indices.tolist() == expected.tolist()
        assert torch.allclose(result.values, values.T.gather(1, torch.from_numpy(expected)), rtol=1e-5)
        assert torch.equal(result.labels, labels[result.indices])
        assert result.images == 40 and result.num_channels == out.shape[1]
    assert (results[0].boxes is None) == (layer == "6")


class Tokens(nn.Module):
    """[N, C, H, W] -> [N, H*W, C]: a batch-first token sequence, as a transformer block outputs."""

    def forward(self, x):
        return x.flatten(2).transpose(1, 2)


def test_a_token_layer_ranks_each_feature_by_its_maximum_over_tokens():
    images = torch.randint(0, 256, (30, 1, 8, 8), generator=torch.Generator().manual_seed(5), dtype=torch.uint8)
    model = nn.Sequential(nn.Conv2d(1, 3, 3), Tokens()).eval()
    with torch.no_grad():
        values = model(identity(images)).amax(1)
    result = model_top_images(model, identity, images, torch.zeros(30, dtype=torch.long), "1", k=4, channels=[0, 1, 2],
                              batch_size=7)
    assert result.indices.tolist() == full_top_k(values.numpy(), 4).tolist()
    assert result.output_shape == (36, 3) and result.num_channels == 3 and result.value == "maximum over tokens"
    assert result.boxes is None and result.peaks is None


# --- a channel made to respond to one class ------------------------------------------------------------------

@pytest.fixture(scope="module")
def digit_run():
    """A linear classifier trained briefly on digits (~97% on validation), as a Run; its logit layer is
    ``classifier.1``, whose channel c is trained to respond to class c."""
    from xaicnn import data

    train = data.load("digits", "train")
    mean, std = train.mean, train.std
    torch.manual_seed(0)
    model = nn.Sequential(OrderedDict(features=nn.Identity(),
                                      classifier=nn.Sequential(nn.Flatten(), nn.Linear(32 * 32, 10))))
    inputs = (train.images.float() / 255 - mean[0]) / std[0]
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(150):
        optimiser.zero_grad()
        nn.functional.cross_entropy(model(inputs), train.labels).backward()
        optimiser.step()
    meta = {"arch": "linear", "dataset": "digits", "in_channels": 1, "image_size": [32, 32], "mean": list(mean),
            "std": list(std), "classes": list(train.classes), "config": {"data_dir": None, "val_size": None}}
    return Run(Path("linear_digits.pt"), meta, [], model.eval())


def test_the_top_images_of_a_channel_that_detects_a_feature_of_one_class_are_images_of_that_class():
    # 10 classes of faint noise; only class-3 images carry a bright 4x4 block, somewhere. Channel 0 of the conv
    # averages 4x4 windows, so its maximum over positions is at least 255 on a class-3 image and at most 100 on
    # any other: its top images must be the class-3 ones, each peaking on its block.
    g = torch.Generator().manual_seed(4)
    labels = torch.arange(10).repeat(12)
    images = torch.randint(0, 101, (120, 1, 20, 20), generator=g, dtype=torch.uint8)
    blocks = {}
    for i in (labels == 3).nonzero().flatten().tolist():
        r, c = torch.randint(0, 17, (2,), generator=g).tolist()
        images[i, 0, r:r + 4, c:c + 4] = 255
        blocks[i] = [r, c, r + 4, c + 4]
    model = nn.Sequential(nn.Conv2d(1, 2, 4), nn.ReLU(), nn.AdaptiveMaxPool2d(1), nn.Flatten()).eval()
    with torch.no_grad():
        model[0].weight.zero_()
        model[0].weight[0] = 1 / 16
        model[0].bias.zero_()
    result = model_top_images(model, identity, images, labels, "1", k=12, channels=[0])
    assert result.labels[0].tolist() == [3] * 12
    assert result.boxes[0].tolist() == [blocks[i] for i in result.indices[0].tolist()]
    assert model_top_images(model, identity, images, labels, "3", k=12, channels=[0]).labels[0].tolist() == [3] * 12


def test_the_top_images_of_a_class_logit_are_images_of_that_class(digit_run):
    val = digit_run.val_data()
    accuracy = (digit_run.model(digit_run.normalize(val.images)).argmax(1) == val.labels).float().mean()
    assert accuracy > 0.9, "the fixture classifier should be trained"
    result = top_images(digit_run, "classifier.1", k=9, channels=range(10), batch_size=50)
    assert result.images == len(val) and result.boxes is None and result.output_shape == (10,)
    assert torch.all(result.values[:, :-1] >= result.values[:, 1:])  # best first
    assert result.labels[:, 0].tolist() == list(range(10))
    assert result.class_names()[0][0] == "0"
    # A logit is not exclusive: an image may score high on logit c and higher still on another (here a 4 that
    # looks like a 1 ranks 6th for logit 1), so a logit's top images are nearly, not necessarily all, of class c.
    assert (result.labels == torch.arange(10)[:, None]).sum() >= 85

    default = top_images(digit_run, "classifier.1", n=100, data=val)
    assert default.images == 100 and len(default.channels) == 8 and "highest mean value" in default.selection
    means = default.mean_values
    assert torch.all(means[:-1] >= means[1:])  # the most active channels first
    payload = json.loads(json.dumps(default.to_json()))
    assert payload["layer"] == "classifier.1" and payload["images"] == 100 and payload["k"] == 9
    first = payload["channels"][0]
    assert first["channel"] == default.channels[0] and len(first["top"]) == 9
    assert set(first["top"][0]) == {"index", "value", "label", "class"}  # no pixels, no box for a linear layer


# --- receptive-field crops -------------------------------------------------------------------------------------

def planted(n=12, size=28, seed=3):
    """Images of faint noise, each with a 5x5 cross planted at a random even (row, col), brighter in later images."""
    g = torch.Generator().manual_seed(seed)
    images = torch.randint(0, 20, (n, 1, size, size), generator=g, dtype=torch.uint8)
    cross = torch.zeros(5, 5)
    cross[2, :] = cross[:, 2] = 1
    corners = 2 * torch.randint(0, (size - 5) // 2 + 1, (n, 2), generator=g)
    for i, (r, c) in enumerate(corners.tolist()):
        images[i, 0, r:r + 5, c:c + 5] = torch.maximum(images[i, 0, r:r + 5, c:c + 5],
                                                       (cross * (100 + 10 * i)).to(torch.uint8))
    return images, corners, cross


def cross_detector(cross, **conv):
    model = nn.Sequential(nn.Conv2d(1, 1, 5, bias=False, **conv))
    with torch.no_grad():
        model[0].weight.copy_(cross - cross.mean())  # responds to the cross, not to overall brightness
    return model.eval()


def test_the_receptive_field_crop_of_a_one_layer_conv_is_the_planted_pattern():
    images, corners, cross = planted()
    result = model_top_images(cross_detector(cross, stride=2), identity, images, torch.zeros(12, dtype=torch.long), "0",
                              k=3, channels=[0])
    assert result.indices[0].tolist() == [11, 10, 9]  # the brightest crosses first
    assert result.receptive_field == {"size": [5, 5], "jump": [2, 2], "start": [2, 2]}
    for j, index in enumerate(result.indices[0].tolist()):
        r, c = corners[index].tolist()
        assert result.peaks[0, j].tolist() == [r // 2, c // 2]
        assert result.boxes[0, j].tolist() == [r, c, r + 5, c + 5]  # top, left, bottom, right (exclusive)


def test_a_crop_at_the_border_is_clipped_to_the_image():
    images = torch.zeros(1, 1, 20, 20, dtype=torch.uint8)
    _, _, cross = planted()
    images[0, 0, :3, :3] = (cross[2:, 2:] * 200).to(torch.uint8)  # the cross's lower right quarter, in the corner
    result = model_top_images(cross_detector(cross, padding=2), identity, images, torch.zeros(1, dtype=torch.long),
                              "0", k=1, channels=[0])
    assert result.peaks[0, 0].tolist() == [0, 0]
    assert result.boxes[0, 0].tolist() == [0, 0, 3, 3]  # the window -2..2 clipped to 0..2
    assert receptive_boxes(torch.tensor([[3, 1]]), (4, 4), (2, 2), (1.5, 1.5), 20, 20).tolist() == [[6, 2, 10, 6]]


def test_the_figure_has_one_row_per_channel_and_crops_to_the_boxes():
    from xaicnn.plots import plot_top_images

    images, corners, cross = planted()
    result = model_top_images(cross_detector(cross, stride=2), identity, images, torch.arange(12) % 2, "0", k=4,
                              channels=[0], classes=["even", "odd"])
    fig, axes = plot_top_images(result, images)
    assert axes.shape == (1, 4)
    top, left, bottom, right = result.boxes[0, 0].tolist()
    assert axes[0, 0].get_xlim() == (left - 0.5, right - 0.5) and axes[0, 0].get_ylim() == (bottom - 0.5, top - 0.5)
    assert axes[0, 0].get_title().startswith("odd")  # image 11
    fig, axes = plot_top_images(result, images, crops=False)
    assert len(axes[0, 0].patches) == 1
    import matplotlib.pyplot as plt

    plt.close("all")


# --- user errors -----------------------------------------------------------------------------------------------

def test_user_errors_are_one_sentence():
    images = torch.zeros(4, 1, 16, 16, dtype=torch.uint8)
    labels = torch.zeros(4, dtype=torch.long)
    model = conv_net()
    with pytest.raises(UserError, match=r"No layer '7' in Sequential; its blocks are 1, 4, 6\.") as err:
        model_top_images(model, identity, images, labels, "7")
    assert "\n" not in str(err.value)
    named = nn.Sequential(OrderedDict(features=nn.Conv2d(1, 2, 3), classifier=nn.Flatten())).eval()
    with pytest.raises(UserError, match=r"No layer 'feature' in Sequential; did you mean features\?"):
        model_top_images(named, identity, images, labels, "feature")
    with pytest.raises(UserError, match="has channels 0 to 5; got \\[6\\]"):
        model_top_images(model, identity, images, labels, "0", channels=[6])
    shared = nn.ReLU()
    twice = nn.Sequential(nn.Conv2d(1, 2, 3), shared, nn.Conv2d(2, 2, 3), shared).eval()
    with pytest.raises(UserError, match="runs 2 times per forward pass"):
        model_top_images(twice, identity, images, labels, "1")
    with pytest.raises(UserError, match="no images"):
        model_top_images(model, identity, images[:0], labels[:0], "0")
