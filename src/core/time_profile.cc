#include "core/time_profile.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <numeric>
#include <sstream>

namespace singa {

namespace {

std::string Row(double ms, double share, size_t count, const std::string& what) {
  char buf[64];
  std::snprintf(buf, sizeof(buf), "  %12.4f  %5.1f%%  %6zu  ", ms, share, count);
  return std::string(buf) + what + "\n";
}

// One row per kernel name, the slowest first.
void ByKernel(const GraphTimes& g, std::ostringstream& out) {
  struct Sum {
    double seconds = 0;
    size_t calls = 0;
  };
  std::map<std::string, Sum> sums;
  for (size_t i = 0; i < g.names.size(); ++i) {
    Sum& s = sums[g.names[i]];
    s.seconds += g.seconds[i];
    ++s.calls;
  }
  std::vector<std::pair<std::string, Sum>> rows(sums.begin(), sums.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  const double total = std::accumulate(g.seconds.begin(), g.seconds.end(), 0.0);
  const double per_iteration = 1e3 / static_cast<double>(g.timed);
  out << "  mean ms/iter   share   calls  kernel\n";
  for (const auto& [name, s] : rows)
    out << Row(s.seconds * per_iteration,
               total > 0 ? 100.0 * s.seconds / total : 0.0, s.calls, name);
  out << Row(total * per_iteration, 100.0, g.names.size(), "total");
  if (g.backward_from < 0) return;
  const auto split = g.seconds.begin() + std::min<size_t>(g.backward_from, g.seconds.size());
  const double forward = std::accumulate(g.seconds.begin(), split, 0.0);
  char buf[160];
  std::snprintf(buf, sizeof(buf),
                "  forward propagation %.4f ms/iter (the first %ld nodes), backward propagation and "
                "updates %.4f ms/iter\n",
                forward * per_iteration, g.backward_from, (total - forward) * per_iteration);
  out << buf;
}

// One row per node, in replay order.
void ByNode(const GraphTimes& g, std::ostringstream& out) {
  const double total = std::accumulate(g.seconds.begin(), g.seconds.end(), 0.0);
  const double per_iteration = 1e3 / static_cast<double>(g.timed);
  out << "  mean ms/iter   share    node  kernel\n";
  for (size_t i = 0; i < g.names.size(); ++i)
    out << Row(g.seconds[i] * per_iteration,
               total > 0 ? 100.0 * g.seconds[i] / total : 0.0, i, g.names[i]);
  out << Row(total * per_iteration, 100.0, g.names.size(), "total");
}

}  // namespace

std::string FormatTimeProfile(const std::string& device, int verbosity, int skip,
                              const std::vector<GraphTimes>& graphs) {
  std::ostringstream out;
  out << "Time profile of " << device << " (verbosity " << verbosity << ", by "
      << (verbosity == 1 ? "kernel" : "node") << "):";
  size_t shown = 0;
  for (const GraphTimes& g : graphs) shown += g.timed > 0;
  if (shown == 0) {
    out << " nothing was timed. Only replayed graphs are timed (Model.compile(use_graph=True) "
           "from the second training step on), after the first "
        << skip << " iterations of each graph (Device.SetSkipIteration); eager kernels are not.\n";
    return out.str();
  }
  out << "\n";
  size_t k = 0;
  for (const GraphTimes& g : graphs) {
    if (g.timed == 0) continue;
    out << "graph " << ++k << " of " << shown << ": " << g.names.size() << " nodes, " << g.timed
        << " of " << g.iterations << " iterations timed\n";
    if (verbosity == 1)
      ByKernel(g, out);
    else
      ByNode(g, out);
  }
  return out.str();
}

}  // namespace singa
