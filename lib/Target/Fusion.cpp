//===- Fusion.cpp - elementwise fusion and op timing for the emitter ------===//
//
// Which ops of a function the emitter computes in one loop (or, for CUDA,
// one generated kernel or one cuBLASLt call with an epilogue), and which ops
// a program built with op timing times, in which phase.
//
//===----------------------------------------------------------------------===//

#include "Emitter.h"

#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/TypeSwitch.h"
#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::gpipe;

namespace mlir::gpipe::emitter {
//===----------------------------------------------------------------------===//
// Elementwise fusion
//===----------------------------------------------------------------------===//

std::optional<std::string> fusedExpr(Operation *op, StringRef a, StringRef b, StringRef c) {
  auto f = [&](const char *fmt) {
    return std::optional<std::string>(llvm::formatv(fmt, a, b, c));
  };
  return llvm::TypeSwitch<Operation *, std::optional<std::string>>(op)
      .Case([&](NegOp) { return f("-{0}"); })
      .Case([&](AbsOp) { return f("{0} < 0.0f ? -{0} : {0}"); })
      .Case([&](SqrtOp) { return f("std::sqrt({0})"); })
      .Case([&](ExpOp) { return f("std::exp({0})"); })
      .Case([&](LogOp) { return f("std::log({0})"); })
      .Case([&](ReciprocalOp) { return f("1.0f / {0}"); })
      .Case([&](ErfOp) { return f("std::erf({0})"); })
      .Case([&](TanhOp) { return f("std::tanh({0})"); })
      .Case([&](SigmoidOp) {
        return f("{0} >= 0.0f ? 1.0f / (1.0f + std::exp(-{0})) : std::exp({0}) / (1.0f + "
                 "std::exp({0}))");
      })
      .Case([&](ReluOp) { return f("{0} > 0.0f ? {0} : 0.0f"); })
      .Case([&](FloorOp) { return f("std::floor({0})"); })
      .Case([&](CeilOp) { return f("std::ceil({0})"); })
      .Case([&](SinOp) { return f("std::sin({0})"); })
      .Case([&](CosOp) { return f("std::cos({0})"); })
      .Case([&](LeakyReluOp o) {
        return std::optional<std::string>(llvm::formatv(
            "{0} >= 0.0f ? {0} : {1} * {0}", a, floatLiteral(o.getAlpha().convertToFloat(), true)));
      })
      .Case([&](AddOp) { return f("{0} + {1}"); })
      .Case([&](SubOp) { return f("{0} - {1}"); })
      .Case([&](MulOp) { return f("{0} * {1}"); })
      .Case([&](DivOp) { return f("{0} / {1}"); })
      .Case([&](MaxOp) { return f("std::isnan({0}) ? {0} : ({0} > {1} ? {0} : {1})"); })
      .Case([&](MinOp) { return f("std::isnan({0}) ? {0} : ({0} < {1} ? {0} : {1})"); })
      // A ReLU's gradient is where(x > 0, dy, 0): one loop, no bool tensor.
      .Case([&](GreaterOp) { return f("{0} > {1}"); })
      .Case([&](GreaterEqualOp) { return f("{0} >= {1}"); })
      .Case([&](LessOp) { return f("{0} < {1}"); })
      .Case([&](LessEqualOp) { return f("{0} <= {1}"); })
      .Case([&](EqualOp) { return f("{0} == {1}"); })
      .Case([&](WhereOp) { return f("{0} ? {1} : {2}"); })
      .Default([](Operation *) { return std::nullopt; });
}

StringRef fusedType(Type type) {
  return cast<RankedTensorType>(type).getElementType().isInteger(1) ? "bool" : "float";
}

bool fusible(Operation *op) {
  if (op->getNumResults() != 1 || op->getNumOperands() < 1 || op->getNumOperands() > 3 ||
      !fusedExpr(op, "a", "b", "c"))
    return false;
  auto type = dyn_cast<RankedTensorType>(op->getResult(0).getType());
  if (!type || !type.hasStaticShape())
    return false;
  bool compare = isa<GreaterOp, GreaterEqualOp, LessOp, LessEqualOp, EqualOp>(op);
  if (!type.getElementType().isF32() && !(compare && type.getElementType().isInteger(1)))
    return false;
  for (auto [i, v] : llvm::enumerate(op->getOperands())) {
    auto t = dyn_cast<RankedTensorType>(v.getType());
    // Where's condition is a bool of the result's shape.
    bool condition = isa<WhereOp>(op) && i == 0;
    if (!t || !t.hasStaticShape() ||
        !(condition ? t.getElementType().isInteger(1) : t.getElementType().isF32()) ||
        (t.getShape() != type.getShape() && (condition || t.getNumElements() != 1)))
      return false;
  }
  return true;
}


std::optional<std::pair<int64_t, int64_t>> arenaRange(Value v) {
  auto result = dyn_cast<OpResult>(v);
  if (!result)
    return std::nullopt;
  // A view's bytes are those of the tensor it views.
  if (result.getOwner()->hasAttr("gpipe.view"))
    return arenaRange(result.getOwner()->getOperand(0));
  auto offsets = result.getOwner()->getAttrOfType<DenseI64ArrayAttr>("gpipe.arena_offsets");
  if (!offsets || static_cast<int64_t>(offsets.size()) <= result.getResultNumber() ||
      offsets[result.getResultNumber()] < 0)
    return std::nullopt;
  auto type = cast<RankedTensorType>(v.getType());
  int64_t begin = offsets[result.getResultNumber()];
  return std::make_pair(begin,
                        begin + type.getNumElements() * ((type.getElementTypeBitWidth() + 7) / 8));
}

DenseMap<Operation *, FusedLoop> planFusion(Block &block, bool cuda) {
  SmallVector<Operation *> ops;
  for (Operation &op : block)
    ops.push_back(&op);
  DenseMap<Operation *, FusedLoop> loops;
  DenseSet<Operation *> taken;
  for (int i = static_cast<int>(ops.size()) - 1; i >= 0; --i) {
    Operation *root = ops[i];
    if (taken.count(root) || !fusible(root))
      continue;
    Type type = root->getResult(0).getType();
    DenseSet<Operation *> members{root};
    SmallVector<Operation *> loopOps{root};
    for (int j = i - 1; j >= 0; --j) {
      Operation *op = ops[j];
      // Constants and parameter reads write no tensor: the loop reaches
      // over them (they are emitted where they are).
      if (isa<ConstantOp, GetParamOp>(op))
        continue;
      Value r = op->getNumResults() == 1 ? op->getResult(0) : Value();
      if (!r || !fusible(op) ||
          cast<RankedTensorType>(r.getType()).getShape() !=
              cast<RankedTensorType>(type).getShape() ||
          !r.hasOneUse() || !members.count(*r.getUsers().begin()))
        break;
      members.insert(op);
      loopOps.push_back(op);
    }
    if (!cast<RankedTensorType>(type).getElementType().isF32())
      continue;
    FusedLoop loop;
    loop.ops.assign(loopOps.rbegin(), loopOps.rend());
    // The loop reads float leaves and writes floats; a bool is made and
    // used inside it. A bool the loop would read (a comparison's result
    // used elsewhere too) starts it later: its earliest ops stay outside.
    auto isBool = [](Value v) {
      return !cast<RankedTensorType>(v.getType()).getElementType().isF32();
    };
    while (true) {
      DenseSet<Operation *> in(loop.ops.begin(), loop.ops.end());
      llvm::SetVector<Value> leaves;
      for (Operation *op : loop.ops)
        for (Value v : op->getOperands())
          if (!v.getDefiningOp() || !in.count(v.getDefiningOp()))
            leaves.insert(v);
      loop.leaves = leaves.takeVector();
      if (loop.ops.size() < 2 || !llvm::any_of(loop.leaves, isBool))
        break;
      loop.ops.erase(loop.ops.begin());
    }
    if (loop.ops.size() < 2 || llvm::any_of(loop.leaves, isBool))
      continue;
    // A result computed into the function's result storage overlaps
    // nothing the function reads.
    bool fresh = returnSlot(root->getResult(0)) >= 0 || storedDirect(root->getResult(0));
    auto out = arenaRange(root->getResult(0));
    bool safe = fresh || out.has_value();
    for (Value leaf : loop.leaves) {
      auto range = arenaRange(leaf);
      if (!safe || fresh || !range || range->first >= out->second || out->first >= range->second)
        continue;
      // The C++ loop reads a single-element leaf once, before it writes;
      // every thread of a CUDA kernel reads it, some after others wrote
      // the output's first elements: there only the element-for-element
      // alias (the same bytes) is safe.
      bool scalar = cast<RankedTensorType>(leaf.getType()).getNumElements() == 1;
      if (cuda ? *range != *out : !scalar && range->first != out->first)
        safe = false;
    }
    if (!safe)
      continue;
    for (Operation *op : loop.ops)
      taken.insert(op);
    loops[root] = std::move(loop);
  }
  return loops;
}

void planGemmRelu(Block &block, DenseMap<Operation *, FusedLoop> &loops,
                  DenseSet<Operation *> &inLoop) {
  for (Operation &op : block) {
    auto gemm = dyn_cast<GemmOp>(&op);
    if (!gemm || !gemm.getResult().hasOneUse() ||
        !cast<RankedTensorType>(gemm.getResult().getType()).getElementType().isF32())
      continue;
    auto relu = dyn_cast<ReluOp>(*gemm.getResult().getUsers().begin());
    if (!relu || inLoop.count(relu) || relu->getBlock() != &block)
      continue;
    // The fused call runs where the relu is and reads the gemm's operands
    // there: nothing but constants and parameter reads may run in between,
    // as the memory plan lets an op after the gemm reuse their bytes.
    bool adjacent = true;
    for (Operation *between = gemm->getNextNode(); between && between != relu.getOperation();
         between = between->getNextNode())
      adjacent &= isa<ConstantOp, GetParamOp>(between);
    if (!adjacent)
      continue;
    bool fresh = returnSlot(relu.getResult()) >= 0 || storedDirect(relu.getResult());
    auto out = arenaRange(relu.getResult());
    bool safe = fresh || out.has_value();
    for (Value v : gemm->getOperands()) {
      auto range = arenaRange(v);
      if (safe && !fresh && range && range->first < out->second && out->first < range->second)
        safe = false;
    }
    if (!safe)
      continue;
    FusedLoop fused;
    fused.ops = {gemm, relu};
    fused.gemmRelu = true;
    loops[relu] = std::move(fused);
    inLoop.insert(gemm);
    inLoop.insert(relu);
  }
}

//===----------------------------------------------------------------------===//
// Op timing
//===----------------------------------------------------------------------===//

bool timedOp(Operation *op) {
  return !isa<ConstantOp, GetParamOp, SetParamOp, func::ReturnOp>(op);
}

DenseSet<Operation *> recomputedOps(func::FuncOp forward, func::FuncOp backward) {
  DenseSet<Operation *> recomputed;
  Block &fwd = forward.getBody().front(), &bwd = backward.getBody().front();
  // image[v]: the value of the forward that backward value v equals.
  DenseMap<Value, Value> image;
  for (unsigned i = 0; i < forward.getNumArguments() && i < backward.getNumArguments(); ++i) {
    Attribute source = forward.getArgAttr(i, "gpipe.source");
    if (source && source == backward.getArgAttr(i, "gpipe.source"))
      image[bwd.getArgument(i)] = fwd.getArgument(i);
  }
  Operation *ret = fwd.getTerminator();
  for (unsigned r = 0; r < forward.getNumResults(); ++r)
    if (auto kept = forward.getResultAttrOfType<IntegerAttr>(r, "gpipe.kept"))
      for (unsigned i = 0; i < backward.getNumArguments(); ++i)
        if (auto k = backward.getArgAttrOfType<IntegerAttr>(i, "gpipe.kept");
            k && k.getInt() == kept.getInt())
          image[bwd.getArgument(i)] = ret->getOperand(r);
  DenseMap<Operation *, DictionaryAttr> attrs;
  auto attrsOf = [&](Operation *op) {
    auto [it, inserted] = attrs.try_emplace(op);
    if (inserted) {
      NamedAttrList list(op->getAttrDictionary());
      list.erase("gpipe.arena_offsets");
      list.erase("gpipe.view");
      list.erase("gpipe.returned");
      list.erase("gpipe.stored");
      it->second = list.getDictionary(op->getContext());
    }
    return it->second;
  };
  DenseMap<OperationName, SmallVector<Operation *>> byName;
  for (Operation &op : fwd.without_terminator())
    byName[op.getName()].push_back(&op);
  for (Operation &op : bwd.without_terminator()) {
    SmallVector<Value> operands;
    for (Value v : op.getOperands())
      operands.push_back(image.lookup(v));
    if (llvm::is_contained(operands, Value()))
      continue;
    auto it = byName.find(op.getName());
    if (it == byName.end())
      continue;
    for (Operation *candidate : it->second) {
      if (!llvm::equal(candidate->getOperands(), operands) ||
          !llvm::equal(candidate->getResultTypes(), op.getResultTypes()) ||
          attrsOf(candidate) != attrsOf(&op))
        continue;
      for (auto [b, f] : llvm::zip(op.getResults(), candidate->getResults()))
        image[b] = f;
      recomputed.insert(&op);
      break;
    }
  }
  return recomputed;
}

} // namespace mlir::gpipe::emitter
