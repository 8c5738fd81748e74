//===- CostModel.cpp - per-op time and memory on a device -----------------===//

#include "gpipe/Transforms/CostModel.h"
#include "gpipe/Dialect/GPipeOps.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/BuiltinOps.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/JSON.h"
#include "llvm/Support/MemoryBuffer.h"

using namespace mlir;
using namespace mlir::gpipe;

//===----------------------------------------------------------------------===//
// Devices
//===----------------------------------------------------------------------===//

bool DeviceSpec::load(StringRef path, DeviceSpec &out, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = "cannot open device file '" + path.str() + "': " + buffer.getError().message();
    return false;
  }
  auto json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    error = "device file '" + path.str() + "' is not valid JSON: " + llvm::toString(json.takeError());
    return false;
  }
  auto *obj = json->getAsObject();
  auto number = [&](const llvm::json::Object *o, StringRef key, double &v) {
    auto n = o ? o->getNumber(key) : std::nullopt;
    if (!n || *n < 0) {
      error = "device file '" + path.str() + "' needs a non-negative number '" + key.str() + "'";
      return false;
    }
    v = *n;
    return true;
  };
  if (!obj) {
    error = "device file '" + path.str() + "' must hold a JSON object";
    return false;
  }
  out = DeviceSpec();
  out.path = path.str();
  out.name = obj->getString("name").value_or(path).str();
  auto *flops = obj->getObject("peak_flops");
  if (!flops || flops->empty()) {
    error = "device file '" + path.str() + "' needs 'peak_flops' by element type";
    return false;
  }
  for (auto &kv : *flops) {
    auto v = kv.second.getAsNumber();
    if (!v || *v <= 0) {
      error = "device file '" + path.str() + "': peak_flops." + kv.first.str() + " must be positive";
      return false;
    }
    out.peakFlops[kv.first.str()] = *v;
  }
  if (!out.peakFlops.count("f32")) {
    error = "device file '" + path.str() + "' needs peak_flops.f32";
    return false;
  }
  if (!number(obj, "memory_bandwidth", out.memoryBandwidth) ||
      !number(obj, "memory_capacity", out.memoryCapacity) ||
      !number(obj, "kernel_overhead", out.kernelOverhead) ||
      !number(obj->getObject("link"), "bandwidth", out.linkBandwidth) ||
      !number(obj->getObject("link"), "latency", out.linkLatency))
    return false;
  if (out.memoryBandwidth == 0 || out.linkBandwidth == 0 || out.memoryCapacity == 0) {
    error = "device file '" + path.str() + "': bandwidths and capacity must be positive";
    return false;
  }
  return true;
}

double DeviceSpec::peakFor(Type elementType) const {
  std::string key = elementType.isF64()    ? "f64"
                    : elementType.isBF16() ? "bf16"
                    : elementType.isF16()  ? "f16"
                                           : "f32";
  auto it = peakFlops.find(key);
  return it != peakFlops.end() ? it->second : peakFlops.lookup("f32");
}

//===----------------------------------------------------------------------===//
// Counting
//===----------------------------------------------------------------------===//

namespace {
double bytesOf(Type t) {
  auto ranked = dyn_cast<RankedTensorType>(t);
  if (!ranked)
    return 0;
  unsigned bits = ranked.getElementType().getIntOrFloatBitWidth();
  return double(ranked.getNumElements()) * std::max(1u, bits / 8);
}
double elems(Value v) { return double(cast<RankedTensorType>(v.getType()).getNumElements()); }
bool isFloat(Value v) {
  return isa<FloatType>(cast<RankedTensorType>(v.getType()).getElementType());
}

/// Forward FLOPs of one op; the backward pass costs about twice as much for
/// the contractions (a product for each operand) and as much again for the
/// rest.
std::pair<double, double> flopsOf(Operation *op) {
  return llvm::TypeSwitch<Operation *, std::pair<double, double>>(op)
      .Case([](MatMulOp o) {
        auto l = cast<RankedTensorType>(o.getLhs().getType());
        double k = l.getShape().back();
        double f = 2.0 * elems(o.getOutput()) * k;
        return std::pair{f, 2 * f};
      })
      .Case([](GemmOp o) {
        auto a = cast<RankedTensorType>(o.getA().getType());
        double k = a.getDimSize(o.getTransA() ? 0 : 1);
        double f = 2.0 * elems(o.getOutput()) * k + (o.getC() ? elems(o.getOutput()) : 0);
        return std::pair{f, 2 * f};
      })
      .Case([](ConvOp o) {
        auto w = cast<RankedTensorType>(o.getWeight().getType());
        double perOut = double(w.getDimSize(1)) * w.getDimSize(2) * w.getDimSize(3);
        double f = 2.0 * elems(o.getOutput()) * perOut;
        return std::pair{f, 2 * f};
      })
      .Case<MaxPoolOp, AvgPoolOp>([](Operation *p) {
        ArrayRef<int64_t> k = p->getAttrOfType<DenseI64ArrayAttr>("kernel").asArrayRef();
        double f = elems(p->getResult(0)) * k[0] * k[1];
        return std::pair{f, f};
      })
      .Case<BatchNormOp, BatchNormTrainOp, LayerNormOp, SoftmaxOp, LogSoftmaxOp,
            SoftmaxCrossEntropyOp, NllLossOp>([](Operation *p) {
        double f = 5.0 * elems(p->getOperand(0));
        return std::pair{f, 2 * f};
      })
      .Default([](Operation *p) {
        double f = 0;
        for (Value r : p->getResults())
          f += elems(r);
        for (Value v : p->getOperands())
          f = std::max(f, elems(v));
        // Data movement does no arithmetic.
        if (isa<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp, TransposeOp, ConcatOp, SplitOp,
                SliceOp, ExpandOp, GatherOp, CastOp>(p))
          f = 0;
        return std::pair{f, f};
      });
}
} // namespace

CostModel::CostModel(Operation *root) {
  func::FuncOp func = dyn_cast<func::FuncOp>(root);
  if (!func)
    if (auto module = dyn_cast<ModuleOp>(root)) {
      auto funcs = module.getOps<func::FuncOp>();
      if (!funcs.empty())
        func = *funcs.begin();
    }
  if (!func || func.getBody().empty())
    return;
  llvm::DenseSet<Value> paramSeen;
  for (Operation &op : func.getBody().front()) {
    if (isa<GetParamOp, ConstantOp, SetParamOp>(op) || op.hasTrait<OpTrait::IsTerminator>())
      continue;
    OpCost c;
    auto [fwd, bwd] = flopsOf(&op);
    c.forwardFlops = fwd;
    c.backwardFlops = bwd;
    for (Value v : op.getOperands()) {
      c.bytesRead += bytesOf(v.getType());
      if (auto get = v.getDefiningOp<GetParamOp>())
        if (paramSeen.insert(v).second && isFloat(v))
          c.paramBytes += bytesOf(v.getType());
    }
    for (Value r : op.getResults()) {
      c.bytesWritten += bytesOf(r.getType());
      if (isFloat(r))
        c.activationBytes += bytesOf(r.getType());
    }
    costs[&op] = c;
    order.push_back(&op);
  }
  setOptimizerStateFactor(optimizerFactor);
}

void CostModel::setOptimizerStateFactor(double factor) {
  optimizerFactor = factor;
  for (auto &entry : costs)
    entry.second.optimizerBytes = entry.second.paramBytes * factor;
}

void CostModel::setDevice(const DeviceSpec &device) {
  for (Operation *op : order) {
    OpCost &c = costs[op];
    // Read parameters, gradients and state; write parameters and state.
    c.updateTime = c.paramBytes > 0 ? (2 * c.paramBytes + 2 * c.optimizerBytes) /
                                              device.memoryBandwidth +
                                          device.kernelOverhead
                                    : 0.0;
    if (c.measured)
      continue;
    Type elt = op->getNumResults() ? cast<RankedTensorType>(op->getResult(0).getType()).getElementType()
                                   : Type();
    double peak = elt && isa<FloatType>(elt) ? device.peakFor(elt) : device.peakFlops.lookup("f32");
    double bytes = c.bytesRead + c.bytesWritten;
    c.forwardTime = std::max(c.forwardFlops / peak, bytes / device.memoryBandwidth) +
                    device.kernelOverhead;
    // The backward pass reads the forward's operands and gradients and
    // writes a gradient per operand: about twice the traffic.
    c.backwardTime = std::max(c.backwardFlops / peak, 2 * bytes / device.memoryBandwidth) +
                     device.kernelOverhead;
  }
}

bool CostModel::loadProfile(StringRef path, std::string &error) {
  auto buffer = llvm::MemoryBuffer::getFile(path);
  if (!buffer) {
    error = "cannot open profile '" + path.str() + "': " + buffer.getError().message();
    return false;
  }
  auto json = llvm::json::parse((*buffer)->getBuffer());
  if (!json) {
    error = "profile '" + path.str() + "' is not valid JSON: " + llvm::toString(json.takeError());
    return false;
  }
  auto *obj = json->getAsObject();
  auto *list = obj ? obj->getArray("ops") : nullptr;
  if (!list) {
    error = "profile '" + path.str() + "' needs an 'ops' array";
    return false;
  }
  // A node may be several ops: its measured time goes to the first, the
  // others count nothing (the runtime's profile sums them).
  llvm::StringMap<SmallVector<Operation *, 1>> byName;
  for (Operation *op : order)
    byName[nodeName(op)].push_back(op);
  for (auto &entry : *list) {
    auto *e = entry.getAsObject();
    auto name = e ? e->getString("name") : std::nullopt;
    auto fwd = e ? e->getNumber("forward_ms") : std::nullopt;
    if (!name || !fwd || *fwd < 0) {
      error = "profile '" + path.str() + "': each op needs a 'name' and a non-negative 'forward_ms'";
      return false;
    }
    auto it = byName.find(*name);
    if (it == byName.end()) {
      error = "profile '" + path.str() + "' names no op of the model: '" + name->str() + "'";
      return false;
    }
    for (auto [i, op] : llvm::enumerate(it->second)) {
      OpCost &c = costs[op];
      c.forwardTime = i == 0 ? *fwd * 1e-3 : 0.0;
      c.backwardTime = i == 0 ? e->getNumber("backward_ms").value_or(2 * *fwd) * 1e-3 : 0.0;
      c.measured = true;
    }
  }
  return true;
}

std::string CostModel::nodeName(Operation *op) {
  Location loc = op->getLoc();
  if (auto fused = dyn_cast<FusedLoc>(loc))
    if (!fused.getLocations().empty())
      loc = fused.getLocations().front();
  if (auto name = dyn_cast<NameLoc>(loc))
    return name.getName().str();
  return op->getName().getStringRef().str();
}

std::string CostModel::layerOf(Operation *op) {
  std::string name = nodeName(op);
  size_t slash = name.rfind('/');
  if (slash == std::string::npos || slash == 0)
    return name;
  return name.substr(0, slash);
}
