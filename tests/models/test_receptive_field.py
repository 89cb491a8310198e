"""Theoretical receptive fields: hand-checkable nets, multi-path blocks, the zoo, and gradient footprints."""
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from xaicnn import models
from xaicnn.errors import UserError
from xaicnn.models.receptive_field import receptive_fields


def field_of(model, size=32, channels=1, name=None):
    rf = receptive_fields(model, (channels, size, size))
    row = rf[name] if name is not None else rf.net
    return tuple(row.receptive_field), tuple(row.jump), tuple(row.start)


def conv(k, stride=1, dilation=1, c_in=1, c_out=1, padding=None):
    pad = dilation * (k - 1) // 2 if padding is None else padding
    return nn.Conv2d(c_in, c_out, k, stride, pad, dilation)


class Branches(nn.Module):
    """Two paths from one input (1x1 and 5x5 after a shared 3x3): summed or concatenated."""

    def __init__(self, merge: str):
        super().__init__()
        self.stem, self.a, self.b, self.merge = conv(3), conv(1), conv(5), merge

    def forward(self, x):
        x = self.stem(x)
        a, b = self.a(x), self.b(x)
        return a + b if self.merge == "add" else torch.cat([a, b], 1)


class Residual(nn.Module):
    """torchvision's BasicBlock shape: 3x3 stride 2, 3x3, plus a 1x1 stride-2 projection shortcut."""

    def __init__(self):
        super().__init__()
        self.conv1, self.conv2, self.down = conv(3, 2), conv(3), conv(1, 2)
        self.act = nn.LeakyReLU(0.1)

    def forward(self, x):
        return self.act(self.conv2(self.act(self.conv1(x))) + self.down(x))


class Functional(nn.Module):
    """The function rules: F.pad, F.conv2d, strided slicing (option A shortcut), pixel_unshuffle, F.avg_pool2d."""

    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, 1, 3, 3))

    def forward(self, x):
        x = F.conv2d(F.pad(x, (1, 1, 1, 1)), self.weight)  # 3, start 0
        x = x[:, :, ::2, ::2]  # jump 2, size 3
        x = F.pixel_unshuffle(x, 2)  # +1 jump: 5, jump 4
        return F.avg_pool2d(x, 3, 1, 1)  # +2 jumps: 13


def test_one_7x7_sees_what_three_stacked_3x3_see():
    assert field_of(conv(7)) == ((7, 7), (1, 1), (0, 0))
    assert field_of(nn.Sequential(conv(3), conv(3), conv(3))) == ((7, 7), (1, 1), (0, 0))
    assert field_of(nn.Sequential(conv(3), nn.ReLU(), conv(3), nn.BatchNorm2d(1), conv(3))) == ((7, 7), (1, 1), (0, 0))


def test_stride_two_pool_doubles_the_jump():
    before = field_of(nn.Sequential(conv(3), conv(3)))
    after = field_of(nn.Sequential(conv(3), nn.MaxPool2d(2), conv(3)))
    assert before[1] == (1, 1) and after[1] == (2, 2)
    assert after[0] == (3 + 1 + 2 * 2,) * 2  # the pool adds (2-1)*1, the next 3x3 adds (3-1)*2
    assert field_of(nn.Sequential(conv(3), nn.AvgPool2d(2), nn.AvgPool2d(2)))[1] == (4, 4)


def test_dilation_and_rectangular_kernels():
    assert field_of(conv(3, dilation=2))[0] == (5, 5)
    assert field_of(nn.Sequential(conv(3, dilation=2), conv(3, dilation=3)))[0] == (11, 11)
    assert field_of(nn.Conv2d(1, 1, (3, 5), padding=(1, 2)))[0] == (3, 5)


def test_padding_moves_the_start_only():
    assert field_of(conv(5, padding=0)) == ((5, 5), (1, 1), (2, 2))
    assert field_of(conv(5, stride=2, padding=2)) == ((5, 5), (2, 2), (0, 0))


@pytest.mark.parametrize("merge", ["add", "cat"])
def test_paths_that_meet_take_the_larger_field(merge):
    assert field_of(Branches(merge)) == ((7, 7), (1, 1), (0, 0))  # 3 then max(1, 5)
    rows = {r.name: r for r in receptive_fields(Branches(merge), (1, 32, 32)).layers}
    assert rows["a"].receptive_field == [3, 3] and rows["b"].receptive_field == [7, 7]


def test_residual_block_and_function_rules():
    assert field_of(Residual()) == ((7, 7), (2, 2), (0, 0))  # max(3 + 2*2, 1)
    assert field_of(Functional()) == ((13, 13), (4, 4), (1, 1))


def test_vgg16_at_224_has_the_textbook_fields():
    """VGG-16 (config D): conv5_3 sees 196x196 pixels and pool5 212x212, with jump 32 (e.g. Araujo et al. 2019,
    Table 1's 212 for VGG-16; by hand: 13 3x3 convs add 2, 2, 4, 4, 8x3, 16x3... over the 4 stride-2 pools)."""
    with torch.device("meta"):
        model = models.create("vgg16", in_channels=3, num_classes=1000, image_size=224)
    rf = receptive_fields(model, (3, 224, 224))
    assert rf["features.28"].receptive_field == [196, 196] and rf["features.28"].jump == [16, 16]
    assert rf["features.30"].receptive_field == [212, 212] and rf["features.30"].jump == [32, 32]
    assert rf.net.receptive_field == [212, 212]
    assert rf["classifier.0"].receptive_field is None  # a linear layer sees the whole input


def zoo() -> list:
    params = []
    for name in models.available():
        spec = models.get_spec(name)
        params.append(pytest.param(name, spec.default_input, spec.default_classes, id=name))
    return params


@pytest.mark.parametrize("name,input_size,classes", zoo())
def test_every_zoo_architecture_has_fields(name, input_size, classes):
    with torch.device("meta"):
        model = models.create(name, in_channels=input_size[0], num_classes=classes, image_size=tuple(input_size[1:]))
    rf = receptive_fields(model, tuple(input_size))
    names = {n for n, _ in model.named_modules()}
    assert rf.layers and {r.name for r in rf.layers} <= names
    if name.startswith("fc"):
        assert rf.net is None  # flattened at once: no spatial layer
        return
    assert rf.net is not None and rf.net.receptive_field[0] > 1 and rf.net.jump[0] >= 1
    convs = [r for r in rf.layers if r.type == "Conv2d" and r.receptive_field]
    assert convs and all(r.receptive_field[0] <= rf.net.receptive_field[0] for r in convs)
    if name == "transformer_block":  # the patch embedding; attention then sees every patch
        assert (rf.net.name, rf.net.receptive_field, rf.net.jump) == ("conv_proj", [4, 4], [4, 4])
        assert rf["encoder"].receptive_field is None


def test_untraceable_and_unknown_ops_are_one_sentence():
    class DataDependent(nn.Module):
        def forward(self, x):
            return x if x.sum() > 0 else -x

    class Rolls(nn.Module):
        def forward(self, x):
            return torch.roll(x, 1, dims=2)

    with pytest.raises(UserError, match="cannot be traced by torch.fx"):
        receptive_fields(DataDependent(), (1, 8, 8))
    with pytest.raises(UserError, match="no receptive-field rule for function roll"):
        receptive_fields(Rolls(), (1, 8, 8))


# --- gradient footprints: the input pixels the centre unit depends on form exactly the theoretical window ---

def footprint(model, size, channels=1, seed=0, layer=""):
    """(rows, cols) spanned by the input pixels with nonzero gradient of the centre unit of ``layer``'s output
    (summed over channels), and the theoretical window of that unit, both as inclusive (first, last) pairs."""
    torch.manual_seed(seed)
    model = model.double().eval()
    for p in model.parameters():
        nn.init.normal_(p)  # dense random weights: no gradient is zero by chance
    x = torch.randn(1, channels, size, size, dtype=torch.float64, requires_grad=True)
    seen = []
    handle = model.get_submodule(layer).register_forward_hook(lambda m, i, o: seen.append(o))
    model(x)
    handle.remove()
    out = seen[0]
    centre = ((out.shape[-2] - 1) // 2, (out.shape[-1] - 1) // 2)
    (grad,) = torch.autograd.grad(out[0, :, centre[0], centre[1]].sum(), x)
    nonzero = grad[0].abs().sum(0) > 0
    rows, cols = nonzero.any(1).nonzero().flatten(), nonzero.any(0).nonzero().flatten()
    rf = receptive_fields(model, (channels, size, size))
    field = rf[layer]
    window = []
    for axis in range(2):
        c = field.start[axis] + centre[axis] * field.jump[axis]
        half = (field.receptive_field[axis] - 1) / 2
        window.append((max(0, round(c - half)), min(size - 1, round(c + half))))
    return ((int(rows[0]), int(rows[-1])), (int(cols[0]), int(cols[-1]))), tuple(window), field


@pytest.mark.parametrize("make", [
    lambda: nn.Sequential(conv(3), conv(3), conv(3)),
    lambda: conv(7),
    lambda: nn.Sequential(conv(3), nn.AvgPool2d(2), conv(3), nn.LeakyReLU(0.1), conv(3, stride=2), conv(3)),
    lambda: nn.Sequential(conv(3, dilation=2), conv(3, dilation=3), conv(5, padding=0)),
    lambda: Branches("add"), lambda: Branches("cat"), Residual, Functional,
    lambda: nn.Sequential(Residual(), Residual(), nn.Conv2d(1, 1, (3, 5), padding=(1, 2))),
], ids=["3x3x3", "7x7", "pool-stride", "dilated", "add", "cat", "residual", "functional", "two-residual-rect"])
def test_gradient_footprint_is_the_theoretical_window(make):
    for seed in (0, 1):
        measured, theory, field = footprint(make(), 64, seed=seed)
        assert measured == theory, f"seed {seed}: gradient spans {measured}, theory {theory} ({field})"
        assert all(last - first + 1 == size for (first, last), size in zip(measured, field.receptive_field))


def test_gradient_footprint_stays_inside_the_window_of_a_zoo_resnet():
    """ReLU and max-pool can zero some gradient, so a real net's footprint is at most the theoretical window."""
    model = models.create("resnet20", in_channels=1, num_classes=10, image_size=96)
    measured, theory, field = footprint(model, 96, layer="layer3")
    assert field.receptive_field == [81, 81]
    for (m0, m1), (t0, t1) in zip(measured, theory):
        assert t0 <= m0 <= m1 <= t1 and m1 - m0 > (t1 - t0) // 2
