//===- PlanMemory.cpp - the gpipe-plan-memory pass ------------------------===//
//
// Static memory planning: every tensor a function computes gets a byte
// offset in one arena, shared with tensors whose lifetimes do not overlap.
// The emitted program allocates each function's arena once and never calls
// an allocator per op.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/ReportUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "llvm/Support/FormatVariadic.h"

#include <algorithm>

namespace mlir::gpipe {
#define GEN_PASS_DEF_PLANMEMORY
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {

constexpr StringLiteral kPass = "gpipe-plan-memory";
constexpr StringLiteral kOffsetsAttr = "gpipe.arena_offsets";
constexpr StringLiteral kViewAttr = "gpipe.view";
constexpr StringLiteral kReturnedAttr = "gpipe.returned";
constexpr StringLiteral kStoredAttr = "gpipe.stored";

/// Ops whose result holds the operand's elements in the same order: only
/// the shape differs, so the result can be the operand's bytes.
bool isViewOp(Operation *op) {
  if (!isa<ReshapeOp, FlattenOp, SqueezeOp, UnsqueezeOp>(op) || op->getNumResults() != 1 ||
      op->getNumOperands() < 1)
    return false;
  auto in = dyn_cast<RankedTensorType>(op->getOperand(0).getType());
  auto out = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  return in && out && in.hasStaticShape() && out.hasStaticShape() &&
         in.getElementType() == out.getElementType() &&
         in.getNumElements() == out.getNumElements();
}

/// A tensor to place: its bytes (rounded up to the alignment) and the op
/// indices where it is first and last alive.
struct Buffer {
  Value value;
  int64_t bytes, first, last;
  int64_t offset = -1;
};

bool overlapsInTime(const Buffer &a, const Buffer &b) {
  return a.first <= b.last && b.first <= a.last;
}

struct Plan {
  int64_t arenaBytes = 0, allLiveBytes = 0, peakLiveBytes = 0, tensors = 0;
};

class PlanMemoryPass : public gpipe::impl::PlanMemoryBase<PlanMemoryPass> {
public:
  using PlanMemoryBase::PlanMemoryBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    if (alignment < 1 || (alignment & (alignment - 1)) != 0) {
      module.emitError(kPass) << ": alignment must be a power of two, got "
                              << static_cast<int64_t>(alignment);
      return signalPassFailure();
    }
    SmallVector<func::FuncOp> funcs;
    if (functions.empty()) {
      for (auto fn : module.getOps<func::FuncOp>())
        if (!fn.isDeclaration())
          funcs.push_back(fn);
    } else {
      for (const std::string &name : functions) {
        auto fn = module.lookupSymbol<func::FuncOp>(name);
        if (!fn || fn.isDeclaration()) {
          module.emitError(kPass) << ": no function @" << name << " with a body";
          return signalPassFailure();
        }
        funcs.push_back(fn);
      }
    }
    std::vector<std::pair<std::string, Plan>> plans;
    for (func::FuncOp fn : funcs) {
      FailureOr<Plan> plan = planFunction(fn);
      if (failed(plan))
        return signalPassFailure();
      plans.emplace_back(fn.getSymName().str(), *plan);
    }
    if (!report.empty()) {
      auto os = openReport(report, module);
      if (!os)
        return signalPassFailure();
      *os << llvm::formatv("{0,-40} {1,8} {2,14} {3,14} {4,7} {5,14}\n", "function", "tensors",
                           "arena bytes", "all alive", "ratio", "peak alive");
      for (auto &[name, p] : plans)
        *os << llvm::formatv("{0,-40} {1,8} {2,14} {3,14} {4,7:f3} {5,14}\n", name, p.tensors,
                             p.arenaBytes, p.allLiveBytes,
                             p.allLiveBytes ? double(p.arenaBytes) / p.allLiveBytes : 0.0,
                             p.peakLiveBytes);
    }
  }

private:
  FailureOr<Plan> planFunction(func::FuncOp fn) {
    if (!fn.getBody().hasOneBlock())
      return fn.emitError(kPass) << ": @" << fn.getSymName() << " has more than one block";
    Block &body = fn.getBody().front();
    DenseMap<Operation *, int64_t> index;
    int64_t n = 0;
    for (Operation &op : body) {
      if (op.getNumRegions() != 0)
        return op.emitError(kPass) << ": ops with regions cannot be planned";
      index[&op] = n++;
    }
    // The op index of a value's last use; a view's uses count for its root.
    auto lastUse = [&](Value v, int64_t from) {
      int64_t last = from;
      for (Operation *user : v.getUsers())
        last = std::max(last, index.lookup(body.findAncestorOpInBlock(*user)));
      return last;
    };
    std::vector<Buffer> buffers;
    DenseMap<Value, size_t> bufferOf;
    // Views: a reshape-like op reads its operand's bytes under another
    // shape. Its root is the arena tensor or function argument the bytes
    // belong to; a parameter read's or constant's bytes are not the
    // function's to alias (a store may replace them).
    DenseMap<Value, Value> rootOf;
    // With `results`, a tensor the function returns is computed where the
    // caller's result lives: the first return slot of each returned value.
    DenseMap<Value, int64_t> slotOf;
    if (results)
      for (auto [i, v] : llvm::enumerate(body.getTerminator()->getOperands()))
        slotOf.try_emplace(v, static_cast<int64_t>(i));
    DenseSet<Value> direct;
    // With `results`, a value whose last use is the one set_param that
    // stores it is computed into a tensor of its own, which the table takes.
    auto storedByItsLastUse = [&](Value r) {
      SetParamOp store;
      for (Operation *user : r.getUsers())
        if (auto s = dyn_cast<SetParamOp>(user)) {
          if (store || s->getBlock() != &body)
            return false;
          store = s;
        }
      if (!store)
        return false;
      for (Operation *user : r.getUsers())
        if (index.lookup(body.findAncestorOpInBlock(*user)) > index.lookup(store))
          return false;
      return true;
    };
    for (Operation &op : body) {
      op.removeAttr(kViewAttr);
      op.removeAttr(kReturnedAttr);
      op.removeAttr(kStoredAttr);
      if (isa<GetParamOp>(op) || op.hasTrait<OpTrait::ConstantLike>())
        continue;
      if (views && isViewOp(&op)) {
        Value source = op.getOperand(0);
        Value root = rootOf.lookup(source);
        if (!root)
          root = source;
        if (isa<BlockArgument>(root) || bufferOf.count(root) || direct.count(root)) {
          op.removeAttr(kOffsetsAttr);
          op.setAttr(kViewAttr, UnitAttr::get(op.getContext()));
          rootOf[op.getResult(0)] = root;
          continue;
        }
      }
      SmallVector<int64_t> slots;
      for (Value r : op.getResults()) {
        auto it = slotOf.find(r);
        slots.push_back(it == slotOf.end() ? -1 : it->second);
        if (it != slotOf.end())
          direct.insert(r);
      }
      if (llvm::any_of(slots, [](int64_t s) { return s >= 0; }))
        op.setAttr(kReturnedAttr, DenseI64ArrayAttr::get(op.getContext(), slots));
      SmallVector<bool> stored;
      DenseSet<Value> storedHere;
      for (Value r : op.getResults()) {
        bool s = results && !direct.count(r) && storedByItsLastUse(r);
        stored.push_back(s);
        if (s)
          storedHere.insert(r);
      }
      if (!storedHere.empty())
        op.setAttr(kStoredAttr, DenseBoolArrayAttr::get(op.getContext(), stored));
      for (Value r : op.getResults()) {
        if (direct.count(r) || storedHere.count(r))
          continue;
        auto type = dyn_cast<RankedTensorType>(r.getType());
        if (!type)
          continue;
        if (!type.hasStaticShape())
          return op.emitError(kPass) << ": result type " << type << " has no static shape";
        int64_t elementBytes = std::max<int64_t>(1, (type.getElementTypeBitWidth() + 7) / 8);
        int64_t bytes = std::max<int64_t>(1, type.getNumElements() * elementBytes);
        bytes = (bytes + alignment - 1) / alignment * alignment;
        bufferOf[r] = buffers.size();
        buffers.push_back({r, bytes, index[&op], lastUse(r, index[&op])});
      }
    }
    // A tensor lives until the last use of any view of it.
    for (auto &[view, root] : rootOf)
      if (auto it = bufferOf.find(root); it != bufferOf.end())
        buffers[it->second].last = std::max(buffers[it->second].last, lastUse(view, 0));
    Plan plan;
    plan.tensors = buffers.size();
    // Largest first; each at the lowest free offset among the tensors
    // already placed that are alive at the same time.
    std::vector<size_t> order(buffers.size());
    for (size_t i = 0; i < order.size(); ++i)
      order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return buffers[a].bytes != buffers[b].bytes ? buffers[a].bytes > buffers[b].bytes
                                                  : buffers[a].first < buffers[b].first;
    });
    std::vector<size_t> placed;
    for (size_t i : order) {
      Buffer &buf = buffers[i];
      std::vector<std::pair<int64_t, int64_t>> taken;
      for (size_t j : placed)
        if (overlapsInTime(buf, buffers[j]))
          taken.emplace_back(buffers[j].offset, buffers[j].offset + buffers[j].bytes);
      std::sort(taken.begin(), taken.end());
      int64_t offset = 0;
      for (auto [begin, end] : taken) {
        if (begin >= offset + buf.bytes)
          break;
        offset = std::max(offset, end);
      }
      buf.offset = offset;
      placed.push_back(i);
      plan.arenaBytes = std::max(plan.arenaBytes, offset + buf.bytes);
      plan.allLiveBytes += buf.bytes;
    }
    // The plan must never give one byte to two tensors alive at once.
    for (size_t a = 0; a < buffers.size(); ++a)
      for (size_t b = a + 1; b < buffers.size(); ++b)
        if (overlapsInTime(buffers[a], buffers[b]) &&
            buffers[a].offset < buffers[b].offset + buffers[b].bytes &&
            buffers[b].offset < buffers[a].offset + buffers[a].bytes)
          return fn.emitError(kPass) << ": internal error: two live tensors overlap in the arena";
    // The most bytes alive at one op: a lower bound for any plan.
    std::vector<int64_t> delta(n + 1, 0);
    for (const Buffer &b : buffers) {
      delta[b.first] += b.bytes;
      delta[b.last + 1] -= b.bytes;
    }
    int64_t live = 0;
    for (int64_t t = 0; t < n; ++t)
      plan.peakLiveBytes = std::max(plan.peakLiveBytes, live += delta[t]);

    Builder builder(fn.getContext());
    DenseMap<Value, int64_t> offsetOf;
    for (const Buffer &b : buffers)
      offsetOf[b.value] = b.offset;
    for (Operation &op : body) {
      if (op.getNumResults() == 0)
        continue;
      SmallVector<int64_t> offsets;
      bool any = false;
      for (Value r : op.getResults()) {
        auto it = offsetOf.find(r);
        offsets.push_back(it == offsetOf.end() ? -1 : it->second);
        any |= it != offsetOf.end();
      }
      if (any)
        op.setAttr(kOffsetsAttr, builder.getDenseI64ArrayAttr(offsets));
    }
    fn->setAttr("gpipe.arena_bytes", builder.getI64IntegerAttr(plan.arenaBytes));
    fn->setAttr("gpipe.all_live_bytes", builder.getI64IntegerAttr(plan.allLiveBytes));
    fn->setAttr("gpipe.peak_live_bytes", builder.getI64IntegerAttr(plan.peakLiveBytes));
    return plan;
  }
};

} // namespace
