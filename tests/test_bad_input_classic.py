"""Bad input to every public name of singa.classic (issue 18, point 8): the SINGA 0.x
job API (Sequential, Energy, layers, Parameter, updaters, Cluster, Store, Data) and the
interactive layer API."""

import os

import numpy as np
import pytest

from singa import classic as C
from singa import singa_wrap as sw

from _bad_input import Bad, arr, check, check_coverage, on_other


def sequential(*layers):
    m = C.Sequential("net", argv=[])
    for lay in layers:
        m.add(lay)
    return m


def built_dense():
    lay = C.Dense(2)
    lay(arr(4, 3))
    return lay


def memory_data():
    return C.Data("memory", x=np.zeros((4, 3), np.float32), y=np.zeros(4, np.int32))


def dense_then_call(x):
    return C.Dense(2)(x)


def fed_dummy(data, shape):
    return C.Dummy(name="in").Feed(shape, data)


def case_list(tmp_path):
    p = str(tmp_path) if tmp_path is not None else "/nonexistent"
    return [
        Bad("Parameter", "unknown field", lambda: C.Parameter(colour=1), TypeError,
            r"'colour'"),
        Bad("Parameter", "unknown init", lambda: C.Parameter(init="xavier"), ValueError,
            r"'xavier'"),
        Bad("Parameter", "negative std", lambda: C.Parameter(std=-1.0), ValueError, r"-1"),
        Bad("Layer", "forward missing", lambda: C.Layer()(arr(2, 3)), NotImplementedError,
            r"forward"),
        Bad("Dense", "zero outputs", lambda: C.Dense(0), ValueError, r"output_dim.*0"),
        Bad("Dense", "unexpected argument", lambda: C.Dense(2, colour=1), TypeError,
            r"colour"),
        Bad("Dense", "None input", lambda: dense_then_call(None), TypeError, r"NoneType"),
        # A CUDA build moves a layer's inputs to its parameters' device instead, as SINGA's
        # layers do (layer/base.py: device_check).
        *([] if sw.USE_CUDA else [
            Bad("Dense", "other device", lambda: built_dense()(on_other(4, 3)), RuntimeError,
                r"-2|different devices", who=r"Dense|Linear|Matmul")]),
        Bad("Activation", "unknown kind", lambda: C.Activation("swish"), ValueError,
            r"'swish'", who=r"activation"),
        Bad("Convolution2D", "zero filters", lambda: C.Convolution2D(0, 3), ValueError,
            r"nb_filter.*0"),
        Bad("Convolution2D", "zero kernel", lambda: C.Convolution2D(2, 0), ValueError,
            r"kernel.*0"),
        Bad("Convolution2D", "1-D samples", lambda: C.Convolution2D(2, 3, name="c1")(arr(4, 5)),
            ValueError, r"\(5,\)", who=r"c1"),
        Bad("Convolution", "zero filters", lambda: C.Convolution(0, 3), ValueError,
            r"nb_filter.*0", who=r"Convolution2D"),
        Bad("MaxPooling2D", "zero pool", lambda: C.MaxPooling2D(0), ValueError, r"0",
            who=r"MaxPool2d|MaxPooling2D"),
        Bad("MaxPooling2D", "pool above input", lambda: C.MaxPooling2D((5, 5))(arr(1, 1, 4, 4)),
            ValueError, r"5", who=r"MaxPool2d|MaxPooling2D"),
        Bad("AvgPooling2D", "negative stride", lambda: C.AvgPooling2D(2, stride=-1), ValueError,
            r"-1", who=r"AvgPool2d|AvgPooling2D"),
        Bad("LRN2D", "zero size", lambda: C.LRN2D(0), ValueError, r"size.*0"),
        Bad("Dropout", "ratio 1", lambda: C.Dropout(1.0), ValueError, r"1"),
        Bad("RBM", "zero hidden", lambda: C.RBM([10, 0]), ValueError, r"\[10, 0\]"),
        Bad("RBM", "unexpected argument", lambda: C.RBM(10, colour=1), TypeError, r"colour"),
        Bad("Autoencoder", "no hidden sizes", lambda: C.Autoencoder(), ValueError, r"None",
            who=r"Autoencoder"),
        Bad("Autoencoder", "unknown activation", lambda: C.Autoencoder([4], activation="x"),
            ValueError, r"'x'", who=r"activation"),
        Bad("Dummy", "values do not fit", lambda: fed_dummy(np.zeros(10), (3,)), ValueError,
            r"10.*\(3,\)", who=r"\bin\b"),
        Bad("ImageInput", "negative channels", lambda: C.ImageInput(4, 4, -1), ValueError,
            r"-1", who=r"ImageInput"),
        Bad("LabelInput", "text labels", lambda: C.LabelInput(name="lab").Feed(["a"]),
            TypeError, r"'a'", who=r"LabelInput"),
        Bad("Loss", "unknown loss", lambda: C.Loss("hinge"), ValueError, r"'hinge'"),
        Bad("Loss", "one source", lambda: C.Loss().ComputeFeature(C.Dummy()), ValueError,
            r"ComputeFeature"),
        Bad("STanh", "None", lambda: C.STanh()(None), TypeError, r"NoneType"),
        Bad("stanh", "ndarray", lambda: C.stanh(np.ones(2)), TypeError, r"ndarray",
            who=r"STanh"),
        Bad("pool_size", "text", lambda: C.MaxPooling2D(C.pool_size("a", 3)), ValueError,
            r"'a'", who=r"MaxPool2d|pool_size"),
        Bad("Updater", "unknown lr type", lambda: C.Updater(0.1, lr_type="cosine"), ValueError,
            r"'cosine'", who=r"lr_type"),
        Bad("Updater", "negative lr", lambda: C.Updater(-0.1), ValueError, r"-0\.1",
            who=r"\blr\b"),
        Bad("SGD", "negative decay", lambda: C.SGD(0.1, decay=-1.0), ValueError, r"-1",
            who=r"decay"),
        Bad("SGD", "unexpected argument", lambda: C.SGD(0.1, colour=1), TypeError, r"colour"),
        Bad("AdaGrad", "momentum", lambda: C.AdaGrad(0.1, momentum=0.9), ValueError,
            r"momentum", who=r"AdaGrad"),
        Bad("LearningRate", "step decreases",
            lambda: C.LearningRate(0.1, "manual", step=(5, 2), step_lr=(0.1, 0.01)),
            ValueError, r"\(5, 2\)", who=r"step"),
        Bad("Cluster", "no workspace", lambda: C.Cluster(), ValueError, r"workspace"),
        Bad("Cluster", "two workers", lambda: C.Cluster(p, nworkers_per_group=2), ValueError,
            r"2"),
        Bad("Store", "zero batch size", lambda: C.Store(p, batch_size=0), ValueError,
            r"batch_size.*0"),
        Bad("Store", "zero std", lambda: C.Store(p, std_value=0), ValueError, r"std_value"),
        Bad("Data", "unknown phase", lambda: C.Data("memory", phase="dev", x=np.zeros((2, 3))),
            ValueError, r"'dev'"),
        Bad("Data", "labels count", lambda: C.Data("memory", x=np.zeros((4, 3)),
                                                   y=np.zeros(3)), ValueError, r"4.*3"),
        Bad("latest_checkpoint", "None folder", lambda: C.latest_checkpoint(None), TypeError,
            r"got None"),
        Bad("Model", "add a number", lambda: C.Model("m", argv=[]).add(5), TypeError, r"5",
            who=r"\badd\b"),
        Bad("Model", "compile with an optimizer of text",
            lambda: C.Model("m", argv=[]).compile(optimizer="sgd"), TypeError, r"'sgd'",
            who=r"compile"),
        Bad("Sequential", "unknown loss", lambda: sequential(C.Dense(2)).compile(
            loss="hinge", optimizer=C.SGD(0.1)), ValueError, r"'hinge'", who=r"compile"),
        Bad("Sequential", "negative steps", lambda: sequential(C.Dense(2)).fit(
            memory_data(), nb_epoch=-1), ValueError, r"-1", who=r"fit"),
        Bad("Sequential", "fit with alg cd", lambda: sequential(C.Dense(2)).fit(
            memory_data(), alg="cd"), ValueError, r"'cd'", who=r"Sequential\.fit"),
        Bad("Sequential", "fit on an array", lambda: sequential(C.Dense(2)).fit(
            np.zeros((4, 3), np.float32)), TypeError, r"ndarray", who=r"\bfit\b"),
        Bad("Sequential", "evaluate on an array", lambda: sequential(C.Dense(2)).evaluate(
            np.zeros((4, 3), np.float32)), ValueError, r"ndarray", who=r"evaluate"),
        Bad("Energy", "fit with alg bp", lambda: C.Energy("e", argv=[]).fit(
            memory_data(), alg="bp"), ValueError, r"'bp'", who=r"Energy\.fit"),
        Bad("save_model_parameter", "not a list of layers",
            lambda: C.save_model_parameter(0, os.path.join(p, "m.ckpt"), [5]), TypeError,
            r"int", who=r"save_model_parameter"),
        Bad("load_model_parameter", "missing file",
            lambda: C.load_model_parameter(os.path.join(p, "none.ckpt"), [C.Dense(2)]),
            ValueError, r"none\.ckpt", who=r"checkpoint"),
    ]


EXEMPT = {}

CASE_IDS = [c.id for c in case_list(None)]


@pytest.mark.parametrize("index", range(len(CASE_IDS)), ids=CASE_IDS)
def test_bad_input(index, tmp_path):
    check(case_list(tmp_path)[index])


def test_every_public_name_has_bad_input_cases():
    check_coverage(C, case_list(None), EXEMPT)
