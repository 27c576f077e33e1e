// The environment variables the core reads, in one table. This is the only code that
// calls getenv: a new variable gets a row in kConfigKnobs (config.cc) and is read through
// the getters below, so `singa_wrap.config_knobs()` lists every knob there is.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace singa {

struct ConfigKnob {
  const char* name;
  const char* default_value;  // what an unset or empty variable means
  const char* meaning;
};

const std::vector<ConfigKnob>& ConfigKnobs();

// The variable's value, or its default when it is unset or empty. A name missing from
// the table is a programming error (std::logic_error).
std::string ConfigString(const char* name);
// The value read as an unsigned decimal number, the way strtoull does: leading digits
// count, anything else reads as 0.
uint64_t ConfigUnsigned(const char* name);

// Deterministic mode (singa.set_deterministic): oneDNN primitives are built with its
// deterministic attribute where the linked oneDNN has one (3.4 and later; primitives are
// cached per mode). Off by default; a process setting, not an environment knob.
void SetDeterministic(bool on);
bool IsDeterministic();

}  // namespace singa
