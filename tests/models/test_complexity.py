import torch

from xaicnn import models
from xaicnn.models.complexity import complexity


def meta_model(name, c, size, k):
    with torch.device("meta"):
        return models.create(name, in_channels=c, num_classes=k, image_size=size)


def test_rows_partition_params_and_flops():
    for name, c, size, k in [("resnet18", 3, 32, 10), ("transformer_block", 1, 32, 10), ("inception_v1", 3, 32, 10)]:
        report = complexity(meta_model(name, c, size, k), (c, size, size))
        assert report.params > 0 and report.flops > 0 and report.layers  # else the sums below hold for nothing
        assert sum(r.params for r in report.layers) == report.params
        assert sum(r.flops for r in report.layers) == report.flops
        assert report.flops == 2 * report.macs


def test_alexnet_first_conv_flops_and_shape():
    report = complexity(meta_model("alexnet", 3, 227, 1000), (3, 227, 227))
    first = report.layers[0]
    assert (first.name, first.type, first.output_shape) == ("features.0", "Conv2d", [96, 55, 55])
    assert first.params == 96 * (3 * 11 * 11 + 1)
    assert first.flops == 2 * 55 * 55 * 96 * 3 * 11 * 11  # one multiply-add = 2 FLOPs


def test_vgg16_flops_match_hand_count():
    report = complexity(meta_model("vgg16", 3, 32, 10), (3, 32, 32))
    macs, c_in, size = 0, 3, 32
    for repeats, width in zip((2, 2, 3, 3, 3), (64, 128, 256, 512, 512)):
        for _ in range(repeats):
            macs += size * size * width * c_in * 9
            c_in = width
        size //= 2
    macs += 512 * 4096 + 4096 * 4096 + 4096 * 10
    assert report.macs == macs


def test_complexity_leaves_a_real_model_untouched():
    model = models.create("vgg_block", in_channels=1, num_classes=10, image_size=32)
    model.train()
    before = {k: v.clone() for k, v in model.state_dict().items()}
    complexity(model, (1, 32, 32))
    assert model.training
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert not any(h for m in model.modules() for h in m._forward_hooks.values())
