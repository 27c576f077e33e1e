"""Element-wise binary and variadic operations (with broadcasting), matrix product,
comparisons, PReLU, embedding lookup and cosine similarity."""

from .. import autocast
from .. import singa_wrap as singa
from ..errors import ArgumentError
from ._util import sum_to, zeros
from .engine import Operation

__all__ = ["Less", "Greater", "Equal", "And", "Or", "Xor", "Add", "Sub", "Mul", "Div", "Pow",
           "Matmul", "PRelu", "Embedding", "Max", "Min", "CosSim", "Sum", "Mean", "add", "sub",
           "mul", "div", "pow", "matmul", "less", "greater", "equal", "_and", "_or", "_xor", "prelu",
           "embedding", "max", "min", "sum", "mean", "cossim", "add_all"]


def _nondiff(name, fn, doc, xy=False):
    """Builds a comparison/logical Operation class with no gradient; its forward's
    arguments are SINGA's names: x, y for the comparisons (``xy``), a, b otherwise."""
    if xy:
        def forward(self, x, y):
            return fn(x, y)
    else:
        def forward(self, a, b):
            return fn(a, b)

    def backward(self, dy):
        return None, None
    return type(name, (Operation,), {"forward": forward, "backward": backward, "__doc__": doc})


Less = _nondiff("Less", singa.LT, "1 where x < y, else 0; not differentiable.", xy=True)


Greater = _nondiff("Greater", singa.GT, "1 where x > y, else 0; not differentiable.",
                   xy=True)


Equal = _nondiff("Equal", singa.EQ, "1 where x == y, else 0; not differentiable.",
                 xy=True)


And = _nondiff("And", singa.And, "Logical and of non-zero elements; not differentiable.")


Or = _nondiff("Or", singa.Or, "Logical or of non-zero elements; not differentiable.")


Xor = _nondiff("Xor", singa.Xor, "Logical xor of non-zero elements; not differentiable.")


class Add(Operation):
    """y = a + b with broadcasting."""

    def forward(self, a, b):
        self.save(shapes=singa.OperandShapes(a, b))
        return singa.__add__(a, b)

    def backward(self, dy):
        sa, sb = self.shapes
        if sa is sb and dy.shape() == sa:
            return dy, dy  # nothing was broadcast (the common case)
        return sum_to(dy, sa), sum_to(dy, sb)


class Sub(Operation):
    """y = a - b with broadcasting."""

    def forward(self, a, b):
        self.save(shapes=singa.OperandShapes(a, b))
        return singa.__sub__(a, b)

    def backward(self, dy):
        sa, sb = self.shapes
        if sa is sb and dy.shape() == sa:
            return dy, singa.Neg(dy)
        return sum_to(dy, sa), sum_to(singa.Neg(dy), sb)


class Mul(Operation):
    """y = a * b (element-wise) with broadcasting."""

    def forward(self, a, b):
        self.save(a=a, b=b)
        return singa.__mul__(a, b)

    def backward(self, dy):
        return sum_to(dy * self.b, self.a.shape()), sum_to(dy * self.a, self.b.shape())


class Div(Operation):
    """y = a / b with broadcasting."""

    def forward(self, a, b):
        y = singa.__div__(a, b)
        self.save(a=a, b=b, y=y)
        return y

    def backward(self, dy):
        da = dy / self.b
        db = singa.Neg(da * self.y)
        return sum_to(da, self.a.shape()), sum_to(db, self.b.shape())


class Pow(Operation):
    """y = a ** b with broadcasting."""

    def forward(self, a, b):
        y = singa.Pow(a, b)
        self.save(a=a, b=b, y=y)
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
        x, w = autocast.lower(self, x, w)
        self.save(x=x, w=w)
        return autocast.widen(self, singa.Mult(x, w))

    def backward(self, dy):
        x, w = self.x, self.w
        dy = autocast.lower_grad(self, dy)
        if x.nDim() == 2 and w.nDim() == 2:
            # Plain matrices (the common case): no 1-D operand to lift, no batch axes to
            # sum over, so the general path's reshapes and shape reads would change nothing.
            dx = singa.Mult(dy, singa.Transpose(w, [1, 0])) if self.needs_grad(0) else None
            dw = singa.Mult(singa.Transpose(x, [1, 0]), dy) if self.needs_grad(1) else None
            return autocast.widen_grads(self, dx, dw)
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
        return autocast.widen_grads(self, dx, dw)


class PRelu(Operation):
    """y = x where x > 0, else slope * x (slope broadcast to x)."""

    def forward(self, x, slope):
        pos = singa.GTFloat(x, 0.0)
        y = singa.__add__(x * pos, x * singa.RSubFloat(1.0, pos) * slope)
        self.save(x=x, slope=slope, pos=pos)
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
            raise ArgumentError("Embedding: the table must be 2-D (vocab, dim), got {}"
                             .format(w.shape()))
        idx = x.AsType(singa.kInt)
        self.save(idx=idx, wshape=w.shape())
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


class _Extremum(Operation):
    """The element-wise pick among any number of tensors (broadcasting); at each
    position the gradient goes to the input picked, to the first of equal ones."""

    pick = None  # the core function picking between two tensors

    def forward(self, *xs):
        if not xs:
            raise ArgumentError("{}: needs at least one input".format(type(self).__name__))
        y = xs[0]
        for x in xs[1:]:
            y = type(self).pick(y, x)
        if len(xs) == 1:
            y = y.Clone()
        self.save(xs=xs, y=y)
        return y

    def backward(self, dy):
        if len(self.xs) == 1:
            return dy
        # Each position's gradient goes to the first input equal to the picked value.
        left = None  # 1 where no earlier input has taken the gradient
        dxs = []
        for x in self.xs:
            hit = singa.EQ(x, self.y)
            if left is not None:
                hit = hit * left
            left = singa.RSubFloat(1.0, hit) if left is None else left - hit
            dxs.append(sum_to(dy * hit, x.shape()))
        return tuple(dxs)


class Max(_Extremum):
    """Element-wise maximum of one or more tensors (ties send the gradient to the first)."""
    pick = staticmethod(singa.EltwiseMax)


class Min(_Extremum):
    """Element-wise minimum of one or more tensors (ties send the gradient to the first)."""
    pick = staticmethod(singa.EltwiseMin)


class CosSim(Operation):
    """Cosine similarity of a and b along the last axis (rows of 2-D inputs, as in SINGA):
    y = sum(a * b) / (|a| |b|)."""

    def forward(self, a, b):
        if a.shape() != b.shape():
            raise ArgumentError("CosSim: a and b must have the same shape, got {} and {}"
                                .format(a.shape(), b.shape()))
        dot, aa, bb = self.dot(a, b), self.dot(a, a), self.dot(b, b)
        inv = singa.Reciprocal(singa.Sqrt(aa * bb))
        y = dot * inv
        self.save(a=a, b=b, aa=aa, bb=bb, inv=inv, y=y)
        return y

    @classmethod
    def dot(cls, a, b):
        """SINGA's helper: the dot products of corresponding rows of core tensors a and b
        (along the last axis), e.g. shape (batch,) for (batch, n) inputs."""
        if a.shape() != b.shape():
            raise ArgumentError("CosSim.dot: a and b must have the same shape, got {} and {}"
                                .format(a.shape(), b.shape()))
        return singa.ReduceSum(a * b, [a.nDim() - 1], False)

    def backward(self, dy):
        # dy/da = b / (|a||b|) - y a / |a|^2, and symmetrically for b.
        shape = list(self.a.shape())
        shape[-1] = 1

        def col(t):
            return singa.Reshape(t, shape)
        g, inv, y = col(dy), col(self.inv), col(self.y)
        da = g * (self.b * inv - self.a * (y / col(self.aa)))
        db = g * (self.a * inv - self.b * (y / col(self.bb)))
        return da, db


class Sum(Operation):
    """Element-wise sum of any number of tensors (with broadcasting)."""

    def forward(self, *xs):
        if not xs:
            raise ArgumentError("Sum: needs at least one input")
        self.save(shapes=[x.shape() for x in xs])
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
            raise ArgumentError("Mean: needs at least one input")
        self.save(shapes=[x.shape() for x in xs])
        y = xs[0]
        for x in xs[1:]:
            y = singa.__add__(y, x)
        return singa.MultFloat(y, 1.0 / len(xs))

    def backward(self, dy):
        g = singa.MultFloat(dy, 1.0 / len(self.shapes))
        return tuple(sum_to(g, s) for s in self.shapes)


# ---------------------------------------------------------- functional forms

def add(a, b):
    return Add()(a, b)[0]


def sub(a, b):
    return Sub()(a, b)[0]


def mul(x, y):
    """x * y (element-wise, with broadcasting)."""
    return Mul()(x, y)[0]


def add_all(*xs):
    """x1 + x2 + ...: the inputs added in order, one Add each (with broadcasting).
    SINGA's (which asserts more than two inputs) computes the sum and returns None;
    this returns the sum, and takes one input or more."""
    if not xs:
        raise ArgumentError("add_all: needs at least one input")
    y = xs[0]
    for x in xs[1:]:
        y = add(y, x)
    return y


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


def _inputs(op, xs):
    """SINGA's variadic functions take the inputs spread out or as one list."""
    if len(xs) == 1 and isinstance(xs[0], (list, tuple)):
        xs = tuple(xs[0])
    if not xs:
        raise ArgumentError("{}: needs at least one input".format(op))
    return xs


def max(*l):
    """Element-wise maximum of the inputs (one or more; one Operation)."""
    return Max()(*_inputs("max", l))[0]


def min(*l):
    """Element-wise minimum of the inputs (one or more; one Operation)."""
    return Min()(*_inputs("min", l))[0]


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


def cossim(a, b):
    """Cosine similarity of corresponding rows of a and b (along the last axis)."""
    return CosSim()(a, b)[0]
