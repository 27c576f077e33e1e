// How every binding is defined: each def site says what graph recording (core/graph.h)
// does with the function, and the kind is recorded in a registry that
// `singa_wrap.binding_kinds()` exposes and tests/test_bindings.py checks against the
// module, so no binding can be left out of replay by forgetting a wrapper.
//
//   DefRecorded       device work a replay must repeat: recorded while a graph records
//                     (bind/graphed.h: arguments captured by value, results adopted).
//   DefHost           no device work to repeat: metadata, views, configuration, reading
//                     values back to the host, graph control. Harmless while recording.
//   DefNotReplayable  writes host data into tensors or rebinds a tensor to new storage,
//                     which a replay cannot repeat: running it while a graph records
//                     marks the graph not replayable, with the reason.
//
// Names are qualified by their class: "Add", "Tensor.Clone", "Device.Sync". Constructors
// are "Class.__init__" (DefInit, host: allocation only), static methods use DefHostStatic.
#pragma once

#include <map>
#include <string>
#include <type_traits>
#include <utility>

#include "bind/bind.h"
#include "bind/graphed.h"

namespace singa {

enum class BindingKind { kRecorded, kHost, kNotReplayable };

const char* BindingKindName(BindingKind kind);  // "recorded", "host", "not_replayable"

// Adds `name` to the registry; std::logic_error (failing the import) when an overload of
// the same name was registered with another kind.
void RegisterBinding(const std::string& name, BindingKind kind);
const std::map<std::string, BindingKind>& BindingRegistry();

namespace def_detail {

inline std::string Qualified(const py::module_&, const char* name) { return name; }

template <typename C, typename... O>
std::string Qualified(const py::class_<C, O...>& cls, const char* name) {
  return cls.attr("__name__").template cast<std::string>() + "." + name;
}

// A body that does its own recording: it runs only kernels made with Graphed().
template <typename F>
struct CallsRecorded {
  F fn;
};

template <typename T>
struct IsCallsRecorded : std::false_type {};
template <typename F>
struct IsCallsRecorded<CallsRecorded<F>> : std::true_type {};

}  // namespace def_detail

// For a binding that must do Python work around its kernel (return a reference to self,
// say): `body` calls recorded kernels (static Graphed() objects) and is bound as it is.
template <typename F>
def_detail::CallsRecorded<std::decay_t<F>> CallsRecorded(F&& body) {
  return {std::forward<F>(body)};
}

template <typename Scope, typename F, typename... Extra>
Scope& DefRecorded(Scope& scope, const char* name, F&& f, const Extra&... extra) {
  const std::string qualified = def_detail::Qualified(scope, name);
  RegisterBinding(qualified, BindingKind::kRecorded);
  if constexpr (def_detail::IsCallsRecorded<std::decay_t<F>>::value)
    scope.def(name, std::forward<F>(f).fn, extra...);
  else
    scope.def(name, Graphed(qualified, std::forward<F>(f)), extra...);
  return scope;
}

template <typename Scope, typename F, typename... Extra>
Scope& DefHost(Scope& scope, const char* name, F&& f, const Extra&... extra) {
  RegisterBinding(def_detail::Qualified(scope, name), BindingKind::kHost);
  scope.def(name, std::forward<F>(f), extra...);
  return scope;
}

template <typename Scope, typename F, typename... Extra>
Scope& DefNotReplayable(Scope& scope, const char* name, F&& f, const char* why,
                        const Extra&... extra) {
  RegisterBinding(def_detail::Qualified(scope, name), BindingKind::kNotReplayable);
  scope.def(name, NotGraphed(std::forward<F>(f), why), extra...);
  return scope;
}

template <typename C, typename... O, typename F, typename... Extra>
py::class_<C, O...>& DefHostStatic(py::class_<C, O...>& cls, const char* name, F&& f,
                                   const Extra&... extra) {
  RegisterBinding(def_detail::Qualified(cls, name), BindingKind::kHost);
  cls.def_static(name, std::forward<F>(f), extra...);
  return cls;
}

template <typename C, typename... O, typename Init, typename... Extra>
py::class_<C, O...>& DefInit(py::class_<C, O...>& cls, Init&& init, const Extra&... extra) {
  RegisterBinding(def_detail::Qualified(cls, "__init__"), BindingKind::kHost);
  cls.def(std::forward<Init>(init), extra...);
  return cls;
}

}  // namespace singa
