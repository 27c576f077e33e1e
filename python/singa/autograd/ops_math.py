"""Element-wise operations: unary math, binary arithmetic, variadic and activations."""

import math

from .. import singa_wrap as singa
from ._util import training, sum_to, full_like, zeros
from .engine import Operation


# ----------------------------------------------------------------- unary math

class ReLU(Operation):
    """y = max(x, 0)."""

    def forward(self, x):
        y = singa.ReLU(x)
        if training():
            # The output, not the input: y > 0 exactly where x > 0, and the next layer
            # (a conv or matmul) usually saves y anyway, so no extra tensor stays alive.
            self.y = y
        return y

    def backward(self, dy):
        return singa.ReLUBackward(dy, self.y)


class Tanh(Operation):
    """y = tanh(x)."""

    def forward(self, x):
        y = singa.Tanh(x)
        if training():
            self.y = y
        return y

    def backward(self, dy):
        return dy * singa.RSubFloat(1.0, singa.Square(self.y))


class Sigmoid(Operation):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        y = singa.Sigmoid(x)
        if training():
            self.y = y
        return y

    def backward(self, dy):
        return dy * self.y * singa.RSubFloat(1.0, self.y)


class Identity(Operation):
    """y = x."""

    def forward(self, x):
        return x

    def backward(self, dy):
        return dy


class _SavesX(Operation):
    """A unary op whose derivative is a function of x: dx = dy * dydx(x)."""

    fn = None

    def forward(self, x):
        if training():
            self.x = x
        return type(self).fn(x)

    def dydx(self, x):
        raise NotImplementedError

    def backward(self, dy):
        return dy * self.dydx(self.x)


class _SavesY(Operation):
    """A unary op whose derivative is a function of y."""

    fn = None

    def forward(self, x):
        y = type(self).fn(x)
        if training():
            self.y = y
        return y


class Cos(_SavesX):
    """y = cos(x)."""
    fn = staticmethod(singa.Cos)

    def dydx(self, x):
        return singa.Neg(singa.Sin(x))


class Cosh(_SavesX):
    """y = cosh(x)."""
    fn = staticmethod(singa.Cosh)

    def dydx(self, x):
        return singa.Sinh(x)


class Acos(_SavesX):
    """y = arccos(x)."""
    fn = staticmethod(singa.Acos)

    def dydx(self, x):
        return singa.Neg(singa.Reciprocal(singa.Sqrt(singa.RSubFloat(1.0, singa.Square(x)))))


class Acosh(_SavesX):
    """y = arccosh(x)."""
    fn = staticmethod(singa.Acosh)

    def dydx(self, x):
        return singa.Reciprocal(singa.Sqrt(singa.SubFloat(singa.Square(x), 1.0)))


class Sin(_SavesX):
    """y = sin(x)."""
    fn = staticmethod(singa.Sin)

    def dydx(self, x):
        return singa.Cos(x)


class Sinh(_SavesX):
    """y = sinh(x)."""
    fn = staticmethod(singa.Sinh)

    def dydx(self, x):
        return singa.Cosh(x)


class Asin(_SavesX):
    """y = arcsin(x)."""
    fn = staticmethod(singa.Asin)

    def dydx(self, x):
        return singa.Reciprocal(singa.Sqrt(singa.RSubFloat(1.0, singa.Square(x))))


class Asinh(_SavesX):
    """y = arcsinh(x)."""
    fn = staticmethod(singa.Asinh)

    def dydx(self, x):
        return singa.Reciprocal(singa.Sqrt(singa.AddFloat(singa.Square(x), 1.0)))


class Tan(_SavesY):
    """y = tan(x)."""
    fn = staticmethod(singa.Tan)

    def backward(self, dy):
        return dy * singa.AddFloat(singa.Square(self.y), 1.0)


class Atan(_SavesX):
    """y = arctan(x)."""
    fn = staticmethod(singa.Atan)

    def dydx(self, x):
        return singa.Reciprocal(singa.AddFloat(singa.Square(x), 1.0))


class Atanh(_SavesX):
    """y = arctanh(x)."""
    fn = staticmethod(singa.Atanh)

    def dydx(self, x):
        return singa.Reciprocal(singa.RSubFloat(1.0, singa.Square(x)))


class Abs(_SavesX):
    """y = |x|."""
    fn = staticmethod(singa.Abs)

    def dydx(self, x):
        return singa.Sign(x)


class Exp(_SavesY):
    """y = exp(x)."""
    fn = staticmethod(singa.Exp)

    def backward(self, dy):
        return dy * self.y


class Sign(Operation):
    """y = sign(x); its gradient is zero."""

    def forward(self, x):
        if training():
            self.x = x
        return singa.Sign(x)

    def backward(self, dy):
        return full_like(dy, 0.0)


class SoftSign(_SavesX):
    """y = x / (1 + |x|)."""
    fn = staticmethod(singa.SoftSign)

    def dydx(self, x):
        return singa.Reciprocal(singa.Square(singa.AddFloat(singa.Abs(x), 1.0)))


class SoftPlus(_SavesX):
    """y = log(1 + exp(x))."""
    fn = staticmethod(singa.SoftPlus)

    def dydx(self, x):
        return singa.Sigmoid(x)


class Sqrt(_SavesY):
    """y = sqrt(x)."""
    fn = staticmethod(singa.Sqrt)

    def backward(self, dy):
        return dy * singa.MultFloat(singa.Reciprocal(self.y), 0.5)


class Log(_SavesX):
    """y = ln(x)."""
    fn = staticmethod(singa.Log)

    def dydx(self, x):
        return singa.Reciprocal(x)


class Negative(Operation):
    """y = -x."""

    def forward(self, x):
        return singa.Neg(x)

    def backward(self, dy):
        return singa.Neg(dy)


class Reciprocal(_SavesY):
    """y = 1 / x."""
    fn = staticmethod(singa.Reciprocal)

    def backward(self, dy):
        return singa.Neg(dy * singa.Square(self.y))


class Erf(_SavesX):
    """y = erf(x)."""
    fn = staticmethod(singa.Erf)

    def dydx(self, x):
        return singa.MultFloat(singa.Exp(singa.Neg(singa.Square(x))), 2.0 / math.sqrt(math.pi))


class _Piecewise(Operation):
    """A piecewise-constant op (ceil, floor, round): zero gradient."""

    fn = None

    def forward(self, x):
        return type(self).fn(x)

    def backward(self, dy):
        return full_like(dy, 0.0)


class Ceil(_Piecewise):
    """y = ceil(x)."""
    fn = staticmethod(singa.Ceil)


class Floor(_Piecewise):
    """y = floor(x)."""
    fn = staticmethod(singa.Floor)


class Round(_Piecewise):
    """y = round(x), halves away from zero."""
    fn = staticmethod(singa.Round)


class Rounde(_Piecewise):
    """y = round(x), halves to even."""
    fn = staticmethod(singa.RoundE)


class Not(Operation):
    """Logical not (1 where x == 0); not differentiable."""

    def forward(self, x):
        return singa.Not(x)

    def backward(self, dy):
        return None


def _nondiff(name, fn, doc):
    """Builds a comparison/logical Operation class with no gradient."""
    def forward(self, a, b):
        return fn(a, b)

    def backward(self, dy):
        return None, None
    return type(name, (Operation,), {"forward": forward, "backward": backward, "__doc__": doc})


Less = _nondiff("Less", singa.LT, "1 where a < b, else 0; not differentiable.")
Greater = _nondiff("Greater", singa.GT, "1 where a > b, else 0; not differentiable.")
Equal = _nondiff("Equal", singa.EQ, "1 where a == b, else 0; not differentiable.")
And = _nondiff("And", singa.And, "Logical and of non-zero elements; not differentiable.")
Or = _nondiff("Or", singa.Or, "Logical or of non-zero elements; not differentiable.")
Xor = _nondiff("Xor", singa.Xor, "Logical xor of non-zero elements; not differentiable.")


# ---------------------------------------------------------------- binary math

class Add(Operation):
    """y = a + b with broadcasting."""

    def forward(self, a, b):
        if training():
            self.shapes = (a.shape(), b.shape())
        return singa.__add__(a, b)

    def backward(self, dy):
        return sum_to(dy, self.shapes[0]), sum_to(dy, self.shapes[1])


class Sub(Operation):
    """y = a - b with broadcasting."""

    def forward(self, a, b):
        if training():
            self.shapes = (a.shape(), b.shape())
        return singa.__sub__(a, b)

    def backward(self, dy):
        return sum_to(dy, self.shapes[0]), sum_to(singa.Neg(dy), self.shapes[1])


class Mul(Operation):
    """y = a * b (element-wise) with broadcasting."""

    def forward(self, a, b):
        if training():
            self.a, self.b = a, b
        return singa.__mul__(a, b)

    def backward(self, dy):
        return sum_to(dy * self.b, self.a.shape()), sum_to(dy * self.a, self.b.shape())


class Div(Operation):
    """y = a / b with broadcasting."""

    def forward(self, a, b):
        y = singa.__div__(a, b)
        if training():
            self.a, self.b, self.y = a, b, y
        return y

    def backward(self, dy):
        da = dy / self.b
        db = singa.Neg(da * self.y)
        return sum_to(da, self.a.shape()), sum_to(db, self.b.shape())


class Pow(Operation):
    """y = a ** b with broadcasting."""

    def forward(self, a, b):
        y = singa.Pow(a, b)
        if training():
            self.a, self.b, self.y = a, b, y
        return y

    def backward(self, dy):
        # da = b * a^(b-1); db = y * ln(a) (only meaningful where a > 0).
        da = dy * self.b * singa.Pow(self.a, singa.SubFloat(self.b, 1.0))
        db = dy * self.y * singa.Log(singa.Abs(self.a))
        return sum_to(da, self.a.shape()), sum_to(db, self.b.shape())


def _swap_last(t):
    """Transposes the last two axes (a view)."""
    axes = list(range(t.nDim()))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return singa.Transpose(t, axes)


class Matmul(Operation):
    """y = x @ w (NumPy matmul: 1-D operands and broadcast batch axes)."""

    def forward(self, x, w):
        if training():
            self.x, self.w = x, w
        return singa.Mult(x, w)

    def backward(self, dy):
        x, w = self.x, self.w
        x2 = singa.Reshape(x, [1, x.shape()[0]]) if x.nDim() == 1 else x
        w2 = singa.Reshape(w, [w.shape()[0], 1]) if w.nDim() == 1 else w
        shape = list(dy.shape())
        if x.nDim() == 1:
            shape.insert(len(shape) - (0 if w.nDim() == 1 else 1), 1)
        if w.nDim() == 1:
            shape.append(1)
        dy2 = singa.Reshape(dy, shape)
        dx = dw = None
        if self.needs_grad(0):
            dx = sum_to(singa.Mult(dy2, _swap_last(w2)), x2.shape())
            dx = singa.Reshape(dx, list(x.shape()))
        if self.needs_grad(1):
            dw = sum_to(singa.Mult(_swap_last(x2), dy2), w2.shape())
            dw = singa.Reshape(dw, list(w.shape()))
        return dx, dw


class PRelu(Operation):
    """y = x where x > 0, else slope * x (slope broadcast to x)."""

    def forward(self, x, slope):
        pos = singa.GTFloat(x, 0.0)
        y = singa.__add__(x * pos, x * singa.RSubFloat(1.0, pos) * slope)
        if training():
            self.x, self.slope, self.pos = x, slope, pos
        return y

    def backward(self, dy):
        neg = singa.RSubFloat(1.0, self.pos)
        dx = dy * singa.__add__(self.pos, neg * self.slope)
        dslope = sum_to(dy * self.x * neg, self.slope.shape())
        return sum_to(dx, self.x.shape()), dslope


class Embedding(Operation):
    """y[..., :] = w[x[...], :] for integer indices x and a (vocab, dim) table w."""

    def forward(self, x, w):
        if w.nDim() != 2:
            raise ValueError("Embedding: the table must be 2-D (vocab, dim), got {}"
                             .format(w.shape()))
        idx = x.AsType(singa.kInt)
        if training():
            self.idx, self.wshape = idx, w.shape()
        return singa.Take(w, idx, 0)

    def backward(self, dy):
        vocab, dim = self.wshape
        n = self.idx.Size()
        rows = singa.Reshape(self.idx, [n, 1])
        rows = singa.Broadcast(rows, [n, dim])
        dw = zeros((vocab, dim), dy)
        dw = singa.ScatterElements(dw, singa.Contiguous(rows).Clone(), singa.Reshape(dy, [n, dim]),
                                   0, True)
        return None, dw


# ------------------------------------------------------------ variadic (pairs)

class Max(Operation):
    """Element-wise maximum of two tensors (ties send the gradient to the first)."""

    def forward(self, a, b):
        if training():
            self.mask = singa.GE(a, b)
            self.shapes = (a.shape(), b.shape())
        return singa.EltwiseMax(a, b)

    def backward(self, dy):
        da = dy * self.mask
        return sum_to(da, self.shapes[0]), sum_to(dy - da, self.shapes[1])


class Min(Operation):
    """Element-wise minimum of two tensors (ties send the gradient to the first)."""

    def forward(self, a, b):
        if training():
            self.mask = singa.LE(a, b)
            self.shapes = (a.shape(), b.shape())
        return singa.EltwiseMin(a, b)

    def backward(self, dy):
        da = dy * self.mask
        return sum_to(da, self.shapes[0]), sum_to(dy - da, self.shapes[1])


class Sum(Operation):
    """Element-wise sum of any number of tensors (with broadcasting)."""

    def forward(self, *xs):
        if not xs:
            raise ValueError("Sum: needs at least one input")
        if training():
            self.shapes = [x.shape() for x in xs]
        y = xs[0]
        for x in xs[1:]:
            y = singa.__add__(y, x)
        return y if len(xs) > 1 else y.Clone()

    def backward(self, dy):
        return tuple(sum_to(dy, s) for s in self.shapes)


class Mean(Operation):
    """Element-wise mean of any number of tensors (with broadcasting)."""

    def forward(self, *xs):
        if not xs:
            raise ValueError("Mean: needs at least one input")
        if training():
            self.shapes = [x.shape() for x in xs]
        y = xs[0]
        for x in xs[1:]:
            y = singa.__add__(y, x)
        return singa.MultFloat(y, 1.0 / len(xs))

    def backward(self, dy):
        g = singa.MultFloat(dy, 1.0 / len(self.shapes))
        return tuple(sum_to(g, s) for s in self.shapes)


# ------------------------------------------------------ parameterised activations

class Elu(Operation):
    """y = x for x > 0, alpha * (exp(x) - 1) otherwise."""

    def __init__(self, alpha=1.0):
        super().__init__()
        self.alpha = float(alpha)

    def forward(self, x):
        pos = singa.GTFloat(x, 0.0)
        neg = singa.MultFloat(singa.SubFloat(singa.Exp(singa.EltwiseMin(x, full_like(x, 0.0))), 1.0),
                              self.alpha)
        y = singa.__add__(x * pos, neg * singa.RSubFloat(1.0, pos))
        if training():
            self.pos, self.y = pos, y
        return y

    def backward(self, dy):
        neg_grad = singa.AddFloat(self.y, self.alpha)
        d = singa.__add__(self.pos, neg_grad * singa.RSubFloat(1.0, self.pos))
        return dy * d


class SeLU(Operation):
    """y = gamma * (x for x > 0, alpha * (exp(x) - 1) otherwise)."""

    def __init__(self, alpha=1.67326, gamma=1.0507):
        super().__init__()
        self.alpha, self.gamma = float(alpha), float(gamma)

    def forward(self, x):
        pos = singa.GTFloat(x, 0.0)
        e = singa.Exp(singa.EltwiseMin(x, full_like(x, 0.0)))
        neg = singa.MultFloat(singa.SubFloat(e, 1.0), self.alpha)
        y = singa.MultFloat(singa.__add__(x * pos, neg * singa.RSubFloat(1.0, pos)), self.gamma)
        if training():
            self.pos, self.e = pos, e
        return y

    def backward(self, dy):
        d = singa.__add__(self.pos, singa.MultFloat(self.e, self.alpha) * singa.RSubFloat(1.0, self.pos))
        return dy * singa.MultFloat(d, self.gamma)


class LeakyRelu(Operation):
    """y = x for x > 0, a * x otherwise."""

    def __init__(self, a=0.01):
        super().__init__()
        self.a = float(a)

    def forward(self, x):
        pos = singa.GTFloat(x, 0.0)
        slope = singa.AddFloat(singa.MultFloat(pos, 1.0 - self.a), self.a)
        if training():
            self.slope = slope
        return x * slope

    def backward(self, dy):
        return dy * self.slope


class HardSigmoid(Operation):
    """y = max(0, min(1, alpha * x + gamma))."""

    def __init__(self, alpha=0.2, gamma=0.5):
        super().__init__()
        self.alpha, self.gamma = float(alpha), float(gamma)

    def forward(self, x):
        z = singa.AddFloat(singa.MultFloat(x, self.alpha), self.gamma)
        if training():
            self.inside = singa.__mul__(singa.GTFloat(z, 0.0), singa.LTFloat(z, 1.0))
        return singa.Clip(z, 0.0, 1.0)

    def backward(self, dy):
        return singa.MultFloat(dy * self.inside, self.alpha)


class Clip(Operation):
    """y = min(max(x, min), max); either bound may be None."""

    def __init__(self, min=None, max=None):
        super().__init__()
        self.min = -float("inf") if min is None else float(min)
        self.max = float("inf") if max is None else float(max)
        if self.min > self.max:
            raise ValueError("Clip: min {} is greater than max {}".format(min, max))

    def forward(self, x):
        if training():
            self.inside = singa.__mul__(singa.GEFloat(x, self.min), singa.LEFloat(x, self.max))
        return singa.Clip(x, self.min, self.max)

    def backward(self, dy):
        return dy * self.inside


class SoftMax(Operation):
    """y = exp(x) / sum(exp(x)) along ``axis``."""

    def __init__(self, axis=1):
        super().__init__()
        self.axis = axis

    def forward(self, x):
        axis = self.axis if x.nDim() > 1 else 0
        y = singa.SoftMax(x, axis)
        if training():
            self.y, self.ax = y, axis
        return y

    def backward(self, dy):
        return singa.SoftMaxBackward(dy, self.ax, self.y)


# ----------------------------------------------------------- functional forms

def relu(x):
    return ReLU()(x)[0]


def tanh(x):
    return Tanh()(x)[0]


def sigmoid(x):
    return Sigmoid()(x)[0]


def identity(x):
    return Identity()(x)[0]


def cos(x):
    return Cos()(x)[0]


def cosh(x):
    return Cosh()(x)[0]


def acos(x):
    return Acos()(x)[0]


def acosh(x):
    return Acosh()(x)[0]


def sin(x):
    return Sin()(x)[0]


def sinh(x):
    return Sinh()(x)[0]


def asin(x):
    return Asin()(x)[0]


def asinh(x):
    return Asinh()(x)[0]


def tan(x):
    return Tan()(x)[0]


def atan(x):
    return Atan()(x)[0]


def atanh(x):
    return Atanh()(x)[0]


def abs(x):
    return Abs()(x)[0]


def exp(x):
    return Exp()(x)[0]


def sign(x):
    return Sign()(x)[0]


def softsign(x):
    return SoftSign()(x)[0]


def softplus(x):
    return SoftPlus()(x)[0]


def sqrt(x):
    return Sqrt()(x)[0]


def log(x):
    return Log()(x)[0]


def negative(x):
    return Negative()(x)[0]


def reciprocal(x):
    return Reciprocal()(x)[0]


def ceil(x):
    return Ceil()(x)[0]


def floor(x):
    return Floor()(x)[0]


def round(x):
    return Round()(x)[0]


def rounde(x):
    return Rounde()(x)[0]


def erf(x):
    return Erf()(x)[0]


def _not(x):
    return Not()(x)[0]


def add(a, b):
    return Add()(a, b)[0]


def sub(a, b):
    return Sub()(a, b)[0]


def mul(a, b):
    return Mul()(a, b)[0]


def div(a, b):
    return Div()(a, b)[0]


def pow(a, b):
    return Pow()(a, b)[0]


def matmul(x, w):
    return Matmul()(x, w)[0]


def less(x, y):
    return Less()(x, y)[0]


def greater(x, y):
    return Greater()(x, y)[0]


def equal(x, y):
    return Equal()(x, y)[0]


def _and(a, b):
    return And()(a, b)[0]


def _or(a, b):
    return Or()(a, b)[0]


def _xor(a, b):
    return Xor()(a, b)[0]


def prelu(x, slope):
    return PRelu()(x, slope)[0]


def embedding(x, w):
    return Embedding()(x, w)[0]


def _fold(op_cls, xs):
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        xs = tuple(xs[0])
    if not xs:
        raise ValueError("{}: needs at least one input".format(op_cls.__name__))
    y = xs[0]
    for x in xs[1:]:
        y = op_cls()(y, x)[0]
    return y


def max(*l):
    """Element-wise maximum of the inputs."""
    return _fold(Max, l)


def min(*l):
    """Element-wise minimum of the inputs."""
    return _fold(Min, l)


def sum(*l):
    """Element-wise sum of the inputs."""
    if len(l) == 1 and isinstance(l[0], (list, tuple)):
        l = tuple(l[0])
    return Sum()(*l)[0]


def mean(*l):
    """Element-wise mean of the inputs."""
    if len(l) == 1 and isinstance(l[0], (list, tuple)):
        l = tuple(l[0])
    return Mean()(*l)[0]


def elu(x, alpha=1.0):
    return Elu(alpha)(x)[0]


def selu(x, alpha=1.67326, gamma=1.0507):
    return SeLU(alpha, gamma)(x)[0]


def leakyrelu(x, a=0.01):
    return LeakyRelu(a)(x)[0]


def hardsigmoid(x, alpha=0.2, gamma=0.5):
    return HardSigmoid(alpha, gamma)(x)[0]


def clip(x, min=None, max=None):
    return Clip(min, max)(x)[0]


def softmax(x, axis=1):
    return SoftMax(axis)(x)[0]


def cossim(a, b):
    """Cosine similarity of corresponding rows of a and b (along the last axis)."""
    from .ops_shape import reduce_sum
    dot = reduce_sum(mul(a, b), axes=[-1], keepdims=0)
    na = sqrt(reduce_sum(mul(a, a), axes=[-1], keepdims=0))
    nb = sqrt(reduce_sum(mul(b, b), axes=[-1], keepdims=0))
    return div(dot, mul(na, nb))

