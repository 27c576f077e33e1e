// Free functions of SINGA's CTensor API (and the extras autograd builds on).
#include "bind/bind.h"
#include "bind/graphed.h"

namespace singa {

namespace {

std::vector<int64_t> AxesArg(const py::object& axis) {
  std::vector<int64_t> axes;
  if (axis.is_none()) return axes;
  if (py::isinstance<py::int_>(axis)) return {axis.cast<int64_t>()};
  return axis.cast<std::vector<int64_t>>();
}

double AlphaArg(const py::object& alpha) {
  if (py::isinstance<Tensor>(alpha)) {
    const Tensor& t = alpha.cast<const Tensor&>();
    if (t.Size() != 1)
      throw ValueError(Msg("Axpy: alpha must be a float or a 1-element tensor, got shape ",
                           ShapeStr(t.shape())));
    return t.AsType(kDouble).Contiguous().data<double>()[0];
  }
  return alpha.cast<double>();
}

struct UnaryName {
  const char* name;
  Unary op;
};

const UnaryName kUnaries[] = {
    {"Abs", Unary::kAbs},         {"Ceil", Unary::kCeil},       {"Floor", Unary::kFloor},
    {"Round", Unary::kRound},     {"RoundE", Unary::kRoundE},   {"Exp", Unary::kExp},
    {"Erf", Unary::kErf},         {"Log", Unary::kLog},         {"ReLU", Unary::kReLU},
    {"Sigmoid", Unary::kSigmoid}, {"Sign", Unary::kSign},       {"Sqrt", Unary::kSqrt},
    {"Square", Unary::kSquare},   {"Cos", Unary::kCos},         {"Cosh", Unary::kCosh},
    {"Acos", Unary::kAcos},       {"Acosh", Unary::kAcosh},     {"Sin", Unary::kSin},
    {"Sinh", Unary::kSinh},       {"Asin", Unary::kAsin},       {"Asinh", Unary::kAsinh},
    {"Tan", Unary::kTan},         {"Tanh", Unary::kTanh},       {"Atan", Unary::kAtan},
    {"Atanh", Unary::kAtanh},     {"Neg", Unary::kNeg},         {"Reciprocal", Unary::kReciprocal},
    {"SoftPlus", Unary::kSoftPlus}, {"SoftSign", Unary::kSoftSign}, {"Not", Unary::kNot},
};

struct BinaryName {
  const char* name;      // tensor-tensor function, e.g. Add
  const char* dunder;    // SINGA's module-level operator name, e.g. __add__
  const char* scalar;    // tensor-float function, e.g. AddFloat
  Binary op;
};

const BinaryName kBinaries[] = {
    {"Add", "__add__", "AddFloat", Binary::kAdd},
    {"Sub", "__sub__", "SubFloat", Binary::kSub},
    {"EltwiseMult", "__mul__", "MultFloat", Binary::kMul},
    {"Div", "__div__", "DivFloat", Binary::kDiv},
    {"Pow", "__pow__", "PowFloat", Binary::kPow},
    {"LT", "__lt__", "LTFloat", Binary::kLT},
    {"LE", "__le__", "LEFloat", Binary::kLE},
    {"GT", "__gt__", "GTFloat", Binary::kGT},
    {"GE", "__ge__", "GEFloat", Binary::kGE},
    {"EQ", "__eq__", "EQFloat", Binary::kEQ},
    {"And", "__and__", "AndFloat", Binary::kAnd},
    {"Or", "__or__", "OrFloat", Binary::kOr},
    {"Xor", "__xor__", "XorFloat", Binary::kXor},
    {"EltwiseMin", "__min__", "MinFloat", Binary::kMin},
    {"EltwiseMax", "__max__", "MaxFloat", Binary::kMax},
};

}  // namespace

void BindOps(py::module_& m) {
  for (const UnaryName& u : kUnaries) {
    Unary op = u.op;
    const char* name = u.name;
    m.def(name, Graphed([op, name](const Tensor& x) { return Apply(op, x, name); }), py::arg("x"), NoGIL());
  }
  m.def("ReLUBackward", Graphed([](const Tensor& dy, const Tensor& x) {
    return Apply(Binary::kReLUBackward, dy, x, "ReLUBackward");
  }), py::arg("dy"), py::arg("x"), NoGIL());

  py::object tensor_cls = m.attr("Tensor");
  for (const BinaryName& b : kBinaries) {
    Binary op = b.op;
    const char* name = b.name;
    auto tt = Graphed([op, name](const Tensor& x, const Tensor& y) { return Apply(op, x, y, name); });
    auto tf = Graphed([op, name](const Tensor& x, double y) { return ApplyScalar(op, x, y, name); });
    const char* dunder = b.dunder;
    m.def(name, tt, py::arg("a"), py::arg("b"), NoGIL());
    m.def(dunder, Graphed([op, dunder](const Tensor& x, const Tensor& y) { return Apply(op, x, y, dunder); }), NoGIL());
    m.def(dunder, Graphed([op, dunder](const Tensor& x, double y) { return ApplyScalar(op, x, y, dunder); }), NoGIL());
    m.def(b.scalar, tf, py::arg("a"), py::arg("x"), NoGIL());
    m.def((std::string(name) + "WithRet").c_str(),
          Graphed([op, name](const Tensor& x, const Tensor& y, Tensor& ret) { ApplyInto(op, x, y, &ret, name); }),
          py::arg("a"), py::arg("b"), py::arg("ret"), NoGIL());
    m.def((std::string(b.scalar) + "WithRet").c_str(),
          Graphed([op, name](const Tensor& x, double y, Tensor& ret) { ApplyScalarInto(op, x, y, &ret, name); }),
          py::arg("a"), py::arg("x"), py::arg("ret"), NoGIL());
  }
  // Operators on the class itself, so CTensors compose naturally in custom ops.
  {
    py::class_<Tensor> c = py::reinterpret_borrow<py::class_<Tensor>>(tensor_cls);
    const std::pair<const char*, Binary> ops[] = {
        {"__add__", Binary::kAdd}, {"__sub__", Binary::kSub}, {"__mul__", Binary::kMul},
        {"__truediv__", Binary::kDiv}, {"__pow__", Binary::kPow}, {"__lt__", Binary::kLT},
        {"__le__", Binary::kLE}, {"__gt__", Binary::kGT}, {"__ge__", Binary::kGE}};
    for (auto& [dname, op] : ops) {
      Binary o = op;
      const char* n = dname;
      c.def(dname, Graphed([o, n](const Tensor& x, const Tensor& y) { return Apply(o, x, y, n); }), py::is_operator(), NoGIL());
      c.def(dname, Graphed([o, n](const Tensor& x, double y) { return ApplyScalar(o, x, y, n); }), py::is_operator(), NoGIL());
    }
    c.def("__radd__", Graphed([](const Tensor& x, double y) { return ApplyScalar(Binary::kAdd, x, y, "__radd__"); }), py::is_operator());
    c.def("__rmul__", Graphed([](const Tensor& x, double y) { return ApplyScalar(Binary::kMul, x, y, "__rmul__"); }), py::is_operator());
    c.def("__rsub__", Graphed([](const Tensor& x, double y) { return ApplyScalarLeft(Binary::kSub, y, x, "__rsub__"); }), py::is_operator());
    c.def("__rtruediv__", Graphed([](const Tensor& x, double y) { return ApplyScalarLeft(Binary::kDiv, y, x, "__rdiv__"); }), py::is_operator());
    c.def("__neg__", Graphed([](const Tensor& x) { return Apply(Unary::kNeg, x, "__neg__"); }));
  }
  m.def("RSubFloat", Graphed([](double x, const Tensor& a) { return ApplyScalarLeft(Binary::kSub, x, a, "RSub"); }), NoGIL());
  m.def("RDivFloat", Graphed([](double x, const Tensor& a) { return ApplyScalarLeft(Binary::kDiv, x, a, "RDiv"); }), NoGIL());
  m.def("RPowFloat", Graphed([](double x, const Tensor& a) { return ApplyScalarLeft(Binary::kPow, x, a, "RPow"); }), NoGIL());

  // ---- shapes and copies ----
  m.def("Reshape", Graphed([](const Tensor& t, const std::vector<int64_t>& shape) {
    return t.Reshape(InferShape(shape, t.Size(), "Reshape"));
  }), py::arg("t"), py::arg("shape"), NoGIL());
  m.def("Transpose", Graphed([](const Tensor& t, const std::vector<size_t>& axes) { return t.Transpose(axes); }),
        py::arg("t"), py::arg("axes"));
  m.def("Transpose", Graphed([](const Tensor& t) { return t.Transpose(); }), py::arg("t"));
  m.def("DefaultTranspose", Graphed([](const Tensor& t) { return t.Transpose(); }), py::arg("t"));
  m.def("Contiguous", Graphed([](const Tensor& t) { return t.Contiguous(); }), py::arg("t"), NoGIL());
  m.def("Broadcast", Graphed([](const Tensor& t, const std::vector<size_t>& shape) { return t.Broadcast(shape); }),
        py::arg("t"), py::arg("shape"));
  m.def("ConcatOn", Graphed(&ConcatOn), py::arg("tensors"), py::arg("axis"), NoGIL());
  m.def("SliceOn", Graphed(&SliceOn), py::arg("t"), py::arg("start"), py::arg("end"), py::arg("axis"), NoGIL());
  m.def("Repeat", [](const Tensor& t, const std::vector<size_t>& reps, const py::object& axis) {
    int64_t ax = axis.is_none() ? INT64_MIN : axis.cast<int64_t>();
    static auto repeat = Graphed([](const Tensor& x, const std::vector<size_t>& r, int64_t a) {
      return Repeat(x, r, a);
    });
    py::gil_scoped_release nogil;
    return repeat(t, reps, ax);
  }, py::arg("t"), py::arg("repeats"), py::arg("axis") = py::none());
  m.def("Tile", Graphed(&Tile), py::arg("t"), py::arg("reps"), NoGIL());
  m.def("Take", Graphed(&Take), py::arg("t"), py::arg("indices"), py::arg("axis"), NoGIL());
  m.def("GatherElements", Graphed(&GatherElements), py::arg("t"), py::arg("indices"), py::arg("axis"), NoGIL());
  m.def("ScatterElements", Graphed(&ScatterElements), py::arg("t"), py::arg("indices"), py::arg("updates"),
        py::arg("axis"), py::arg("add") = false, NoGIL());
  m.def("OneHot", Graphed([](const Tensor& idx, size_t depth, double on, double off, int dt) {
    return OneHot(idx, depth, on, off, static_cast<DataType>(dt));
  }), py::arg("indices"), py::arg("depth"), py::arg("on") = 1.0, py::arg("off") = 0.0, py::arg("dtype") = 0, NoGIL());
  m.def("Pad", Graphed(&Pad), py::arg("t"), py::arg("pads"), py::arg("mode") = 0, py::arg("value") = 0.0, NoGIL());
  m.def("Where", Graphed(&Where), py::arg("cond"), py::arg("a"), py::arg("b"), NoGIL());
  m.def("Clip", Graphed(&Clip), py::arg("t"), py::arg("low"), py::arg("high"), NoGIL());
  m.def("CopyDataToFrom", Graphed([](Tensor& dst, const Tensor& src, size_t num, size_t dst_offset, size_t src_offset) {
    if (dst_offset + num > dst.Size() || src_offset + num > src.Size())
      throw ValueError(Msg("CopyDataToFrom: copying ", num, " values from offset ", src_offset, " of ",
                           src.Size(), " to offset ", dst_offset, " of ", dst.Size()));
    if (num == 0) return;
    Tensor s = src.Contiguous().Reshape({src.Size()}).Slice(0, src_offset, src_offset + num);
    if (dst.IsContiguous()) {
      dst.Reshape({dst.Size()}).Slice(0, dst_offset, dst_offset + num).CopyData(s);
    } else {
      Tensor d = dst.Clone();
      d.Reshape({d.Size()}).Slice(0, dst_offset, dst_offset + num).CopyData(s);
      dst.CopyData(d);
    }
  }), py::arg("dst"), py::arg("src"), py::arg("num"), py::arg("dst_offset") = 0, py::arg("src_offset") = 0, NoGIL());
  m.def("SizeOf", [](int dt) { return SizeOf(static_cast<DataType>(dt)); }, py::arg("dtype"));

  // ---- reductions ----
  m.def("Sum", Graphed([](const Tensor& t, int64_t axis) { return ReduceSum(t, {axis}, false); }),
        py::arg("t"), py::arg("axis"), NoGIL());
  m.def("SumAll", &SumAll, py::arg("t"), NoGIL());
  m.def("SumAsFloat", &SumAll, py::arg("t"), NoGIL());
  m.def("Average", Graphed([](const Tensor& t, int64_t axis) { return ReduceMean(t, {axis}, false); }),
        py::arg("t"), py::arg("axis"), NoGIL());
  m.def("ReduceSum", [](const Tensor& t, const py::object& axes, bool keepdims) {
    auto ax = AxesArg(axes);
    static auto kernel = Graphed([](const Tensor& x, const std::vector<int64_t>& a, bool k) {
      return ReduceSum(x, a, k);
    });
    py::gil_scoped_release nogil;
    return kernel(t, ax, keepdims);
  }, py::arg("t"), py::arg("axes") = py::none(), py::arg("keepdims") = false);
  m.def("ReduceMean", [](const Tensor& t, const py::object& axes, bool keepdims) {
    auto ax = AxesArg(axes);
    static auto kernel = Graphed([](const Tensor& x, const std::vector<int64_t>& a, bool k) {
      return ReduceMean(x, a, k);
    });
    py::gil_scoped_release nogil;
    return kernel(t, ax, keepdims);
  }, py::arg("t"), py::arg("axes") = py::none(), py::arg("keepdims") = false);
  m.def("ReduceMax", [](const Tensor& t, const py::object& axes, bool keepdims) {
    auto ax = AxesArg(axes);
    static auto kernel = Graphed([](const Tensor& x, const std::vector<int64_t>& a, bool k) {
      return ReduceMax(x, a, k);
    });
    py::gil_scoped_release nogil;
    return kernel(t, ax, keepdims);
  }, py::arg("t"), py::arg("axes") = py::none(), py::arg("keepdims") = false);
  m.def("ReduceMin", [](const Tensor& t, const py::object& axes, bool keepdims) {
    auto ax = AxesArg(axes);
    static auto kernel = Graphed([](const Tensor& x, const std::vector<int64_t>& a, bool k) {
      return ReduceMin(x, a, k);
    });
    py::gil_scoped_release nogil;
    return kernel(t, ax, keepdims);
  }, py::arg("t"), py::arg("axes") = py::none(), py::arg("keepdims") = false);
  m.def("ArgMax", Graphed(&ArgMax), py::arg("t"), py::arg("axis"), NoGIL());
  m.def("SumToShape", Graphed([](const Tensor& t, const std::vector<size_t>& shape) { return SumToShape(t, shape); }),
        py::arg("t"), py::arg("shape"), NoGIL());
  m.def("SoftMax", Graphed(&SoftMax), py::arg("t"), py::arg("axis") = 1, NoGIL());
  m.def("LogSoftMax", Graphed(&LogSoftMax), py::arg("t"), py::arg("axis") = 1, NoGIL());
  m.def("SoftMaxBackward", Graphed(&SoftMaxBackward), py::arg("dy"), py::arg("axis"), py::arg("y"), NoGIL());
  m.def("CrossEntropyFwd", Graphed(&CrossEntropyFwd), py::arg("p"), py::arg("t"), NoGIL());
  m.def("SoftmaxCrossEntropyBwd", Graphed(&SoftmaxCrossEntropyBwd), py::arg("p"), py::arg("t"), NoGIL());

  // ---- BLAS and row/column helpers ----
  m.def("Mult", Graphed(&Mult), py::arg("a"), py::arg("b"), NoGIL());
  m.def("Mult", Graphed([](double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
    MultWithScale(alpha, a, b, beta, &c);
  }), py::arg("alpha"), py::arg("a"), py::arg("b"), py::arg("beta"), py::arg("c"), NoGIL());
  m.def("MultWithScale", Graphed([](double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
    MultWithScale(alpha, a, b, beta, &c);
  }), py::arg("alpha"), py::arg("a"), py::arg("b"), py::arg("beta"), py::arg("c"), NoGIL());
  m.def("Axpy", [](const py::object& alpha, const Tensor& x, Tensor& y) {
    double a = AlphaArg(alpha);
    static auto axpy = Graphed([](double al, const Tensor& xx, Tensor& yy) { Axpy(al, xx, &yy); });
    py::gil_scoped_release nogil;
    axpy(a, x, y);
  }, py::arg("alpha"), py::arg("x"), py::arg("y"));
  m.def("AddColumn", Graphed([](const Tensor& v, Tensor& mat) { AddColumnWithScale(1, 1, v, &mat); }), NoGIL());
  m.def("AddRow", Graphed([](const Tensor& v, Tensor& mat) { AddRowWithScale(1, 1, v, &mat); }), NoGIL());
  m.def("AddColumnWithScale", Graphed([](double a, double b, const Tensor& v, Tensor& mat) { AddColumnWithScale(a, b, v, &mat); }), NoGIL());
  m.def("AddRowWithScale", Graphed([](double a, double b, const Tensor& v, Tensor& mat) { AddRowWithScale(a, b, v, &mat); }), NoGIL());
  m.def("MultColumn", Graphed([](const Tensor& v, Tensor& mat) { MultColumn(v, &mat); }), NoGIL());
  m.def("MultRow", Graphed([](const Tensor& v, Tensor& mat) { MultRow(v, &mat); }), NoGIL());
  m.def("DivColumn", Graphed([](const Tensor& v, Tensor& mat) { DivColumn(v, &mat); }), NoGIL());
  m.def("DivRow", Graphed([](const Tensor& v, Tensor& mat) { DivRow(v, &mat); }), NoGIL());
  m.def("SumColumns", Graphed(&SumColumns), NoGIL());
  m.def("SumRows", Graphed(&SumRows), NoGIL());

  // ---- random ----
  m.def("Bernoulli", Graphed([](double p, Tensor& t) { Bernoulli(p, &t); }), py::arg("p"), py::arg("t"), NoGIL());
  m.def("Gaussian", Graphed([](double mean, double std, Tensor& t) { Gaussian(mean, std, &t); }),
        py::arg("mean"), py::arg("std"), py::arg("t"), NoGIL());
  m.def("Uniform", Graphed([](double low, double high, Tensor& t) { Uniform(low, high, &t); }),
        py::arg("low"), py::arg("high"), py::arg("t"), NoGIL());
}

}  // namespace singa
