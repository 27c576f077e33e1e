"""Import an exported CIFAR-10 CNN and fine-tune its last layer on the CIFAR-10 subset.

Meant to run in a fresh process after cifar_cnn_export.py (which starts it): the ONNX
file is the only thing it gets. ``sonnx.SONNXModel`` builds a singa Model from the
graph, whose float initializers are its parameters; all but the last layer's (the
initializers of the last MatMul/Gemm/Conv node and the nodes after it) are frozen, and
``train_one_batch`` (softmax cross-entropy) trains the rest in graph mode. The test
accuracy printed before fine-tuning is the exported model's.

    python examples/onnx/cifar_cnn_finetune.py cifar_cnn.onnx [--epochs 2] [--lr 0.002]
"""

import argparse
import os
import sys

import numpy as np

from singa import device, opt, sonnx, tensor

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import cifar_cnn_export as common  # noqa: E402  (the data, accuracy and epoch loop)

_WEIGHTED = ("MatMul", "Gemm", "Conv", "ConvTranspose")


def last_layer_initializers(model):
    """Names of the initializers read by the graph's last weighted node and the nodes
    after it (for the CIFAR CNN: the dense layer's fc.W and fc.b)."""
    nodes = list(model.graph.node)
    inits = {i.name for i in model.graph.initializer}
    last = max(i for i, n in enumerate(nodes) if n.op_type in _WEIGHTED)
    return sorted({name for n in nodes[last:] for name in n.input if name in inits})


def freeze_all_but(net, keep):
    """Stops gradients to every parameter of ``net`` whose initializer is not in
    ``keep``; returns the names left trainable and {name: Tensor} of the frozen ones
    (no longer listed by get_params, which names what gets gradients)."""
    trainable, frozen = [], {}
    for name, t in net.get_params().items():
        init = name.partition(".")[2]  # SONNXModel's params are params.<initializer>
        if init in keep:
            trainable.append(name)
        else:
            t.requires_grad = t.stores_grad = False
            frozen[name] = t
    return trainable, frozen


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("model", help="the .onnx file cifar_cnn_export.py wrote")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--batch-size", type=int, default=100)
    p.add_argument("--lr", type=float, default=0.002)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--max-steps", type=int, default=None, help="stop each epoch early")
    p.add_argument("--quick", action="store_true", help="6 steps an epoch, 300 test images")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--no-progress", action="store_true")
    args = p.parse_args(argv)
    if args.quick:
        args.max_steps = args.max_steps or 6
    return args


def main(argv=None):
    """Returns (test accuracy as imported, after fine-tuning)."""
    args = parse_args(argv)
    xtr, ytr, xte, yte = common.cifar(args.data_dir, args.quick)
    device.get_default_device().SetRandSeed(args.seed)
    np.random.seed(args.seed)
    onnx_model = sonnx.load(args.model)
    net = sonnx.SONNXModel(onnx_model)
    keep = last_layer_initializers(onnx_model)
    trainable, frozen = freeze_all_but(net, keep)
    sgd = opt.SGD(lr=args.lr, momentum=0.9, weight_decay=0.004)
    net.set_optimizer(sgd)
    net.compile([tensor.Tensor((args.batch_size, 3, 32, 32), requires_grad=False)],
                is_train=True, use_graph=True)
    net.eval()
    frozen_values = {n: tensor.to_numpy(t).copy() for n, t in frozen.items()}
    before = common.accuracy(net.forward, xte, yte)
    print("imported {} ({} nodes); trainable: {}; frozen: {}".format(
        os.path.basename(args.model), len(onnx_model.graph.node), ", ".join(trainable),
        ", ".join(frozen)))
    print("imported model test accuracy before fine-tuning: {:.2f}%".format(100 * before),
          flush=True)
    _, after = common.train_epochs(net, sgd, xtr, ytr, args.epochs, args.batch_size,
                                   args.max_steps, args.seed + 1, args.no_progress,
                                   "fine-tune", lambda: common.accuracy(net.forward, xte, yte))
    unchanged = all(np.array_equal(tensor.to_numpy(frozen[n]), v)
                    for n, v in frozen_values.items())
    print("frozen parameters unchanged: {}".format("yes" if unchanged else "NO"))
    print("test accuracy: {:.2f}% as imported, {:.2f}% after fine-tuning the last layer"
          .format(100 * before, 100 * after))
    return before, after


if __name__ == "__main__":
    main()
