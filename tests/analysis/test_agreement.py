"""Attribution agreement between models: properties of the Spearman and top-k IoU matrices, values by hand,
and ``xaicnn attribute`` with two checkpoints writing them into attributions.json."""
import json
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from xaicnn.analysis.agreement import DEFAULT_TOP_K, attribution_agreement, top_k_iou
from xaicnn.errors import UserError


def random_maps(n=6, h=12, w=12, seed=0):
    return torch.randn(n, h, w, generator=torch.Generator().manual_seed(seed))


def test_identical_maps_and_negated_maps_agree_fully():
    maps = random_maps()
    agreement = attribution_agreement([maps, maps.clone(), -maps], ["a", "b", "negated"])
    assert np.allclose(agreement.spearman, 1) and np.allclose(agreement.iou, 1)  # |-m| = |m|
    assert agreement.images == 6 and agreement.size == (12, 12) and agreement.top_k == DEFAULT_TOP_K
    assert agreement.spearman_per_image.shape == agreement.iou_per_image.shape == (3, 3, 6)


def test_permuted_pixels_agree_at_chance_level():
    maps = random_maps(n=64, h=16, w=16)
    generator = torch.Generator().manual_seed(1)
    flat = maps.reshape(64, -1)
    shuffled = torch.stack([row[torch.randperm(256, generator=generator)] for row in flat]).view_as(maps)
    agreement = attribution_agreement([maps, shuffled], ["map", "shuffled"], top_k=0.1)
    assert abs(agreement.spearman[0, 1]) < 0.04
    # two random sets of k of P pixels share k^2/P on average: IoU ~ t / (2 - t) = 0.053 at t = 0.1 (not t itself)
    assert agreement.iou[0, 1] == pytest.approx(0.1 / 1.9, abs=0.012)


def test_matrices_are_symmetric_with_unit_diagonal():
    maps = [random_maps(seed=s) + 2 * random_maps(seed=0) for s in range(1, 5)]  # partly shared, so 0 < agreement < 1
    agreement = attribution_agreement(maps, list("abcd"), top_k=0.2)
    for matrix in (agreement.spearman, agreement.iou):
        assert matrix.shape == (4, 4)
        assert np.array_equal(matrix, matrix.T) and np.all(np.diag(matrix) == 1)
        off = matrix[~np.eye(4, dtype=bool)]
        assert np.all((off > 0.2) & (off < 1))


def test_tiny_example_by_hand():
    a = torch.tensor([[[4.0, 3.0], [2.0, 1.0]]])
    b = torch.tensor([[[4.0, -1.0], [2.0, -3.0]]])  # |b| ranks 4, 1, 2, 3
    agreement = attribution_agreement([a, b], ["a", "b"], top_k=0.5)
    # top 2 of 4 pixels: a {0, 1}, |b| {0, 3} -> IoU 1/3; rank differences 0, 2, 0, 2 -> 1 - 6 * 8 / (4 * 15) = 0.2
    assert agreement.iou[0, 1] == pytest.approx(1 / 3)
    assert agreement.spearman[0, 1] == pytest.approx(0.2)


def test_ties_at_the_cut_share_the_places_left():
    a = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    b = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    # k = 2: the top pixel plus 1 place for 3 tied zeros (weight 1/3 each): min-sum 4/3, max-sum 8/3
    assert top_k_iou(a, b, 0.5)[0] == pytest.approx(0.5)
    assert top_k_iou(a, a, 0.5)[0] == 1
    # no dependence on pixel order: the same permutation of both maps changes nothing
    order = torch.tensor([3, 1, 0, 2])
    assert top_k_iou(a.view(1, -1)[:, order].view(1, 2, 2), b.view(1, -1)[:, order].view(1, 2, 2), 0.5)[0] == \
        pytest.approx(0.5)
    assert top_k_iou(random_maps(), random_maps(seed=1), 1.0).tolist() == [1.0] * 6  # every pixel is in the top 100%


def test_maps_of_different_sizes_are_compared_at_the_smallest():
    large = F.avg_pool2d(random_maps(h=20, w=16).abs().unsqueeze(1), 3, 1, 1).squeeze(1)
    small = F.interpolate(large.unsqueeze(1), size=(10, 8), mode="bilinear", align_corners=False,
                          antialias=True).squeeze(1)
    agreement = attribution_agreement([large, small], ["large", "small"])
    assert agreement.size == (10, 8)
    assert np.allclose(agreement.spearman, 1) and np.allclose(agreement.iou, 1)


@pytest.mark.parametrize("top_k", [0, -0.1, 1.5, math.nan, "many"])
def test_top_k_outside_0_1_is_one_sentence(top_k):
    with pytest.raises(UserError, match=r"^The top-k fraction must be above 0 and at most 1 .*\.$"):
        attribution_agreement([random_maps()] * 2, ["a", "b"], top_k=top_k)


def test_mismatched_maps_are_one_sentence():
    with pytest.raises(UserError, match="same N >= 1 images"):
        attribution_agreement([random_maps(n=3), random_maps(n=4)], ["a", "b"])
    with pytest.raises(UserError, match="one name per map array"):
        attribution_agreement([random_maps()] * 2, ["a"])


def test_cli_default_top_k_matches_the_library():
    from xaicnn.cli.attribute import DEFAULT_TOP_K as CLI_DEFAULT

    assert CLI_DEFAULT == DEFAULT_TOP_K


@pytest.fixture(scope="module")
def ckpts(tmp_path_factory):
    """Two tiny runs on digits (different architectures, one epoch each)."""
    from xaicnn.training import TrainConfig, train

    folder = tmp_path_factory.mktemp("agreement-ckpts")
    base = dict(dataset="digits", train_size=200, val_size=60, precision="fp32", batch_size=32, epochs=1)
    return [train(TrainConfig(arch=arch, out=str(folder / f"{arch}.pt"), **base), progress=False, log=lambda *a, **k: None)
            for arch in ("vgg_block", "lenet5")]


def test_cli_two_checkpoints_write_and_print_the_agreement(ckpts, cli, tmp_path):
    code, out, err = cli("attribute", "--ckpt", ckpts[0], "--ckpt", ckpts[1], "--n", "3", "--steps", "4",
                         "--top-k", "0.2", "--out", tmp_path, "--quiet")
    assert code == 0, err
    doc = json.loads((tmp_path / "attributions.json").read_text())
    agreement = doc["agreement"]
    assert set(agreement) == {"names", "spearman", "iou", "top_k", "images", "size", "accuracy_on_images",
                              "deletion_auc"}
    assert agreement["names"] == ["vgg_block", "lenet5"] and agreement["top_k"] == 0.2 and agreement["images"] == 3
    for key in ("spearman", "iou"):
        matrix = np.array(agreement[key])
        assert matrix.shape == (2, 2) and np.array_equal(matrix, matrix.T) and np.all(np.diag(matrix) == 1)
    # the matrices are those of the saved maps; the per-run facts those of the per-image records
    arrays = np.load(tmp_path / "attributions.npz")
    again = attribution_agreement([torch.from_numpy(arrays[n]) for n in agreement["names"]], agreement["names"],
                                  top_k=0.2)
    assert np.allclose(agreement["spearman"], again.spearman) and np.allclose(agreement["iou"], again.iou)
    for i, name in enumerate(agreement["names"]):
        records = [(im["label"], im["runs"][name]) for im in doc["images"]]
        assert agreement["accuracy_on_images"][i] == pytest.approx(np.mean([r["prediction"] == lab for lab, r in records]))
        assert agreement["deletion_auc"][i] == pytest.approx(np.mean([r["deletion_auc"] for _, r in records]), abs=1e-6)
    lines = out.splitlines()
    heading = next(i for i, line in enumerate(lines) if line.startswith("agreement on 3 image(s)"))
    assert "top 20% pixels" in lines[heading]
    assert [line.split()[0] for line in lines[heading + 1:heading + 3]] == ["vgg_block", "lenet5"]
    assert "spearman" in lines[heading + 1] and "deletion AUC" in lines[heading + 1]


def test_cli_image_files_have_no_accuracy_and_one_run_no_agreement(ckpts, cli, tmp_path):
    from PIL import Image

    digit = np.zeros((32, 32), dtype=np.uint8)
    digit[8:24, 14:18] = 255  # a "1"
    Image.fromarray(digit).save(tmp_path / "one.png")
    code, _, err = cli("attribute", "--ckpt", ckpts[0], "--ckpt", ckpts[1], "--image", tmp_path / "one.png",
                       "--steps", "4", "--out", tmp_path / "pair", "--quiet")
    assert code == 0, err
    agreement = json.loads((tmp_path / "pair" / "attributions.json").read_text())["agreement"]
    assert agreement["accuracy_on_images"] == [None, None] and agreement["images"] == 1
    code, out, err = cli("attribute", "--ckpt", ckpts[0], "--n", "1", "--steps", "4", "--out", tmp_path / "one",
                         "--quiet")
    assert code == 0, err
    assert "agreement" not in json.loads((tmp_path / "one" / "attributions.json").read_text())
    assert "agreement on" not in out


@pytest.mark.parametrize("value", ["0", "1.5"])
def test_cli_top_k_outside_0_1_exits_2_with_one_sentence(ckpts, cli, tmp_path, value):
    code, out, err = cli("attribute", "--ckpt", ckpts[0], "--ckpt", ckpts[1], "--top-k", value, "--out", tmp_path)
    assert code == 2 and "top-k fraction must be above 0 and at most 1" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "attributions.json").exists()
