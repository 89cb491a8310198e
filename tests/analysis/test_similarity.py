"""Linear CKA: the full-batch reference, the minibatch unbiased estimator, layer selection, runs compared."""
import json
from pathlib import Path

import numpy as np
import pytest
import torch

from xaicnn.analysis.similarity import (LAYER_KINDS, MinibatchCKA, gram, layer_similarity, linear_cka, minibatches,
                                        select_layers, unbiased_hsic)
from xaicnn.errors import UserError
from xaicnn.models import create
from xaicnn.training.checkpoint import Run


def features(n=2048, seed=0):
    """Two related representations of n points: linear and tanh views of one 8-d latent, plus noise.

    Few features (32, 24) next to many points, so the estimators' bias is small and they can be compared."""
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(n, 8, generator=g, dtype=torch.float64)
    x = z @ torch.randn(8, 32, generator=g, dtype=torch.float64) + 0.5 * torch.randn(n, 32, generator=g, dtype=torch.float64)
    y = torch.tanh(z @ torch.randn(8, 24, generator=g, dtype=torch.float64)) + 0.5 * torch.randn(n, 24, generator=g, dtype=torch.float64)
    return x, y


def minibatch_cka(x, y, batch_size):
    acc = MinibatchCKA(2)
    for b in minibatches(len(x), batch_size):
        acc.update_features([x[b.start:b.stop], y[b.start:b.stop]])
    return acc.cka()[0, 1].item()


@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_of_a_representation_with_itself_is_one(unbiased):
    x, _ = features(256)
    assert linear_cka(x, x, unbiased=unbiased) == pytest.approx(1, abs=1e-12)


@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_is_invariant_to_orthogonal_maps_and_isotropic_scaling(unbiased):
    x, y = features(256)
    q, _ = torch.linalg.qr(torch.randn(32, 32, generator=torch.Generator().manual_seed(1), dtype=torch.float64))
    reference = linear_cka(x, y, unbiased=unbiased)
    assert linear_cka(x @ q, y, unbiased=unbiased) == pytest.approx(reference, abs=1e-10)
    assert linear_cka(3.7 * x, 0.01 * y, unbiased=unbiased) == pytest.approx(reference, abs=1e-10)


def test_cka_is_not_invariant_to_an_invertible_non_orthogonal_map():
    # the sanity check of the invariance test above: a map that stretches some directions 100x changes CKA
    x, y = features(256)
    stretch = torch.diag(torch.logspace(0, 2, 32, dtype=torch.float64))
    assert abs(linear_cka(x @ stretch, y) - linear_cka(x, y)) > 0.05


@pytest.mark.parametrize("unbiased", [False, True])
def test_cka_is_symmetric(unbiased):
    x, y = features(256)
    assert linear_cka(x, y, unbiased=unbiased) == pytest.approx(linear_cka(y, x, unbiased=unbiased), abs=1e-12)


def test_one_minibatch_of_all_images_is_the_full_batch_unbiased_cka():
    x, y = features(300)
    assert minibatch_cka(x, y, batch_size=300) == pytest.approx(linear_cka(x, y, unbiased=True), abs=1e-12)


@pytest.mark.parametrize("batch_size", [64, 256, 512])
def test_minibatch_estimate_agrees_with_the_full_batch_formula(batch_size):
    # Like with like: the average of per-minibatch unbiased HSICs estimates the same population quantity as the
    # full-batch unbiased HSIC, so they differ by sampling noise only. The biased full-batch formula of Kornblith
    # et al. carries an O(p/n) bias, small here (32 and 24 features, 2048 points), so it agrees too.
    x, y = features()
    estimate = minibatch_cka(x, y, batch_size)
    assert estimate == pytest.approx(linear_cka(x, y, unbiased=True), abs=1e-2)
    assert estimate == pytest.approx(linear_cka(x, y), abs=1e-2)


def test_unbiased_minibatches_see_independent_wide_features_as_unrelated():
    # Why the unbiased estimator: with more features than images per batch, the biased CKA of two independent
    # noise representations is near 1 in every batch of 32; the unbiased average stays near the true 0.
    g = torch.Generator().manual_seed(0)
    x, y = (torch.randn(512, 1000, generator=g, dtype=torch.float64) for _ in range(2))
    biased = np.mean([linear_cka(x[b.start:b.stop], y[b.start:b.stop]) for b in minibatches(512, 32)])
    assert biased > 0.9
    assert abs(minibatch_cka(x, y, 32)) < 0.05


def test_vectorised_hsic_matches_song_et_al_written_out():
    g = torch.Generator().manual_seed(2)
    feats = [torch.randn(12, p, generator=g, dtype=torch.float64) for p in (3, 5, 7)]
    grams = torch.stack([f @ f.T for f in feats])  # raw, uncentred Grams, as in the paper
    n, one = 12, torch.ones(12, dtype=torch.float64)

    def hsic1(k, l):  # Song et al. 2012, eq. 5, term by term
        k, l = k - torch.diag(torch.diag(k)), l - torch.diag(torch.diag(l))
        return (torch.trace(k @ l) + (one @ k @ one) * (one @ l @ one) / ((n - 1) * (n - 2))
                - 2 / (n - 2) * (one @ k @ l @ one)) / (n * (n - 3))

    expected = torch.tensor([[hsic1(a, b) for b in grams] for a in grams], dtype=torch.float64)
    torch.testing.assert_close(unbiased_hsic(grams), expected)
    # gram() centres the features first: HSIC does not change when a constant is added to every row
    torch.testing.assert_close(unbiased_hsic(torch.stack([gram(f) for f in feats])), expected)


def test_minibatches_are_nearly_equal_and_never_below_four():
    assert [len(b) for b in minibatches(1000, 256)] == [250] * 4
    assert [len(b) for b in minibatches(5, 4)] == [5]
    assert sum(len(b) for b in minibatches(1001, 64)) == 1001 and min(len(b) for b in minibatches(1001, 64)) >= 62


# --- layer selection -----------------------------------------------------------------------------------------

def layers_of(arch, kind="blocks", c=3, size=32, classes=10):
    return select_layers(create(arch, in_channels=c, num_classes=classes, image_size=size), torch.randn(1, c, size, size), kind)


def test_blocks_of_plain_vgg_are_each_conv_and_linear_after_its_activation():
    assert layers_of("vgg16") == [f"features.{i}" for i in (1, 3, 6, 8, 11, 13, 15, 18, 20, 22, 25, 27, 29)] + \
        ["classifier.1", "classifier.4", "classifier.6"]
    assert len(layers_of("vgg16", "convs")) == 13


def test_blocks_of_resnet_are_the_stem_the_residual_blocks_and_the_logits():
    assert layers_of("resnet18") == ["relu"] + [f"layer{s}.{b}" for s in range(1, 5) for b in range(2)] + ["fc"]
    assert len(layers_of("resnet50")) == 18


def test_blocks_of_the_block_models_are_their_composite_modules():
    assert layers_of("vgg_block", c=1) == ["features.0", "features.2", "features.3", "classifier.1"]
    assert layers_of("inception_v1")[:3] == ["stem", "inception.0", "inception.1"]


def test_unknown_layer_kind_and_a_kind_a_model_lacks_are_one_sentence():
    with pytest.raises(UserError, match="Unknown layer kind"):
        layers_of("vgg_block", "nope", c=1)
    with pytest.raises(UserError, match="no layers of kind 'convs'"):
        layers_of("fc20", "convs")
    assert set(LAYER_KINDS) >= {"blocks", "convs"}


# --- runs ------------------------------------------------------------------------------------------------------

def make_run(arch, name, *, dataset="digits", size=32, seed=0):
    """An untrained run as load_checkpoint would give it (CKA needs a model and its normalisation, not training)."""
    torch.manual_seed(seed)
    model = create(arch, in_channels=1, num_classes=10, image_size=size).eval()
    meta = {"arch": arch, "dataset": dataset, "in_channels": 1, "image_size": [size, size], "mean": [0.3], "std": [0.3],
            "classes": [str(i) for i in range(10)], "config": {"data_dir": None, "val_size": None}}
    return Run(Path(f"{name}.pt"), meta, [], model)


def test_self_similarity_of_a_run_is_symmetric_with_ones_on_the_diagonal():
    result = layer_similarity(make_run("vgg_block", "a"), n=40, batch_size=16, progress=False)
    assert result.layers_a == result.layers_b == ["features.0", "features.2", "features.3", "classifier.1"]
    assert result.cka.shape == (4, 4) and result.self_similarity and result.names == ("a", "a")
    np.testing.assert_allclose(np.diag(result.cka), 1, atol=1e-9)
    np.testing.assert_allclose(result.cka, result.cka.T, atol=1e-12)
    assert result.images == 40 and result.batches == 3 and result.batch_size == 14  # 40 in 3 near-equal batches
    doc = json.loads(json.dumps(result.to_json()))
    assert doc["cka"][0][0] == 1 and doc["layers_a"] == result.layers_a and doc["estimator"] == result.estimator
    assert [m["layer"] for m in doc["best_match"]] == result.layers_a and len(result.neighbour_similarity()) == 3


def test_two_runs_give_a_rows_by_columns_matrix_and_swapping_them_transposes_it():
    a, b = make_run("vgg_block", "a"), make_run("bottleneck_block", "b", seed=1)
    images = a.val_data(size=32).images
    ab = layer_similarity(a, b, images=images, batch_size=16, progress=False)
    ba = layer_similarity(b, a, images=images, batch_size=16, progress=False)
    assert ab.cka.shape == (len(ab.layers_a), len(ab.layers_b)) == (4, 4) and not ab.self_similarity
    np.testing.assert_allclose(ab.cka, ba.cka.T, atol=1e-9)
    assert "vs" in ab.describe() and np.all(ab.cka <= 1 + 1e-9)


def test_runs_on_different_datasets_or_input_sizes_are_refused_in_one_sentence():
    a = make_run("vgg_block", "a")
    with pytest.raises(UserError, match="trained on digits and b on mnist"):
        layer_similarity(a, make_run("vgg_block", "b", dataset="mnist"), progress=False)
    with pytest.raises(UserError, match="no image feeds both"):
        layer_similarity(a, make_run("plain_alpha", "c", size=100), progress=False)
    with pytest.raises(UserError, match="at least 4"):
        layer_similarity(a, n=3, progress=False)


@pytest.mark.parametrize("offset", [0.0, 10.0, 1000.0])
def test_float32_grams_match_the_float64_reference_even_with_a_large_common_offset(offset):
    # gram() multiplies float32 activations raw unless a common offset dominates them; either way CKA must hold
    g = torch.Generator().manual_seed(3)
    x = torch.randn(200, 500, generator=g)
    y = x[:, :300] * 2 + 0.3 * torch.randn(200, 300, generator=g)
    fast = MinibatchCKA(2)
    fast.update([gram(x + offset), gram(y + offset)])
    assert fast.cka()[0, 1].item() == pytest.approx(linear_cka(x.double(), y.double(), unbiased=True), abs=1e-6)
