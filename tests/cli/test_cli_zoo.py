import json
import subprocess
import sys

import pytest

from xaicnn import models


def test_archs_lists_every_name(cli):
    code, out, _ = cli("archs")
    assert code == 0
    listed = [line.split()[0] for line in out.splitlines() if line.strip()]
    assert listed == models.MODELS.names()


@pytest.mark.parametrize("arch,dataset,params", [
    ("vgg16", "cifar10", 33_638_218), ("vgg16_7x7", "cifar10", 99_018_058),
    ("bottleneck_alpha", "glyphs", 366_792), ("plain_alpha", "glyphs", 582_824),
])
def test_summary_json_exact_counts(cli, arch, dataset, params):
    code, out, _ = cli("summary", "--arch", arch, "--dataset", dataset, "--json")
    assert code == 0
    doc = json.loads(out)
    assert {"arch", "input_size", "params", "flops", "macs", "layers"} <= set(doc)
    assert doc["arch"] == arch and doc["params"] == params and doc["flops"] == 2 * doc["macs"] > 0
    for row in doc["layers"]:
        assert set(row) == {"name", "type", "output_shape", "params", "flops", "receptive_field", "jump", "start"}
    assert sum(r["params"] for r in doc["layers"]) == params


def test_summary_dataset_metadata_and_block_models_take_mnist_at_32(cli):
    code, out, _ = cli("summary", "--arch", "vgg_block", "--dataset", "mnist", "--json")
    assert code == 0 and json.loads(out)["input_size"] == [1, 32, 32]
    code, out, _ = cli("summary", "--arch", "lenet5", "--dataset", "mnist", "--json")
    assert json.loads(out)["input_size"] == [1, 28, 28]
    code, out, _ = cli("summary", "--arch", "bottleneck_alpha", "--dataset", "glyphs", "--json")
    assert json.loads(out)["input_size"] == [1, 100, 100] and json.loads(out)["num_classes"] == 52


def test_summary_table_for_imagenet_resnet50(cli):
    code, out, _ = cli("summary", "--arch", "resnet50", "--input-size", "3,224,224", "--num-classes", "1000")
    assert code == 0
    assert "layer4.2.conv3" in out and "25,557,032 parameters" in out and "FLOPs = 2 x MACs" in out


def test_summary_model_options(cli):
    code, out, _ = cli("summary", "--arch", "vgg16", "--dataset", "cifar10", "-O", "kernel_size=7", "--json")
    assert json.loads(out)["params"] == 99_018_058


@pytest.mark.parametrize("argv,needle", [
    (["summary", "--arch", "resnt18", "--dataset", "cifar10"], "did you mean resnet18"),
    (["summary", "--arch", "vgg16", "--input-size", "3,16,16"], "at least 32x32"),
    (["summary", "--arch", "vgg16", "--input-size", "3,x,16"], "three positive integers"),
    (["summary", "--arch", "vgg16", "--dataset", "cifar100"], "Unknown dataset 'cifar100'"),
    (["summary", "--arch", "vgg16", "-O", "depth"], "KEY=VALUE"),
])
def test_bad_input_one_sentence_exit_2(cli, argv, needle):
    code, out, err = cli(*argv)
    assert code == 2
    assert needle in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1


def test_help_does_not_import_torch():
    """What keeps ``xaicnn --help`` fast (about 0.1 s against 2-3 s with torch): nothing heavy is imported."""
    code = "import sys; from xaicnn.cli import main\ntry: main(['--help'])\nexcept SystemExit: pass\nassert 'torch' not in sys.modules, 'torch imported'"
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)
    for command in ("summary", "archs"):
        probe = f"import sys; from xaicnn.cli import main\ntry: main(['{command}', '--help'])\nexcept SystemExit: pass\nassert 'torch' not in sys.modules"
        subprocess.run([sys.executable, "-c", probe], check=True, capture_output=True)


def test_python_dash_m_works():
    out = subprocess.run([sys.executable, "-m", "xaicnn", "archs"], check=True, capture_output=True, text=True).stdout
    assert "bottleneck_alpha" in out


def test_reader_closing_the_pipe_early_is_not_an_error():
    """`xaicnn study --list | head -2`: the reader goes away mid-output; the CLI stops quietly (no traceback)."""
    proc = subprocess.Popen([sys.executable, "-m", "xaicnn", "study", "--list"], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
    proc.stdout.close()  # before the interpreter has even started: every write will meet a closed pipe
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 141, err
    assert "Traceback" not in err and "BrokenPipe" not in err, err
