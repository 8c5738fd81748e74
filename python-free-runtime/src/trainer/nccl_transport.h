//===- nccl_transport.h - stage-to-stage traffic over NCCL ------*- C++ -*-===//
//
// Activations and gradients between stages on different GPUs travel as
// ncclSend/ncclRecv; what they are (the micro-batch, the shapes) travels
// ahead as a small header through the inner transport (the in-process
// queues, or MPI between processes). Stages on the same GPU hand their
// device tensors over through the inner transport itself.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_TRAINER_NCCL_TRANSPORT_H
#define GPIPE_RUNTIME_TRAINER_NCCL_TRANSPORT_H

#include "gpipe/runtime/gp_pipeline.h"

#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gp {

struct NcclOptions {
  /// How long a receive may wait for its peer before every rank stops.
  double timeoutSeconds = 600;
};

/// Wraps `inner` for the stage pairs `edges` (producer, consumer: one
/// channel each way). `localStages` run in this process, stage s on GPU
/// `deviceOf(s)`. Sets the channels up at once (one NCCL communicator per
/// channel that crosses GPUs, its unique id sent over `inner` when the
/// peer is in another process); nullptr with `error` set on failure.
std::unique_ptr<Transport> makeNcclTransport(std::unique_ptr<Transport> inner,
                                             const std::vector<std::pair<int, int>> &edges,
                                             const std::vector<int> &localStages,
                                             const std::function<int(int)> &deviceOf,
                                             const NcclOptions &options, std::string &error);

} // namespace gp

#endif // GPIPE_RUNTIME_TRAINER_NCCL_TRANSPORT_H
