// The binding-kind registry (bind/def.h) and the introspection bindings.
#include <stdexcept>

#include "bind/def.h"
#include "core/config.h"

namespace singa {

const char* BindingKindName(BindingKind kind) {
  switch (kind) {
    case BindingKind::kRecorded: return "recorded";
    case BindingKind::kHost: return "host";
    case BindingKind::kNotReplayable: return "not_replayable";
  }
  return "unknown";
}

static std::map<std::string, BindingKind>& Registry() {
  static std::map<std::string, BindingKind> registry;
  return registry;
}

void RegisterBinding(const std::string& name, BindingKind kind) {
  auto [it, fresh] = Registry().emplace(name, kind);
  if (!fresh && it->second != kind)
    throw std::logic_error("singa_wrap: " + name + " is bound both as " +
                           BindingKindName(it->second) + " and as " + BindingKindName(kind));
}

const std::map<std::string, BindingKind>& BindingRegistry() { return Registry(); }

void BindKinds(py::module_& m) {
  DefHost(m, "binding_kinds", [] {
    py::dict out;
    for (const auto& [name, kind] : BindingRegistry()) out[py::str(name)] = BindingKindName(kind);
    return out;
  }, "{qualified binding name: 'recorded' | 'host' | 'not_replayable'}: what graph recording "
     "does with each function of this module (see src/bind/def.h).");
  DefHost(m, "config_knobs", [] {
    py::list out;
    for (const ConfigKnob& k : ConfigKnobs())
      out.append(py::make_tuple(k.name, k.default_value, k.meaning));
    return out;
  }, "[(name, default, meaning)]: every environment variable the core reads.");
}

}  // namespace singa
