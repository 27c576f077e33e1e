// Python argument forms the kernels accept, converted by pybind11 before a binding runs
// (with the GIL held), so recorded kernels capture plain C++ values.
#pragma once

#include <vector>

#include "bind/bind.h"

namespace singa {

// None (every axis), an int or a sequence of ints.
struct Axes {
  std::vector<int64_t> values;
};

// A float or a 1-element Tensor (read once, when the binding is called).
struct Alpha {
  double value = 0;
};

}  // namespace singa

namespace pybind11 {
namespace detail {

template <>
struct type_caster<singa::Axes> {
  PYBIND11_TYPE_CASTER(singa::Axes, const_name("int | typing.Sequence[int] | None"));

  bool load(handle src, bool convert) {
    if (src.is_none()) {
      value.values.clear();
      return true;
    }
    if (isinstance<int_>(src)) {
      value.values = {src.cast<int64_t>()};
      return true;
    }
    make_caster<std::vector<int64_t>> list;
    if (!list.load(src, convert)) return false;
    value.values = cast_op<std::vector<int64_t>&&>(std::move(list));
    return true;
  }

  static handle cast(const singa::Axes& axes, return_value_policy policy, handle parent) {
    return make_caster<std::vector<int64_t>>::cast(axes.values, policy, parent);
  }
};

template <>
struct type_caster<singa::Alpha> {
  PYBIND11_TYPE_CASTER(singa::Alpha, const_name("float | Tensor"));

  bool load(handle src, bool convert) {
    if (isinstance<singa::Tensor>(src)) {
      const auto& t = src.cast<const singa::Tensor&>();
      if (t.Size() != 1)
        throw singa::ValueError(singa::Msg("Axpy: alpha must be a float or a 1-element tensor, got shape ",
                                           singa::ShapeStr(t.shape())));
      value.value = singa::OnHost(t.AsType(singa::kDouble).Contiguous()).data<double>()[0];
      return true;
    }
    make_caster<double> number;
    if (!number.load(src, convert)) return false;
    value.value = cast_op<double>(number);
    return true;
  }

  static handle cast(const singa::Alpha& alpha, return_value_policy, handle) {
    return PyFloat_FromDouble(alpha.value);
  }
};

}  // namespace detail
}  // namespace pybind11
