"""Every registered architecture is tested the moment it is registered."""
import pytest
import torch

from xaicnn import models
from xaicnn.errors import UserError

ALL = models.MODELS.names()

# Names the studies and the app rely on (issue #2).
REQUIRED = ["lenet5", "alexnet", "zfnet", "vgg16", "vgg16_7x7", "vgg50", "inception_v1", "inception_v1_naive",
            "inception50", "resnet18", "resnet50", "resnet101", "resnet20", "resnet56", "plain20", "plain56", "fc20",
            "fc56", "vgg_block", "bottleneck_block", "transformer_block", "csp_block", "sppf_block",
            "bottleneck_alpha", "plain_alpha"]

# Forward/backward on the CPU at reduced width where the full net is large; exact counts use real configs.
REDUCED = {"fc20": {"width": 256}, "fc56": {"width": 256}, "vgg50": {"width": 0.25}, "vgg16_7x7": {"width": 0.5},
           "vgg19": {"width": 0.5}, "inception_v1_naive": {"width": 0.25}, "inception50": {"width": 0.25},
           "resnet101": {"width": 0.5}, "alexnet": {"width": 0.5}, "zfnet": {"width": 0.5}}


def n_params(model):
    return sum(p.numel() for p in model.parameters())


def build(name, **kw):
    spec = models.get_spec(name)
    c, h, w = spec.default_input
    return models.create(name, in_channels=c, num_classes=spec.default_classes, image_size=(h, w), **kw), spec


def test_required_names_registered():
    assert set(REQUIRED) <= set(ALL)
    assert all(models.available()[n] for n in REQUIRED)


@pytest.mark.parametrize("name", ALL)
def test_forward_backward_default_shape(name):
    torch.manual_seed(0)
    model, spec = build(name, **REDUCED.get(name, {}))
    c, h, w = spec.default_input
    x = torch.randn(2, c, h, w)
    logits = model(x)
    assert logits.shape == (2, spec.default_classes)
    assert torch.isfinite(logits).all()
    logits.logsumexp(1).sum().backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None]
    assert not missing, f"parameters without gradient: {missing[:5]}"


@pytest.mark.parametrize("name", ALL)
def test_adapts_to_channels_classes_and_size(name):
    # any channel count and class count; the default size plus a larger one
    spec = models.get_spec(name)
    size = spec.default_input[1] + 16
    with torch.device("meta"):
        model = models.create(name, in_channels=2, num_classes=7, image_size=(size, size + 8))
    assert models.output_shape(model, (2, size, size + 8)) == (7,)


@pytest.mark.parametrize("name,input_size,classes,expected", [
    ("vgg16", (3, 32, 32), 10, 33_638_218),
    ("vgg16_7x7", (3, 32, 32), 10, 99_018_058),
    ("bottleneck_alpha", (1, 100, 100), 52, 366_792),
    ("plain_alpha", (1, 100, 100), 52, 582_824),
    # well-known counts that pin the structures to the papers / torchvision
    ("lenet5", (1, 32, 32), 10, 61_706),
    ("alexnet", (3, 227, 227), 1000, 62_378_344),
    ("resnet18", (3, 224, 224), 1000, 11_689_512),
    ("resnet50", (3, 224, 224), 1000, 25_557_032),
    ("resnet101", (3, 224, 224), 1000, 44_549_160),
    ("resnet20", (3, 32, 32), 10, 269_722),
    ("resnet56", (3, 32, 32), 10, 853_018),
])
def test_exact_parameter_counts(name, input_size, classes, expected):
    with torch.device("meta"):
        model = models.create(name, in_channels=input_size[0], num_classes=classes, image_size=input_size[1:])
    assert n_params(model) == expected


def test_resnet_matches_torchvision_at_imagenet_size():
    import torchvision

    with torch.device("meta"):
        ours = models.create("resnet50", in_channels=3, num_classes=1000, image_size=224)
        theirs = torchvision.models.resnet50()
    assert [(n, p.shape) for n, p in ours.named_parameters()] == [(n, p.shape) for n, p in theirs.named_parameters()]


def test_plain_and_residual_cifar_nets_differ_only_in_shortcuts():
    torch.manual_seed(0)
    res = models.create("resnet20", in_channels=3, num_classes=10, image_size=32)
    plain = models.create("plain20", in_channels=3, num_classes=10, image_size=32)
    plain.load_state_dict(res.state_dict())
    x = torch.randn(2, 3, 32, 32)
    res.eval(), plain.eval()
    assert not torch.allclose(res(x), plain(x))
    # 6n+2 weight layers
    for name, depth in [("resnet20", 20), ("resnet56", 56), ("plain56", 56)]:
        with torch.device("meta"):
            m = models.create(name, in_channels=3, num_classes=10, image_size=32)
        assert sum(isinstance(l, (torch.nn.Conv2d, torch.nn.Linear)) for l in m.modules()) == depth


@pytest.mark.parametrize("name,depth", [("fc20", 20), ("fc56", 56), ("vgg16", 16), ("vgg50", 50)])
def test_weight_layer_depth(name, depth):
    with torch.device("meta"):
        m = models.create(name, in_channels=3, num_classes=10, image_size=32)
    assert sum(isinstance(l, (torch.nn.Conv2d, torch.nn.Linear)) for l in m.modules()) == depth


def test_inception50_longest_path_is_50_layers():
    with torch.device("meta"):
        m = models.create("inception50", in_channels=3, num_classes=10, image_size=32)
    modules = [l for l in m.inception if l.__class__.__name__ == "Inception"]
    assert 1 + 2 * len(modules) + 1 == 50


def test_naive_inception_has_no_reductions_and_costs_more():
    with torch.device("meta"):
        reduced = models.create("inception_v1", in_channels=3, num_classes=10, image_size=32, stages=1)
        naive = models.create("inception_v1_naive", in_channels=3, num_classes=10, image_size=32, stages=1)
    assert n_params(naive) > 2 * n_params(reduced)
    first = naive.inception[0]
    assert first.branch2.__class__.__name__ == "BasicConv2d" and first.branch2[0].kernel_size == (3, 3)
    assert isinstance(first.branch4, torch.nn.MaxPool2d)  # pool branch passes its input through


@pytest.mark.parametrize("name", ["vgg_block", "bottleneck_block", "transformer_block", "csp_block", "sppf_block"])
def test_block_models_have_at_most_five_convs_and_take_32(name):
    spec = models.get_spec(name)
    assert spec.fixed_size == 32 and spec.input_size_for((28, 28)) == (32, 32)
    model, _ = build(name)
    assert 1 <= sum(isinstance(l, torch.nn.Conv2d) for l in model.modules()) <= 5


def test_alexnet_paper_stem_shape():
    with torch.device("meta"):
        m = models.create("alexnet", in_channels=3, num_classes=1000, image_size=227)
    assert models.output_shape(m.features[0], (3, 227, 227)) == (96, 55, 55)


def test_unknown_name_suggests_closest():
    with pytest.raises(UserError, match="vgg16"):
        models.create("vgg15", in_channels=3, num_classes=10, image_size=32)


def test_unknown_option_lists_options():
    with pytest.raises(UserError, match="kernel_size"):
        models.create("vgg16", in_channels=3, num_classes=10, image_size=32, kernal_size=5)


@pytest.mark.parametrize("name,smallest", [("vgg16", 32), ("bottleneck_alpha", 20), ("lenet5", 16)])
def test_too_small_input_names_smallest_size(name, smallest):
    assert models.min_image_size(name) == smallest
    with pytest.raises(UserError, match=f"at least {smallest}x{smallest}"):
        models.create(name, in_channels=3, num_classes=10, image_size=smallest - 1)
    models.create(name, in_channels=3, num_classes=10, image_size=smallest)  # and the smallest works


def test_duplicate_registration_raises():
    with pytest.raises(ValueError, match="duplicate"):
        models.register_model("vgg16", "again")(lambda *, in_channels, num_classes, image_size: None)


@pytest.mark.parametrize("name", ["bottleneck_alpha", "plain_alpha"])
def test_alpha_pool_before_relu_is_the_reports_function(name):
    """The alpha nets max-pool before each stage's last ReLU (faster); with the report's order (ReLU, then
    MaxPool) and the same weights, outputs and every gradient are identical, in train and eval mode."""
    import torch.nn as nn

    torch.manual_seed(0)
    model, _ = build(name, dropout=0.0)
    reports = []
    for stage in (model.layer1, model.layer2, model.layer3):
        mods = list(stage)
        assert isinstance(mods[-2], nn.MaxPool2d) and isinstance(mods[-1], nn.ReLU)
        reports.append(nn.Sequential(*mods[:-2], mods[-1], mods[-2]))

    def reports_forward(x):
        for stage in reports:
            x = stage(x)
        return model.head(model.flatten(x))

    x = torch.randn(4, 1, 100, 100)
    for train in (True, False):
        model.train(train)
        outs, grads = [], []
        for forward in (model, reports_forward):
            model.zero_grad()
            out = forward(x)
            out.square().sum().backward()
            outs.append(out.detach())
            grads.append([p.grad.clone() for p in model.parameters()])
        assert torch.equal(outs[0], outs[1])
        assert all(torch.equal(a, b) for a, b in zip(*grads))
