"""Element-wise unary operations: activations without parameters, math functions,
rounding and logical not."""

import math

from .. import singa_wrap as singa
from ._util import full_like
from .engine import Operation

__all__ = ["ReLU", "Tanh", "Sigmoid", "Identity", "Cos", "Cosh", "Acos", "Acosh", "Sin",
           "Sinh", "Asin", "Asinh", "Tan", "Atan", "Atanh", "Abs", "Exp", "Sign", "SoftSign",
           "SoftPlus", "Mish", "Sqrt", "Log", "Negative", "Reciprocal", "Erf", "Ceil", "Floor",
           "Round", "Rounde", "Not", "relu", "tanh", "sigmoid", "identity", "cos", "cosh",
           "acos", "acosh", "sin", "sinh", "asin", "asinh", "tan", "atan", "atanh", "abs",
           "exp", "sign", "softsign", "softplus", "mish", "sqrt", "log", "negative", "reciprocal",
           "ceil", "floor", "round", "rounde", "erf", "_not"]


class ReLU(Operation):
    """y = max(x, 0)."""

    def forward(self, x):
        y = singa.ReLU(x)
        # The output, not the input: y > 0 exactly where x > 0, and the next layer
        # (a conv or matmul) usually saves y anyway, so no extra tensor stays alive.
        self.save(y=y)
        return y

    def backward(self, dy):
        return singa.ReLUBackward(dy, self.y)


class Tanh(Operation):
    """y = tanh(x)."""

    def forward(self, x):
        y = singa.Tanh(x)
        self.save(y=y)
        return y

    def backward(self, dy):
        return dy * singa.RSubFloat(1.0, singa.Square(self.y))


class Sigmoid(Operation):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x):
        y = singa.Sigmoid(x)
        self.save(y=y)
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
        self.save(x=x)
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
        self.save(y=y)
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
    """y = |a|."""
    fn = staticmethod(singa.Abs)

    def forward(self, a):  # SINGA's argument name (x in the other unary ops)
        self.save(x=a)
        return singa.Abs(a)

    def dydx(self, x):
        return singa.Sign(x)


class Exp(_SavesY):
    """y = exp(a)."""
    fn = staticmethod(singa.Exp)

    def forward(self, a):  # SINGA's argument name (x in the other unary ops)
        y = singa.Exp(a)
        self.save(y=y)
        return y

    def backward(self, dy):
        return dy * self.y


class Sign(Operation):
    """y = sign(a); its gradient is zero."""

    def forward(self, a):
        self.save(x=a)
        return singa.Sign(a)

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


class Mish(Operation):
    """y = x * tanh(softplus(x)) (Misra, 2019)."""

    def forward(self, x):
        self.save(x=x)
        return singa.Mish(x)

    def backward(self, dy):
        # dy/dx = tanh(sp) + x * (1 - tanh(sp)^2) * sigmoid(x), sp = softplus(x)
        t = singa.Tanh(singa.SoftPlus(self.x))
        sech2 = singa.RSubFloat(1.0, singa.Square(t))
        return dy * (t + self.x * sech2 * singa.Sigmoid(self.x))


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


# ---------------------------------------------------------- functional forms

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


def abs(a):
    return Abs()(a)[0]


def exp(a):
    return Exp()(a)[0]


def sign(a):
    return Sign()(a)[0]


def softsign(x):
    return SoftSign()(x)[0]


def softplus(x):
    return SoftPlus()(x)[0]


def mish(x):
    return Mish()(x)[0]


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
