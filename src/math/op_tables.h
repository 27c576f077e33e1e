// The element-wise and reduction ops, each listed once. Every list expands into the op
// enum (ops.h), the kernels' dispatch (cpu/elementwise.cc) and the names bound in
// singa_wrap (bind/bind_ops.cc). An op's arithmetic is the functor of the same name in
// math/functors.h. docs/contributing.md walks through adding one.
#pragma once

// X(Name, closed_on_integers): Unary::kName, functor fn::Name, bound as singa_wrap.Name.
// An op closed on integers maps int32 and int64 tensors to their own dtype (uint8 and
// bool ones too, computed in int32; Neg of bool is a TypeError, as in NumPy); the
// others compute integer and bool inputs in float32.
#define SINGA_UNARY_OPS(X) \
  X(Abs, true)             \
  X(Ceil, true)            \
  X(Floor, true)           \
  X(Round, true)           \
  X(RoundE, true)          \
  X(Exp, false)            \
  X(Erf, false)            \
  X(Log, false)            \
  X(ReLU, true)            \
  X(Sigmoid, false)        \
  X(Sign, true)            \
  X(Sqrt, false)           \
  X(Square, true)          \
  X(Cos, false)            \
  X(Cosh, false)           \
  X(Acos, false)           \
  X(Acosh, false)          \
  X(Sin, false)            \
  X(Sinh, false)           \
  X(Asin, false)           \
  X(Asinh, false)          \
  X(Tan, false)            \
  X(Tanh, false)           \
  X(Atan, false)           \
  X(Atanh, false)          \
  X(Neg, true)             \
  X(Reciprocal, false)     \
  X(SoftPlus, false)       \
  X(SoftSign, false)       \
  X(Not, true)             \
  X(Mish, false)

// X(Name, function, dunder, scalar_function, class_operator): Binary::kName with
// functor fn::Name, bound as singa_wrap.function(a, b), the module-level SINGA operator
// singa_wrap.dunder(a, b or float), singa_wrap.scalar_function(a, x), the WithRet forms
// of both, and the Tensor operator class_operator (nullptr: none).
#define SINGA_BINARY_OPS(X)                                       \
  X(Add, "Add", "__add__", "AddFloat", "__add__")                 \
  X(Sub, "Sub", "__sub__", "SubFloat", "__sub__")                 \
  X(Mul, "EltwiseMult", "__mul__", "MultFloat", "__mul__")        \
  X(Div, "Div", "__div__", "DivFloat", "__truediv__")             \
  X(Pow, "Pow", "__pow__", "PowFloat", "__pow__")                 \
  X(LT, "LT", "__lt__", "LTFloat", "__lt__")                      \
  X(LE, "LE", "__le__", "LEFloat", "__le__")                      \
  X(GT, "GT", "__gt__", "GTFloat", "__gt__")                      \
  X(GE, "GE", "__ge__", "GEFloat", "__ge__")                      \
  X(EQ, "EQ", "__eq__", "EQFloat", nullptr)                       \
  X(And, "And", "__and__", "AndFloat", nullptr)                   \
  X(Or, "Or", "__or__", "OrFloat", nullptr)                       \
  X(Xor, "Xor", "__xor__", "XorFloat", nullptr)                   \
  X(Min, "EltwiseMin", "__min__", "MinFloat", nullptr)            \
  X(Max, "EltwiseMax", "__max__", "MaxFloat", nullptr)            \
  X(Mod, "Mod", "__mod__", "ModFloat", "__mod__")                 \
  X(FMod, "FMod", "__fmod__", "FModFloat", nullptr)

// X(Name): binary kernels with a binding of their own (argument names of their own, no
// scalar or operator forms).
#define SINGA_BINARY_KERNEL_OPS(X) X(ReLUBackward)

// X(Name): the reduction ReduceName(x, axes, keepdims) of ops.h, bound as
// singa_wrap.ReduceName(t, axes=None, keepdims=False).
#define SINGA_REDUCE_OPS(X) \
  X(Sum)                    \
  X(Mean)                   \
  X(Max)                    \
  X(Min)                    \
  X(Prod)
