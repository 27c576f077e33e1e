"""SONNXModel: a singa model.Model built from an ONNX graph."""

from .. import autograd
from ..model import Model
from .backend import _device_for, load_model
from .graph import OnnxGraph, to_tensor
from .registry import HostValue

__all__ = ["SONNXModel"]


class SONNXModel(Model):
    """A Model whose forward runs an imported ONNX graph.

    The graph's float initializers are its parameters (``get_params``, dotted names
    ``params.<initializer>``), BatchNormalization's running statistics its states.
    Subclass it to fine-tune: call ``super().forward(x, last_layers=-1)`` to stop before
    the last node and put new layers on top (transfer learning).

    Args:
        onnx_model: an onnx.ModelProto or a path to a .onnx file.
        device: where the tensors live (a Device or 'CPU'/'CUDA'; the default device).
    """

    def __init__(self, onnx_model, device=None):
        super().__init__()
        self.sg_ir = OnnxGraph(load_model(onnx_model), _device_for(device))
        self.params = self.sg_ir.params()
        self.running_stats = self.sg_ir.states()

    def get_states(self):
        states = super().get_states()
        for name, t in self.running_stats.items():
            states["running_stats." + name] = t
        return states

    def forward(self, *inputs, last_layers=None, aux_output=()):
        """Runs the graph on ``inputs`` (Tensors in graph-input order). Returns one
        Tensor for a single output, else a tuple; with ``aux_output`` names, the
        outputs followed by those intermediate values."""
        names = self.sg_ir.input_names
        if len(inputs) != len(names):
            raise ValueError("SONNXModel: the graph takes {} inputs ({}), got {}".format(
                len(names), names, len(inputs)))
        outs = self.sg_ir.run(dict(zip(names, inputs)), last_layers, aux_output)
        ys = tuple(to_tensor(v.array, self.sg_ir.device, k) if isinstance(v, HostValue) else v
                   for k, v in outs.items())
        return ys[0] if len(ys) == 1 else ys

    def train_one_batch(self, *inputs, loss="softmax_cross_entropy"):
        """One optimisation step on (x..., y): forward on the graph inputs x..., the loss
        against the target y (``softmax_cross_entropy`` or ``mse_loss``), backward and
        the optimizer's update. Returns (out, loss)."""
        if self.optimizer is None:
            raise ValueError("SONNXModel.train_one_batch: set an optimizer first "
                             "(model.set_optimizer(opt.SGD(...)))")
        if len(inputs) < 2:
            raise ValueError("SONNXModel.train_one_batch: give the graph inputs and then "
                             "the target, got {} argument(s)".format(len(inputs)))
        y = inputs[-1]
        out = self.forward(*inputs[:-1])
        if isinstance(out, tuple):
            out = out[0]
        if loss == "softmax_cross_entropy":
            value = autograd.softmax_cross_entropy(out, y)
        elif loss == "mse_loss":
            value = autograd.mse_loss(out, y)
        else:
            raise ValueError("SONNXModel.train_one_batch: loss {!r} is not "
                             "'softmax_cross_entropy' or 'mse_loss'".format(loss))
        self.optimizer(value)
        return out, value


