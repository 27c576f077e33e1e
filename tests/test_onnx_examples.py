"""The ONNX examples (examples/onnx/) in their --quick mode, run as scripts the way a
user runs them: what they print, and that the imported CIFAR CNN's accuracy continues
from the exported model's."""

import os
import re
import subprocess
import sys

import pytest
from _launcher import env_with_this_singa  # noqa: E402

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
EXAMPLES = os.path.join(ROOT, "examples", "onnx")


def run_example(name, *args):
    """Runs examples/onnx/<name>.py with the singa this test imported first on the path;
    returns its stdout (the test fails with the output when the script does)."""
    env = env_with_this_singa()
    proc = subprocess.run([sys.executable, os.path.join(EXAMPLES, name + ".py"), *args],
                          env=env, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def percent(pattern, text):
    m = re.search(pattern, text)
    assert m, "no match for {!r} in:\n{}".format(pattern, text)
    return [float(g) for g in m.groups()]


def epoch_losses(prefix, text):
    return [float(v) for v in re.findall(prefix + r" epoch \d+/\d+: train loss ([0-9.]+)", text)]


def test_mnist_mlp_runs_in_onnxruntime_with_singas_outputs(tmp_path):
    path = tmp_path / "mlp.onnx"
    out = run_example("mnist_mlp_onnxruntime", "--quick", "--no-progress", "--output",
                      str(path))
    assert re.search(r"epoch 1/1: train loss [0-9.]+  train acc [0-9.]+%  val acc", out), out
    assert "outputs agree (1e-4): yes" in out
    acc_singa, acc_ort = percent(r"test accuracy: singa ([0-9.]+)%  onnxruntime ([0-9.]+)%",
                                 out)
    assert acc_singa == acc_ort
    assert acc_singa > 70.0, out  # 30 steps of RMSprop; chance is 10%
    diff, = percent(r"max abs logit difference singa vs onnxruntime: ([0-9.e+-]+)", out)
    assert diff < 1e-4
    # the file it wrote is a checked model with a symbolic batch axis
    import onnx
    model = onnx.load(str(path))
    onnx.checker.check_model(model, full_check=True)
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param == "batch" and dims[1].dim_value == 784
    assert [o.name for o in model.graph.output] == ["logits"]


def test_cifar_cnn_fine_tuned_in_a_fresh_process_continues_from_the_export():
    out = run_example("cifar_cnn_export", "--quick", "--no-progress")
    trained = epoch_losses("singa", out)
    tuned = epoch_losses("fine-tune", out)
    assert len(trained) == 2 and len(tuned) == 1, out
    exported, = percent(r"singa model test accuracy before export: ([0-9.]+)%", out)
    imported, = percent(r"imported model test accuracy before fine-tuning: ([0-9.]+)%", out)
    before, after = percent(r"test accuracy: ([0-9.]+)% as imported, ([0-9.]+)% after", out)
    assert "starting a fresh process" in out
    # The fresh process sees the exported model's accuracy, to the image.
    assert imported == exported == before
    assert exported > 15.0, out  # it learned something (chance is 10%)
    # Fine-tuning starts from the trained model: its loss continues below the last
    # training epoch's instead of restarting near ln(10) = 2.30, and the accuracy
    # does not fall back.
    assert tuned[0] < trained[-1], out
    assert after >= before - 2.0, out
    assert "trainable: params.fc.W, params.fc.b;" in out
    assert "frozen: params.conv1.W, params.conv1.b, params.conv2.W" in out
    assert "frozen parameters unchanged: yes" in out


def test_cifar_cnn_export_alone_writes_a_model_the_finetune_script_reads(tmp_path):
    path = tmp_path / "cnn.onnx"
    out = run_example("cifar_cnn_export", "--quick", "--no-progress", "--no-finetune",
                      "--epochs", "1", "--max-steps", "3", "--output", str(path))
    assert "starting a fresh process" not in out and path.exists()
    exported, = percent(r"singa model test accuracy before export: ([0-9.]+)%", out)
    out = run_example("cifar_cnn_finetune", str(path), "--quick", "--no-progress",
                      "--epochs", "2", "--max-steps", "3")
    imported, = percent(r"imported model test accuracy before fine-tuning: ([0-9.]+)%", out)
    assert imported == exported
    assert len(epoch_losses("fine-tune", out)) == 2
    assert "frozen parameters unchanged: yes" in out
