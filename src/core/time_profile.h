// The text of a device's time profile (Device::TimeProfile, SINGA's PrintTimeProfiling).
#pragma once

#include <string>
#include <vector>

#include "core/graph.h"

namespace singa {

// `verbosity` 1: one row per kernel name (calls and mean time per iteration, share of
// the total); 2: one row per graph node. Every time is a mean over a graph's timed
// iterations. With no timed graph, one line that says why.
std::string FormatTimeProfile(const std::string& device, int verbosity, int skip,
                              const std::vector<GraphTimes>& graphs);

}  // namespace singa
