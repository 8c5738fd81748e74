//===- mpi.h - one stage per MPI rank ---------------------------*- C++ -*-===//
//
// `mpirun -np K ./trainer ...` runs stage r on rank r: activations and
// gradients travel as MPI point-to-point messages (an MpiTransport for the
// pipeline engine), and after each mini-batch the ranks send rank 0 their
// parameter gradients, the state their stage stored and (the last stage)
// the losses; rank 0 runs the update and sends every rank what it stored.
// Every MPI call's status is checked; a failure names the stage and the
// call and ends every rank (MPI_Abort), never a silent hang.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_TRAINER_MPI_H
#define GPIPE_RUNTIME_TRAINER_MPI_H

#include "gpipe/runtime/gp_pipeline.h"

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace gp {

/// Tensors tagged with an integer (a parameter index, an output index).
using TaggedTensors = std::vector<std::pair<int64_t, Tensor>>;

class Mpi {
public:
  /// Whether the trainer was built with MPI and started by mpirun.
  static bool launched();
  /// MPI_Init_thread (serialized calls from the stage and main threads).
  bool init(int &argc, char **&argv, std::string &error);
  ~Mpi();

  int rank() const { return rankValue; }
  int size() const { return sizeValue; }
  std::unique_ptr<Transport> transport();
  /// This rank's index among the ranks on its node (MPI_COMM_TYPE_SHARED).
  int localRank() const;
  bool sendTensors(int to, int tag, const TaggedTensors &tensors, std::string &error);
  bool recvTensors(int from, int tag, TaggedTensors &tensors, std::string &error);
  /// Ends every rank.
  [[noreturn]] void abort();

private:
  bool initialized = false;
  int rankValue = 0, sizeValue = 1;
};

} // namespace gp

#endif
