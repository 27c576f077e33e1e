// NCCL communicators (cuda/nccl_comm.h), in CUDA builds only: a CPU build's module has no
// NcclCommunicator, which is how singa.dist tells that NCCL is not available.
#ifdef USE_CUDA

#include <memory>
#include <string>

#include "bind/def.h"
#include "cuda/nccl_comm.h"

namespace singa {

void BindNccl(py::module_& m) {
  using cuda::NcclCommunicator;
  // Collectives called while a graph records directly (not through DistOpt, which pauses
  // recording and records them as callbacks) cannot be replayed.
  constexpr const char* kWhy =
      "an NCCL collective called while recording is not replayed; DistOpt records its "
      "collectives as graph callbacks";
  py::class_<NcclCommunicator, std::shared_ptr<NcclCommunicator>> c(
      m, "NcclCommunicator",
      "One rank's communicator over the job's GPUs (NCCL; one GPU per rank). Collectives run "
      "on the stream of the communicator's device; Done() says whether they finished.");
  DefInit(c, py::init([](const py::bytes& unique_id, int world_size, int rank,
                         std::shared_ptr<Device> device) {
            std::string id = unique_id;
            py::gil_scoped_release release;  // blocks until every rank has joined
            return std::make_shared<NcclCommunicator>(id, world_size, rank, std::move(device));
          }),
          py::arg("unique_id"), py::arg("world_size"), py::arg("rank"), py::arg("device"));
  DefHostStatic(c, "NewUniqueId", [] { return py::bytes(NcclCommunicator::NewUniqueId()); },
                "A fresh 128-byte NCCL unique id (make it on one rank, send it to the others).");
  DefHostStatic(c, "Version", &NcclCommunicator::Version,
                "The loaded NCCL's version code (e.g. 23203 for 2.32.3); loads libnccl.so.2.");
  DefHost(c, "rank", &NcclCommunicator::rank);
  DefHost(c, "world_size", &NcclCommunicator::world_size);
  DefHost(c, "device", &NcclCommunicator::device);
  DefHost(c, "aborted", &NcclCommunicator::aborted);
  DefNotReplayable(c, "AllReduce", [](NcclCommunicator& self, const Tensor& t) {
    self.AllReduce(t);
  }, kWhy, py::arg("t"), NoGIL(), "Sums t over the ranks, in place.");
  DefNotReplayable(c, "Broadcast", [](NcclCommunicator& self, const Tensor& t, int root) {
    self.Broadcast(t, root);
  }, kWhy, py::arg("t"), py::arg("root") = 0, NoGIL(), "Overwrites t with rank root's values.");
  DefNotReplayable(c, "AllGather", [](NcclCommunicator& self, const Tensor& send,
                                      const Tensor& recv) { self.AllGather(send, recv); },
                   kWhy, py::arg("send"), py::arg("recv"), NoGIL(),
                   "recv (world_size * send.Size() elements) gets every rank's send, in rank order.");
  DefNotReplayable(c, "ReduceScatter", [](NcclCommunicator& self, const Tensor& send,
                                          const Tensor& recv) { self.ReduceScatter(send, recv); },
                   kWhy, py::arg("send"), py::arg("recv"), NoGIL(),
                   "recv (send.Size() / world_size elements) gets this rank's slot of the sum.");
  DefHost(c, "Done", [](NcclCommunicator& self) { return self.Done(); },
          "Whether every queued collective has finished; raises when NCCL reported an "
          "asynchronous error (the communicator is then aborted).");
  DefHost(c, "Abort", [](NcclCommunicator& self) { self.Abort(); }, NoGIL(),
          "Ends the communicator now, abandoning queued collectives.");
}

}  // namespace singa

#endif  // USE_CUDA
