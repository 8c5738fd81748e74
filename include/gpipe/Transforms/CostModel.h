//===- CostModel.h - per-op time and memory on a device ---------*- C++ -*-===//
//
// An MLIR analysis: for every op of a function, its forward and backward
// FLOPs, the bytes it reads and writes, the activations it produces, the
// parameter and optimizer-state bytes it owns, and a roofline time on a
// described device. Measured times (a profile) replace the estimates.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_TRANSFORMS_COSTMODEL_H
#define GPIPE_TRANSFORMS_COSTMODEL_H

#include "mlir/IR/Operation.h"
#include "llvm/ADT/DenseMap.h"
#include "llvm/ADT/StringMap.h"

#include <string>
#include <vector>

namespace mlir::gpipe {

/// A device as described by a JSON file (devices/*.json).
struct DeviceSpec {
  std::string name, path;
  /// Peak FLOP/s by element type name ("f32", "f64", "bf16", "f16", "tf32").
  llvm::StringMap<double> peakFlops;
  double memoryBandwidth = 0, memoryCapacity = 0, kernelOverhead = 0;
  double linkBandwidth = 0, linkLatency = 0;

  /// Reads and checks a device file; fails with a one-line reason.
  static bool load(llvm::StringRef path, DeviceSpec &out, std::string &error);
  /// Peak FLOP/s for arithmetic on `elementType` (f32 when unknown).
  double peakFor(Type elementType) const;
  /// Seconds to send `bytes` to a peer (0 for nothing).
  double transferTime(double bytes) const {
    return bytes > 0 ? linkLatency + bytes / linkBandwidth : 0.0;
  }
};

struct OpCost {
  double forwardFlops = 0, backwardFlops = 0;
  double bytesRead = 0, bytesWritten = 0;
  /// Float results a backward pass needs (kept or recomputed).
  double activationBytes = 0;
  /// Parameters the op reads first (each parameter counts once), and their
  /// gradient plus optimizer state.
  double paramBytes = 0, optimizerBytes = 0;
  /// Seconds on the device: estimated (roofline) or measured; and the
  /// optimizer's update of the op's parameters (a pass over the parameters,
  /// their gradients and optimizer state).
  double forwardTime = 0, backwardTime = 0, updateTime = 0;
  bool measured = false;
};

class CostModel {
public:
  /// Device-independent counts for the ops of `op` (a function, or the
  /// first function of a module). Times need setDevice().
  explicit CostModel(Operation *op);

  /// Computes roofline times: max(flops / peak, bytes / bandwidth) plus the
  /// kernel overhead; measured times stay.
  void setDevice(const DeviceSpec &device);
  /// Bytes of gradient and optimizer state per parameter byte (sgd 1,
  /// momentum 2, adam/adamw 3).
  void setOptimizerStateFactor(double factor);
  /// Replaces estimates with measured times: a JSON file
  /// {"ops": [{"name": NODE, "forward_ms": T, "backward_ms": T}, ...]}.
  bool loadProfile(llvm::StringRef path, std::string &error);

  /// The costed ops, in program order (not get_param/constant/return).
  llvm::ArrayRef<Operation *> ops() const { return order; }
  const OpCost &get(Operation *op) const { return costs.find(op)->second; }

  /// The op's ONNX node name (its NameLoc), or its op name.
  static std::string nodeName(Operation *op);
  /// The layer an op belongs to: its node name up to the last '/'.
  static std::string layerOf(Operation *op);

private:
  std::vector<Operation *> order;
  llvm::DenseMap<Operation *, OpCost> costs;
  llvm::DenseMap<Operation *, double> paramOf;
  double optimizerFactor = 3.0;
};

} // namespace mlir::gpipe

#endif // GPIPE_TRANSFORMS_COSTMODEL_H
