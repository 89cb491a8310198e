"""xaicnn._hooks.forward_hooks: hooks run inside the block and are gone after it, error or not."""
import pytest
import torch
import torch.nn as nn

from xaicnn._hooks import forward_hooks


def _net():
    return nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2))


def _hook_count(modules):
    return sum(len(m._forward_hooks) + len(m._forward_pre_hooks) for m in modules)


def test_forward_hooks_see_each_output_and_are_removed():
    net = _net()
    seen = []
    with forward_hooks(net, lambda m, _i, out: seen.append((type(m).__name__, tuple(out.shape)))) as handles:
        assert len(handles) == 3 and _hook_count(net) == 3
        net(torch.zeros(5, 3))
    assert seen == [("Linear", (5, 4)), ("ReLU", (5, 4)), ("Linear", (5, 2))]
    assert _hook_count(net) == 0
    net(torch.zeros(5, 3))
    assert len(seen) == 3  # a pass after the block calls nothing


def test_pre_hooks_run_before_forward_with_the_inputs():
    net = _net()
    seen = []
    with forward_hooks(net[2:], lambda m, inputs: seen.append(tuple(inputs[0].shape)), pre=True):
        assert len(net[2]._forward_pre_hooks) == 1 and not net[2]._forward_hooks
        net(torch.zeros(2, 3))
    assert seen == [(2, 4)]
    assert _hook_count(net) == 0


def test_hooks_are_removed_when_the_block_raises():
    net = _net()
    with pytest.raises(RuntimeError, match="boom"):
        with forward_hooks(net, lambda *a: None):
            assert _hook_count(net) == 3
            raise RuntimeError("boom")
    assert _hook_count(net) == 0


def test_a_failing_registration_removes_the_hooks_already_registered():
    net = _net()

    class Broken(nn.Module):
        def register_forward_hook(self, hook, **kwargs):
            raise RuntimeError("cannot hook")

    modules = [net[0], net[1], Broken()]
    with pytest.raises(RuntimeError, match="cannot hook"):
        with forward_hooks(modules, lambda *a: None):
            pass  # pragma: no cover - never entered
    assert _hook_count(net) == 0
