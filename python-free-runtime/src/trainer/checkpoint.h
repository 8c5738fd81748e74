//===- checkpoint.h - the trainer's state on disk ---------------*- C++ -*-===//
//
// A checkpoint holds everything a run needs to continue as if it had not
// stopped: every parameter and optimizer-state value, the step, the
// position in the data and the shuffle's random state. It is one file,
// DIR/checkpoint.bin, written to a temporary file and renamed into place,
// so a run killed while writing leaves the previous checkpoint intact.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_RUNTIME_TRAINER_CHECKPOINT_H
#define GPIPE_RUNTIME_TRAINER_CHECKPOINT_H

#include "gpipe/runtime/gp_program.h"

#include <string>
#include <vector>

namespace gp {

struct Checkpoint {
  long long step = 0;
  int64_t cursor = 0;
  std::vector<int64_t> order;
  std::string rngState;
  /// One per program parameter; empty for one never loaded.
  std::vector<Tensor> values;
};

/// Writes `ckpt` for `program` to DIR/checkpoint.bin (DIR is created).
bool writeCheckpoint(const std::string &dir, const Program &program, const Checkpoint &ckpt,
                     std::string &error);
/// Reads DIR/checkpoint.bin, checking it was written for `program`.
bool readCheckpoint(const std::string &dir, const Program &program, Checkpoint &ckpt,
                    std::string &error);

} // namespace gp

#endif
