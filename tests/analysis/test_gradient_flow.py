import json

import numpy as np
import pytest

from xaicnn.analysis.gradient_flow import (GradientFlow, format_flow, from_record, gradient_flow, is_layer_weight,
                                           stage_of, vanishing_layers)
from xaicnn.errors import UserError
from xaicnn.training import TrainConfig, load_checkpoint, train

VGG_BLOCK_WEIGHTS = ["features.0.0.weight", "features.2.0.0.weight", "features.2.1.0.weight", "features.3.0.weight",
                     "classifier.1.weight"]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("gradflow") / "vgg_block.pt"
    config = TrainConfig(arch="vgg_block", dataset="digits", epochs=2, batch_size=32, train_size=200, val_size=60,
                         out=str(out))
    return load_checkpoint(train(config, progress=False, log=lambda *a, **k: None))


def test_matrix_is_the_recorded_gradient_flow_in_network_order(run):
    for stat in ("norm", "mean_abs", "max_abs"):
        flow = gradient_flow(run, stat, weights_only=False)
        assert flow.layers == [n for n, _ in run.model.named_parameters()] == list(run.gradient_flow)
        assert flow.epochs == [1, 2] and flow.matrix.shape == (len(flow.layers), 2)
        for name, row in zip(flow.layers, flow.matrix):
            assert row.tolist() == run.gradient_flow[name][stat]
        assert (flow.name, flow.arch, flow.stat, flow.level) == ("vgg_block", "vgg_block", stat, "parameter")


def test_weights_only_keeps_conv_and_linear_weights(run):
    flow = gradient_flow(run)
    assert flow.layers == VGG_BLOCK_WEIGHTS  # batch-norm scales (1-D) and biases dropped, order kept
    full = gradient_flow(run, weights_only=False)
    assert np.array_equal(flow.matrix, full.matrix[[full.layers.index(n) for n in VGG_BLOCK_WEIGHTS]])
    assert flow.key_layers() == ["features.0.0.weight", "features.2.1.0.weight", "classifier.1.weight"]
    assert gradient_flow([run, run])[1].layers == VGG_BLOCK_WEIGHTS


def test_by_stage_means_each_top_level_module(run):
    flow = gradient_flow(run)
    stages = flow.by_stage()
    assert stages.layers == ["features", "classifier"] and stages.level == "stage"
    assert np.allclose(stages.row("features"), flow.matrix[:4].mean(0))
    assert np.allclose(stages.row("classifier"), flow.row("classifier.1.weight"))
    assert stages.by_stage() is stages


def test_by_stage_on_resnet_names_and_stage_of():
    names = ["conv1.weight", "layer1.0.conv1.weight", "layer1.0.conv2.weight", "layer1.1.conv1.weight",
             "layer2.0.conv1.weight", "layer2.0.downsample.0.weight", "fc.weight"]
    matrix = np.arange(len(names) * 3, dtype=float).reshape(len(names), 3) + 1
    record = {n: {"norm": list(r), "mean_abs": list(r / 10), "max_abs": list(r * 2)} for n, r in zip(names, matrix)}
    flow = from_record(record, ndims={n: 4 for n in names}, name="r", arch="resnet18")
    stages = flow.by_stage()
    assert stages.layers == ["conv1", "layer1", "layer2", "fc"]
    assert np.allclose(stages.matrix, [matrix[0], matrix[1:4].mean(0), matrix[4:6].mean(0), matrix[6]])
    assert from_record(record, "max_abs", ndims={n: 4 for n in names}).matrix.tolist() == (matrix * 2).tolist()
    assert stage_of("layer3.1.conv2.weight") == "layer3" and stage_of("cls_token") == "cls_token"


@pytest.mark.parametrize("name,ndim,keep", [
    ("features.0.weight", 4, True), ("classifier.1.weight", 2, True), ("bn1.weight", 1, False),
    ("conv1.bias", 1, False), ("encoder.attn.in_proj_weight", 2, True), ("pos_embedding", 3, False),
    ("norm.weight", 1, False),
])
def test_is_layer_weight(name, ndim, keep):
    assert is_layer_weight(name, ndim) is keep


def test_vanishing_layers_and_epoch_lookup():
    flow = GradientFlow("deep", "vgg50", "norm", ["a", "b", "c", "d"], [1, 2, 3],
                        np.array([[1e-6, 1e-7, 1e-8], [1e-2, 1e-3, 1e-4], [1.0, 1.0, 1.0], [0.5, 0.5, 2.0]]))
    assert vanishing_layers(flow) == ["a", "b"]  # at the last epoch the max is 2.0: 1e-8 and 1e-4 are under 2e-3
    assert vanishing_layers(flow, epoch=1) == ["a"]
    assert vanishing_layers(flow, ratio=0.4) == ["a", "b"] and vanishing_layers(flow, ratio=0.6) == ["a", "b", "c"]
    assert flow.at(2).tolist() == [1e-7, 1e-3, 1.0, 0.5]
    with pytest.raises(UserError, match="Epoch 4 is outside deep's recorded epochs 1-3"):
        flow.at(4)
    doc = json.loads(json.dumps(flow.to_dict()))
    assert doc["layers"] == ["a", "b", "c", "d"] and doc["matrix"][3] == [0.5, 0.5, 2.0]
    assert "a, b" in format_flow(flow)
    assert GradientFlow("one", "x", "norm", ["only"], [1], np.ones((1, 1))).key_layers() == ["only"]


def test_bad_records_give_one_sentence():
    with pytest.raises(UserError, match="--no-grad-flow"):
        from_record({}, name="plain")
    with pytest.raises(UserError, match="Unknown gradient statistic 'l2'"):
        from_record({"w": {"norm": [1.0]}}, "l2")
    with pytest.raises(UserError, match="--all-params"):
        from_record({"b": {"norm": [1.0]}}, ndims={"b": 1})
    with pytest.raises(UserError, match="no finished epoch"):
        from_record({"w": {"norm": []}}, weights_only=False)
