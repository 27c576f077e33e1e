"""Parameter specifications of the classic API (SINGA 0.x ``Param``/``ParamGen`` fields).

A :class:`Parameter` describes how a weight or bias is initialised (``init`` with
``high``/``low``, ``value``, ``mean``/``std`` or ``scale``) and how it is updated
(``lr``: learning-rate multiplier, ``wd``: weight-decay multiplier). Layers copy the
specification when they are constructed, so ``par.update(std=0.01)`` after adding a
layer affects only the layers added afterwards (as the document's CNN relies on).

The weight default is ``gaussian`` (mean 0, std 0.01), the bias default ``constant``
(value 0). ``w_<field>=`` / ``b_<field>=`` keywords on a layer override single fields.
"""

import copy

from ..tensor import Tensor

__all__ = ["Parameter", "INIT_TYPES", "split_param_kwargs"]

# accepted spellings of each initialisation type
INIT_TYPES = {
    "uniform": "uniform",
    "constant": "constant", "const": "constant",
    "gaussian": "gaussian", "gauss": "gaussian", "normal": "gaussian",
}

FIELDS = ("name", "init", "high", "low", "value", "mean", "std", "scale", "lr", "wd")


class Parameter(object):
    """Initialisation and update settings of one parameter.

    Args:
        init: 'uniform', 'constant' (or 'const'), 'gaussian' (or 'gauss').
        high, low: range of 'uniform' (default +-0.05; ``scale`` sets both to +-scale).
        value: the constant of 'constant' (default 0).
        mean, std: of 'gaussian' (default 0 and 0.01).
        scale: for 'uniform', low = -scale and high = scale.
        lr: learning-rate multiplier (default 1).
        wd: weight-decay multiplier (default 1).
        name: optional parameter name.
    """

    def __init__(self, **fields):
        self.name = None
        self.init = None
        self.high = None
        self.low = None
        self.value = None
        self.mean = None
        self.std = None
        self.scale = None
        self.lr = 1.0
        self.wd = 1.0
        self.update(**fields)

    def update(self, **fields):
        """Sets fields (any of the constructor's arguments); returns self."""
        for k, v in fields.items():
            if k not in FIELDS:
                raise TypeError("Parameter: unknown field {!r}; fields are {}".format(
                    k, ", ".join(FIELDS)))
            if k == "init" and v is not None:
                key = str(v).lower()
                if key not in INIT_TYPES:
                    raise ValueError("Parameter: init must be one of {}, got {!r}".format(
                        sorted(INIT_TYPES), v))
                v = INIT_TYPES[key]
            elif k in ("lr", "wd"):
                v = float(v)
                if v < 0:
                    raise ValueError("Parameter: {} multiplier must be >= 0, got {}".format(k, v))
            elif k in ("high", "low", "value", "mean", "std", "scale") and v is not None:
                v = float(v)
                if k in ("std", "scale") and v < 0:
                    raise ValueError("Parameter: {} must be >= 0, got {}".format(k, v))
            setattr(self, k, v)
        return self

    def copy(self):
        return copy.deepcopy(self)

    def resolved_init(self, default):
        """The initialisation type, inferring it from the fields when ``init`` is unset."""
        if self.init is not None:
            return self.init
        if self.std is not None:
            return "gaussian"
        if self.value is not None:
            return "constant"
        if self.scale is not None or self.high is not None or self.low is not None:
            return "uniform"
        return default

    def fill(self, t, default="gaussian"):
        """Initialises Tensor ``t`` in place and tags it with its lr/wd multipliers."""
        kind = self.resolved_init(default)
        if kind == "uniform":
            if self.scale is not None:
                low, high = -self.scale, self.scale
            else:
                low = -0.05 if self.low is None else self.low
                high = 0.05 if self.high is None else self.high
            if high < low:
                raise ValueError("Parameter: uniform needs low <= high, got {} > {}".format(
                    low, high))
            t.uniform(low, high)
        elif kind == "gaussian":
            t.gaussian(0.0 if self.mean is None else self.mean,
                       0.01 if self.std is None else self.std)
        else:  # constant; 'mean' is accepted as the constant when 'value' is absent
            v = self.value if self.value is not None else (self.mean or 0.0)
            t.set_value(float(v))
        t.lr_mult = float(self.lr)
        t.wd_mult = float(self.wd)
        return t

    def create(self, shape, device=None, name=None, default="gaussian"):
        """A new trainable Tensor of ``shape`` initialised from this specification."""
        t = Tensor(tuple(shape), device, requires_grad=True, stores_grad=True,
                   name=name or self.name)
        return self.fill(t, default)

    def __repr__(self):
        f = ", ".join("{}={!r}".format(k, getattr(self, k)) for k in FIELDS
                      if getattr(self, k) is not None)
        return "Parameter({})".format(f)


def split_param_kwargs(kwargs, init=None, w_default=None, b_default=None):
    """Builds the weight and bias Parameters of a layer from its keyword arguments.

    Consumes ``w_param``/``b_param`` (copied), ``init`` (the weight's init type) and every
    ``w_<field>``/``b_<field>`` keyword from ``kwargs``.

    Returns:
        (w_param, b_param)
    """
    wp = kwargs.pop("w_param", None)
    bp = kwargs.pop("b_param", None)
    wp = wp.copy() if isinstance(wp, Parameter) else (w_default or Parameter(init="gaussian"))
    bp = bp.copy() if isinstance(bp, Parameter) else (b_default or Parameter(init="constant"))
    if init is not None:
        wp.update(init=init)
    for key in list(kwargs):
        if key[:2] in ("w_", "b_"):
            field = key[2:]
            if field not in FIELDS:
                raise TypeError("unknown parameter field {!r} in {!r}; fields are {}".format(
                    field, key, ", ".join(FIELDS)))
            (wp if key[0] == "w" else bp).update(**{field: kwargs.pop(key)})
    return wp, bp
