// Free functions of SINGA's CTensor API (and the extras autograd builds on). The
// element-wise and reduction bindings come from the op tables (math/op_tables.h).
#include <climits>

#include "bind/args.h"
#include "bind/def.h"

namespace singa {

namespace {

struct UnaryName {
  const char* name;
  Unary op;
};

const UnaryName kUnaries[] = {
#define SINGA_UNARY_NAME(Name, closed) {#Name, Unary::k##Name},
    SINGA_UNARY_OPS(SINGA_UNARY_NAME)
#undef SINGA_UNARY_NAME
};

struct BinaryName {
  const char* name;            // tensor-tensor function, e.g. Add
  const char* dunder;          // SINGA's module-level operator name, e.g. __add__
  const char* scalar;          // tensor-float function, e.g. AddFloat
  const char* class_operator;  // the Tensor operator, or nullptr
  Binary op;
};

const BinaryName kBinaries[] = {
#define SINGA_BINARY_NAME(Name, function, dunder, scalar, class_op) \
  {function, dunder, scalar, class_op, Binary::k##Name},
    SINGA_BINARY_OPS(SINGA_BINARY_NAME)
#undef SINGA_BINARY_NAME
};

using ReduceFn = Tensor (*)(const Tensor&, const std::vector<int64_t>&, bool);
struct ReduceName {
  const char* name;
  ReduceFn fn;
};

const ReduceName kReductions[] = {
#define SINGA_REDUCE_NAME(Name) {"Reduce" #Name, &Reduce##Name},
    SINGA_REDUCE_OPS(SINGA_REDUCE_NAME)
#undef SINGA_REDUCE_NAME
};

void BindElementwise(py::module_& m) {
  for (const UnaryName& u : kUnaries) {
    Unary op = u.op;
    const char* name = u.name;
    DefRecorded(m, name, [op, name](const Tensor& x) { return Apply(op, x, name); }, py::arg("x"), NoGIL());
  }
  DefRecorded(m, "ReLUBackward", [](const Tensor& dy, const Tensor& x) {
    return Apply(Binary::kReLUBackward, dy, x, "ReLUBackward");
  }, py::arg("dy"), py::arg("x"), NoGIL());

  auto tensor = py::reinterpret_borrow<py::class_<Tensor>>(m.attr("Tensor"));
  for (const BinaryName& b : kBinaries) {
    Binary op = b.op;
    const char *name = b.name, *dunder = b.dunder;
    DefRecorded(m, name, [op, name](const Tensor& x, const Tensor& y) { return Apply(op, x, y, name); },
                py::arg("a"), py::arg("b"), NoGIL());
    DefRecorded(m, dunder, [op, dunder](const Tensor& x, const Tensor& y) { return Apply(op, x, y, dunder); }, NoGIL());
    DefRecorded(m, dunder, [op, dunder](const Tensor& x, double y) { return ApplyScalar(op, x, y, dunder); }, NoGIL());
    DefRecorded(m, b.scalar, [op, name](const Tensor& x, double y) { return ApplyScalar(op, x, y, name); },
                py::arg("a"), py::arg("x"), NoGIL());
    DefRecorded(m, (std::string(name) + "WithRet").c_str(),
                [op, name](const Tensor& x, const Tensor& y, Tensor& ret) { ApplyInto(op, x, y, &ret, name); },
                py::arg("a"), py::arg("b"), py::arg("ret"), NoGIL());
    DefRecorded(m, (std::string(b.scalar) + "WithRet").c_str(),
                [op, name](const Tensor& x, double y, Tensor& ret) { ApplyScalarInto(op, x, y, &ret, name); },
                py::arg("a"), py::arg("x"), py::arg("ret"), NoGIL());
    // The comparisons and logic ops also give bool tensors, whatever their operands' dtypes.
    const bool boolean = op == Binary::kLT || op == Binary::kLE || op == Binary::kGT ||
                         op == Binary::kGE || op == Binary::kEQ || op == Binary::kAnd ||
                         op == Binary::kOr || op == Binary::kXor;
    if (boolean)
      DefRecorded(m, (std::string(name) + "Bool").c_str(),
                  [op, name](const Tensor& x, const Tensor& y) { return ApplyBool(op, x, y, name); },
                  py::arg("a"), py::arg("b"), NoGIL());
    // Operators on the class itself, so CTensors compose naturally in custom ops.
    if (const char* cop = b.class_operator) {
      DefRecorded(tensor, cop, [op, cop](const Tensor& x, const Tensor& y) { return Apply(op, x, y, cop); },
                  py::is_operator(), NoGIL());
      DefRecorded(tensor, cop, [op, cop](const Tensor& x, double y) { return ApplyScalar(op, x, y, cop); },
                  py::is_operator(), NoGIL());
    }
  }
  DefRecorded(tensor, "__radd__", [](const Tensor& x, double y) { return ApplyScalar(Binary::kAdd, x, y, "__radd__"); }, py::is_operator());
  DefRecorded(tensor, "__rmul__", [](const Tensor& x, double y) { return ApplyScalar(Binary::kMul, x, y, "__rmul__"); }, py::is_operator());
  DefRecorded(tensor, "__rsub__", [](const Tensor& x, double y) { return ApplyScalarLeft(Binary::kSub, y, x, "__rsub__"); }, py::is_operator());
  DefRecorded(tensor, "__rtruediv__", [](const Tensor& x, double y) { return ApplyScalarLeft(Binary::kDiv, y, x, "__rdiv__"); }, py::is_operator());
  DefRecorded(tensor, "__neg__", [](const Tensor& x) { return Apply(Unary::kNeg, x, "__neg__"); });
  DefRecorded(m, "RSubFloat", [](double x, const Tensor& a) { return ApplyScalarLeft(Binary::kSub, x, a, "RSub"); }, NoGIL());
  DefRecorded(m, "RDivFloat", [](double x, const Tensor& a) { return ApplyScalarLeft(Binary::kDiv, x, a, "RDiv"); }, NoGIL());
  DefRecorded(m, "RPowFloat", [](double x, const Tensor& a) { return ApplyScalarLeft(Binary::kPow, x, a, "RPow"); }, NoGIL());
  DefRecorded(m, "Where", &Where, py::arg("cond"), py::arg("a"), py::arg("b"), NoGIL());
  DefRecorded(m, "Clip", &Clip, py::arg("t"), py::arg("low"), py::arg("high"), NoGIL());
}

void BindShapes(py::module_& m) {
  DefRecorded(m, "Reshape", [](const Tensor& t, const std::vector<int64_t>& shape) {
    return t.Reshape(InferShape(shape, t.Size(), "Reshape"));
  }, py::arg("t"), py::arg("shape"), NoGIL());
  DefRecorded(m, "Transpose", [](const Tensor& t, const std::vector<size_t>& axes) { return t.Transpose(axes); },
              py::arg("t"), py::arg("axes"));
  DefRecorded(m, "Transpose", [](const Tensor& t) { return t.Transpose(); }, py::arg("t"));
  DefRecorded(m, "DefaultTranspose", [](const Tensor& t) { return t.Transpose(); }, py::arg("t"));
  DefRecorded(m, "Contiguous", [](const Tensor& t) { return t.Contiguous(); }, py::arg("t"), NoGIL());
  DefRecorded(m, "Broadcast", [](const Tensor& t, const std::vector<size_t>& shape) { return t.Broadcast(shape); },
              py::arg("t"), py::arg("shape"));
  DefRecorded(m, "ConcatOn", &ConcatOn, py::arg("tensors"), py::arg("axis"), NoGIL());
  DefRecorded(m, "SliceOn", &SliceOn, py::arg("t"), py::arg("start"), py::arg("end"), py::arg("axis"), NoGIL());
  // axis None repeats the flattened tensor (NumPy's axis=None).
  DefRecorded(m, "Repeat", [](const Tensor& t, const std::vector<size_t>& reps, std::optional<int64_t> axis) {
    return Repeat(t, reps, axis ? *axis : INT64_MIN);
  }, py::arg("t"), py::arg("repeats"), py::arg("axis") = py::none(), NoGIL());
  DefRecorded(m, "Tile", &Tile, py::arg("t"), py::arg("reps"), NoGIL());
  DefRecorded(m, "Take", &Take, py::arg("t"), py::arg("indices"), py::arg("axis"), NoGIL());
  DefRecorded(m, "GatherElements", &GatherElements, py::arg("t"), py::arg("indices"), py::arg("axis"), NoGIL());
  DefRecorded(m, "ScatterElements", &ScatterElements, py::arg("t"), py::arg("indices"), py::arg("updates"),
              py::arg("axis"), py::arg("add") = false, NoGIL());
  DefRecorded(m, "OneHot", [](const Tensor& idx, size_t depth, double on, double off, int dt) {
    return OneHot(idx, depth, on, off, static_cast<DataType>(dt));
  }, py::arg("indices"), py::arg("depth"), py::arg("on") = 1.0, py::arg("off") = 0.0, py::arg("dtype") = 0, NoGIL());
  DefRecorded(m, "Pad", &Pad, py::arg("t"), py::arg("pads"), py::arg("mode") = 0, py::arg("value") = 0.0, NoGIL());
  DefRecorded(m, "CopyDataToFrom", [](Tensor& dst, const Tensor& src, size_t num, size_t dst_offset, size_t src_offset) {
    // Compared by subtraction: offset + num can wrap around 2^64.
    if (num > dst.Size() || dst_offset > dst.Size() - num || num > src.Size() ||
        src_offset > src.Size() - num)
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
  }, py::arg("dst"), py::arg("src"), py::arg("num"), py::arg("dst_offset") = 0, py::arg("src_offset") = 0, NoGIL());
  DefHost(m, "SizeOf", [](int dt) { return SizeOf(static_cast<DataType>(dt)); }, py::arg("dtype"));
  // What a broadcasting op's backward needs, in one call. Equal shapes come as one
  // object twice, so that backward tells the common case by identity.
  DefHost(m, "OperandShapes", [](const Tensor& a, const Tensor& b) {
    py::tuple sa(py::cast(a.shape()));
    return py::make_tuple(sa, a.shape() == b.shape() ? sa : py::tuple(py::cast(b.shape())));
  }, py::arg("a"), py::arg("b"),
     "(a.shape(), b.shape()); when the shapes are equal, the same tuple twice.");
}

void BindReductions(py::module_& m) {
  for (const ReduceName& r : kReductions) {
    ReduceFn fn = r.fn;
    DefRecorded(m, r.name, [fn](const Tensor& t, const Axes& axes, bool keepdims) {
      return fn(t, axes.values, keepdims);
    }, py::arg("t"), py::arg("axes") = py::none(), py::arg("keepdims") = false, NoGIL());
  }
  DefRecorded(m, "Sum", [](const Tensor& t, int64_t axis) { return ReduceSum(t, {axis}, false); },
              py::arg("t"), py::arg("axis"), NoGIL());
  DefRecorded(m, "Average", [](const Tensor& t, int64_t axis) { return ReduceMean(t, {axis}, false); },
              py::arg("t"), py::arg("axis"), NoGIL());
  // Read a value back to the host: nothing for a replay to repeat.
  DefHost(m, "SumAll", &SumAll, py::arg("t"), NoGIL());
  DefHost(m, "SumAsFloat", &SumAll, py::arg("t"), NoGIL());
  DefRecorded(m, "ArgMax", &ArgMax, py::arg("t"), py::arg("axis"), NoGIL());
  DefRecorded(m, "ArgMin", &ArgMin, py::arg("t"), py::arg("axis"), NoGIL());
  DefRecorded(m, "CumSum", &CumSum, py::arg("t"), py::arg("axis"), py::arg("exclusive") = false,
              py::arg("reverse") = false, NoGIL());
  DefRecorded(m, "SumToShape", [](const Tensor& t, const std::vector<size_t>& shape) { return SumToShape(t, shape); },
              py::arg("t"), py::arg("shape"), NoGIL());
  DefRecorded(m, "SoftMax", &SoftMax, py::arg("t"), py::arg("axis") = 1, NoGIL());
  DefRecorded(m, "LogSoftMax", &LogSoftMax, py::arg("t"), py::arg("axis") = 1, NoGIL());
  DefRecorded(m, "SoftMaxBackward", &SoftMaxBackward, py::arg("dy"), py::arg("axis"), py::arg("y"), NoGIL());
  DefRecorded(m, "CrossEntropyFwd", &CrossEntropyFwd, py::arg("p"), py::arg("t"), NoGIL());
  DefRecorded(m, "SoftmaxCrossEntropyBwd", &SoftmaxCrossEntropyBwd, py::arg("p"), py::arg("t"), NoGIL());
}

void BindBlas(py::module_& m) {
  DefRecorded(m, "Mult", &Mult, py::arg("a"), py::arg("b"), NoGIL());
  DefRecorded(m, "Mult", [](double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
    MultWithScale(alpha, a, b, beta, &c);
  }, py::arg("alpha"), py::arg("a"), py::arg("b"), py::arg("beta"), py::arg("c"), NoGIL());
  DefRecorded(m, "MultWithScale", [](double alpha, const Tensor& a, const Tensor& b, double beta, Tensor& c) {
    MultWithScale(alpha, a, b, beta, &c);
  }, py::arg("alpha"), py::arg("a"), py::arg("b"), py::arg("beta"), py::arg("c"), NoGIL());
  // alpha: a float or a 1-element tensor, read when Axpy is called (args.h).
  DefRecorded(m, "Axpy", [](const Alpha& alpha, const Tensor& x, Tensor& y) { Axpy(alpha.value, x, &y); },
              py::arg("alpha"), py::arg("x"), py::arg("y"), NoGIL());
  DefRecorded(m, "AddColumn", [](const Tensor& v, Tensor& mat) { AddColumnWithScale(1, 1, v, &mat); }, NoGIL());
  DefRecorded(m, "AddRow", [](const Tensor& v, Tensor& mat) { AddRowWithScale(1, 1, v, &mat); }, NoGIL());
  DefRecorded(m, "AddColumnWithScale", [](double a, double b, const Tensor& v, Tensor& mat) { AddColumnWithScale(a, b, v, &mat); }, NoGIL());
  DefRecorded(m, "AddRowWithScale", [](double a, double b, const Tensor& v, Tensor& mat) { AddRowWithScale(a, b, v, &mat); }, NoGIL());
  DefRecorded(m, "MultColumn", [](const Tensor& v, Tensor& mat) { MultColumn(v, &mat); }, NoGIL());
  DefRecorded(m, "MultRow", [](const Tensor& v, Tensor& mat) { MultRow(v, &mat); }, NoGIL());
  DefRecorded(m, "DivColumn", [](const Tensor& v, Tensor& mat) { DivColumn(v, &mat); }, NoGIL());
  DefRecorded(m, "DivRow", [](const Tensor& v, Tensor& mat) { DivRow(v, &mat); }, NoGIL());
  DefRecorded(m, "SumColumns", &SumColumns, NoGIL());
  DefRecorded(m, "SumRows", &SumRows, NoGIL());
}

void BindRandom(py::module_& m) {
  // Recorded: a replay draws new numbers, as each eager step does.
  DefRecorded(m, "Bernoulli", [](double p, Tensor& t) { Bernoulli(p, &t); }, py::arg("p"), py::arg("t"), NoGIL());
  DefRecorded(m, "Gaussian", [](double mean, double std, Tensor& t) { Gaussian(mean, std, &t); },
              py::arg("mean"), py::arg("std"), py::arg("t"), NoGIL());
  DefRecorded(m, "Uniform", [](double low, double high, Tensor& t) { Uniform(low, high, &t); },
              py::arg("low"), py::arg("high"), py::arg("t"), NoGIL());
}

}  // namespace

void BindOps(py::module_& m) {
  BindElementwise(m);
  BindShapes(m);
  BindReductions(m);
  BindBlas(m);
  BindRandom(m);
}

}  // namespace singa
