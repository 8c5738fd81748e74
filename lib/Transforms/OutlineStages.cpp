//===- OutlineStages.cpp - one forward and one backward function per stage ===//
//
// The first phase of pipelining: a partitioned function (every op carries
// `gpipe.stage`) becomes, per stage, a forward function from the values the
// stage reads to the values later stages (or the return) read, and a
// backward function that recomputes that forward from the same inputs and
// returns the vector-Jacobian product: the gradients of its inputs from
// earlier stages and of its parameters, given the gradients of its outputs.
// The stage functions are what a pipeline schedule calls per micro-batch.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Dialect/GradientBuilder.h"
#include "gpipe/Transforms/Autodiff.h"
#include "gpipe/Transforms/OutlineStages.h"
#include "gpipe/Transforms/Passes.h"
#include "gpipe/Transforms/ReportUtils.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/MapVector.h"
#include "llvm/ADT/SetVector.h"

namespace mlir::gpipe {
#define GEN_PASS_DEF_OUTLINESTAGES
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {

constexpr StringLiteral kPass = "gpipe-outline-stages";
/// Marks a recomputed op in a backward while it is built: the index of the
/// forward op it is a copy of.
constexpr StringLiteral kCopyOf = "gpipe.copy_of";

bool isFloatTensor(Value v) {
  auto t = dyn_cast<RankedTensorType>(v.getType());
  return t && isa<FloatType>(t.getElementType());
}

} // namespace

FailureOr<std::unique_ptr<StageOutliner>>
StageOutliner::analyze(ModuleOp module, func::FuncOp func, int64_t numStages, StringRef pass) {
  std::unique_ptr<StageOutliner> self(new StageOutliner(module, func));
  self->pass = pass.str();
  Block &body = func.getBody().front();
  auto ret = cast<func::ReturnOp>(body.getTerminator());
  DenseMap<Value, int64_t> &stageOf = self->stageOf;
  SmallVector<StagePlan> &plans = self->plans;

  // The stage of every value: arguments -1, results their op's stage.
  for (BlockArgument arg : body.getArguments())
    stageOf[arg] = -1;
  plans.resize(numStages);
  for (Operation &op : body.without_terminator()) {
    auto attr = op.getAttrOfType<IntegerAttr>("gpipe.stage");
    if (!attr || attr.getInt() < 0 || attr.getInt() >= numStages)
      return op.emitError() << pass << ": op has no stage in [0, " << numStages
                            << "); run gpipe-partition on this function";
    int64_t s = attr.getInt();
    if (op.getNumRegions() != 0)
      return op.emitError() << pass << ": ops with regions cannot be outlined";
    for (Value operand : op.getOperands()) {
      int64_t from = stageOf.lookup(operand);
      if (from > s)
        return op.emitError() << pass << ": stage " << s << " reads a value of stage " << from
                              << "; stages must follow the program order";
      if (from != s)
        plans[s].inputs.insert(operand);
    }
    for (Value r : op.getResults())
      stageOf[r] = s;
    plans[s].ops.push_back(&op);
  }
  // Outputs: values read by a later stage or returned, in program order.
  for (StagePlan &plan : plans)
    for (Operation *op : plan.ops)
      for (Value r : op->getResults()) {
        int64_t s = stageOf[r];
        bool leaves = llvm::any_of(r.getUsers(), [&](Operation *user) {
          auto userStage = user->getAttrOfType<IntegerAttr>("gpipe.stage");
          return user == ret || (userStage && userStage.getInt() > s);
        });
        if (leaves)
          plan.outputs.insert(r);
      }

  // Which parameters get gradients: the trainable ones if the module marks
  // any, else every float parameter.
  bool anyTrainable = false;
  module.walk([&](ParamOp p) { anyTrainable |= p.getTrainable(); });
  self->onlyTrainable = anyTrainable;
  return self;
}

SmallVector<Attribute> StageOutliner::inputAttrs(const StagePlan &plan) {
  Builder b(func.getContext());
  SmallVector<Attribute> attrs;
  for (Value in : plan.inputs) {
    int64_t from = stageOf.lookup(in);
    int64_t index = from < 0 ? cast<BlockArgument>(in).getArgNumber()
                             : llvm::find(plans[from].outputs, in) - plans[from].outputs.begin();
    SmallVector<NamedAttribute> named{
        b.getNamedAttr("gpipe.source", b.getDenseI64ArrayAttr({from, index}))};
    if (from < 0)
      if (auto name = func.getArgAttrOfType<StringAttr>(index, "gpipe.name"))
        named.push_back(b.getNamedAttr("gpipe.name", name));
    attrs.push_back(b.getDictionaryAttr(named));
  }
  return attrs;
}

SmallVector<Operation *> StageOutliner::cloneStage(OpBuilder &builder, const StagePlan &plan,
                                                   Block *entry, IRMapping &map) {
  for (auto [in, arg] : llvm::zip(plan.inputs, entry->getArguments()))
    map.map(in, arg);
  SmallVector<Operation *> clones;
  for (Operation *op : plan.ops) {
    Operation *clone = builder.clone(*op, map);
    clone->removeAttr("gpipe.stage");
    clones.push_back(clone);
  }
  return clones;
}

LogicalResult StageOutliner::buildForward(int64_t s, ArrayRef<Value> keep, StringRef name) {
  const StagePlan &plan = plans[s];
  auto ret = cast<func::ReturnOp>(func.getBody().front().getTerminator());
  OpBuilder builder(module.getBodyRegion());
  builder.setInsertionPointToEnd(module.getBody());
  SmallVector<Type> inTypes, outTypes;
  for (Value v : plan.inputs)
    inTypes.push_back(v.getType());
  for (Value v : plan.outputs)
    outTypes.push_back(v.getType());
  for (Value v : keep)
    outTypes.push_back(v.getType());
  auto fn = func::FuncOp::create(builder, func.getLoc(), name,
                                 builder.getFunctionType(inTypes, outTypes));
  fn->setAttr("gpipe.stage", builder.getI64IntegerAttr(s));
  fn.setAllArgAttrs(inputAttrs(plan));
  for (auto [i, out] : llvm::enumerate(plan.outputs)) {
    SmallVector<int64_t> positions;
    for (OpOperand &use : out.getUses())
      if (use.getOwner() == ret)
        positions.push_back(use.getOperandNumber());
    llvm::sort(positions);
    if (!positions.empty())
      fn.setResultAttr(i, "gpipe.returns", builder.getDenseI64ArrayAttr(positions));
  }
  for (size_t j = 0; j < keep.size(); ++j)
    fn.setResultAttr(plan.outputs.size() + j, "gpipe.kept",
                     builder.getI64IntegerAttr(static_cast<int64_t>(j)));
  Block *entry = fn.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  IRMapping map;
  cloneStage(builder, plan, entry, map);
  SmallVector<Value> results;
  for (Value out : plan.outputs)
    results.push_back(map.lookup(out));
  for (Value v : keep)
    results.push_back(map.lookup(v));
  func::ReturnOp::create(builder, func.getLoc(), results);
  return success();
}

FailureOr<func::FuncOp> StageOutliner::buildBackward(int64_t s, ArrayRef<Value> keep,
                                                     StringRef name) {
  const StagePlan &plan = plans[s];
  SymbolTable symbols(module);
  OpBuilder builder(module.getBodyRegion());
  builder.setInsertionPointToEnd(module.getBody());
  // Arguments: the forward's inputs, the kept activations, then one gradient
  // per float output.
  SmallVector<Type> argTypes;
  for (Value v : plan.inputs)
    argTypes.push_back(v.getType());
  SmallVector<Attribute> argAttrs = inputAttrs(plan);
  for (auto [j, v] : llvm::enumerate(keep)) {
    argTypes.push_back(v.getType());
    argAttrs.push_back(builder.getDictionaryAttr(builder.getNamedAttr(
        "gpipe.kept", builder.getI64IntegerAttr(static_cast<int64_t>(j)))));
  }
  SmallVector<Value> floatOutputs;
  for (auto [i, out] : llvm::enumerate(plan.outputs)) {
    if (!isFloatTensor(out))
      continue;
    floatOutputs.push_back(out);
    argTypes.push_back(out.getType());
    argAttrs.push_back(builder.getDictionaryAttr(builder.getNamedAttr(
        "gpipe.grad_of_output", builder.getI64IntegerAttr(static_cast<int64_t>(i)))));
  }
  auto fn = func::FuncOp::create(builder, func.getLoc(), name,
                                 builder.getFunctionType(argTypes, {}));
  fn->setAttr("gpipe.stage", builder.getI64IntegerAttr(s));
  Block *entry = fn.addEntryBlock();
  builder.setInsertionPointToStart(entry);
  IRMapping map;
  for (auto [i, copy] : llvm::enumerate(cloneStage(builder, plan, entry, map)))
    copy->setAttr(kCopyOf, builder.getI64IntegerAttr(static_cast<int64_t>(i)));
  // The recomputed forward must not store state a second time (batch
  // norm's running statistics are stored by the forward).
  for (Operation &op : llvm::make_early_inc_range(*entry))
    if (isa<SetParamOp>(op))
      op.erase();
  // With respect to: float inputs from earlier stages, then the parameters
  // (one entry per parameter; a parameter read twice sums its gradients).
  SmallVector<Value> wrt;
  SmallVector<Attribute> resultAttrs;
  for (Value in : plan.inputs) {
    int64_t from = stageOf.lookup(in);
    if (from < 0 || !isFloatTensor(in))
      continue;
    wrt.push_back(map.lookup(in));
    int64_t index = llvm::find(plans[from].outputs, in) - plans[from].outputs.begin();
    resultAttrs.push_back(builder.getDictionaryAttr(builder.getNamedAttr(
        "gpipe.grad_of", builder.getDenseI64ArrayAttr({from, index}))));
  }
  size_t numInputGrads = wrt.size();
  llvm::MapVector<StringAttr, SmallVector<Value>> paramReads;
  for (Operation &op : *entry)
    if (auto get = dyn_cast<GetParamOp>(op)) {
      auto param = symbols.lookup<ParamOp>(get.getName());
      if (param && isFloatTensor(get.getOutput()) && (!onlyTrainable || param.getTrainable()))
        paramReads[get.getNameAttr().getAttr()].push_back(get.getOutput());
    }
  for (auto &[param, reads] : paramReads)
    llvm::append_range(wrt, reads);

  SmallVector<Value> seeds(entry->getArguments().drop_front(plan.inputs.size() + keep.size()));
  SmallVector<Value> mappedOutputs;
  for (Value out : floatOutputs)
    mappedOutputs.push_back(map.lookup(out));
  FailureOr<SmallVector<Value>> grads =
      buildVectorJacobianProduct(builder, mappedOutputs, seeds, wrt);
  if (failed(grads)) {
    fn.erase();
    return failure();
  }

  GradientBuilder g(builder, func.getLoc());
  SmallVector<Value> results;
  // An input that does not reach the outputs gets a zero gradient: the
  // earlier stage still receives one message per output it sent.
  for (size_t i = 0; i < numInputGrads; ++i)
    results.push_back((*grads)[i] ? (*grads)[i]
                                  : g.splat(cast<RankedTensorType>(wrt[i].getType()), 0.0));
  size_t next = numInputGrads;
  for (auto &[param, reads] : paramReads) {
    Value sum;
    for (size_t k = 0; k < reads.size(); ++k, ++next)
      if (Value grad = (*grads)[next])
        sum = sum ? g.add(sum, grad) : grad;
    // A parameter the outputs do not depend on gets no gradient.
    if (!sum)
      continue;
    results.push_back(sum);
    resultAttrs.push_back(builder.getDictionaryAttr(
        builder.getNamedAttr("gpipe.param", FlatSymbolRefAttr::get(param))));
  }
  if (g.failed()) {
    fn.erase();
    return failure();
  }
  func::ReturnOp::create(builder, func.getLoc(), results);
  SmallVector<Type> resultTypes;
  for (Value r : results)
    resultTypes.push_back(r.getType());
  fn.setFunctionType(builder.getFunctionType(argTypes, resultTypes));
  fn.setAllArgAttrs(argAttrs);
  fn.setAllResultAttrs(resultAttrs);

  // The kept activations replace their recomputation, and the recomputed
  // forward keeps only what the gradients still need.
  for (auto [j, v] : llvm::enumerate(keep))
    map.lookup(v).replaceAllUsesWith(entry->getArgument(plan.inputs.size() + j));
  eraseDeadOps(*entry);
  for (Operation &op : llvm::make_early_inc_range(*entry))
    if (isa<GetParamOp>(op) && op.use_empty())
      op.erase();
  return fn;
}

FailureOr<SmallVector<Value>> StageOutliner::activationsNeeded(int64_t s) {
  // Build the backward that recomputes everything, then read off which
  // recomputed values its gradient ops use.
  std::string scratch = (func.getSymName() + "_stage" + Twine(s) + "_scratch").str();
  FailureOr<func::FuncOp> fn = buildBackward(s, {}, scratch);
  if (failed(fn))
    return failure();
  llvm::SetVector<Value> needed;
  fn->walk([&](Operation *op) {
    auto copyOf = op->getAttrOfType<IntegerAttr>(kCopyOf);
    if (!copyOf || op->getNumOperands() == 0)
      return;
    Operation *original = plans[s].ops[copyOf.getInt()];
    for (OpResult r : op->getResults())
      if (llvm::any_of(r.getUsers(), [](Operation *user) { return !user->hasAttr(kCopyOf); }))
        needed.insert(original->getResult(r.getResultNumber()));
  });
  fn->erase();
  return SmallVector<Value>(needed.begin(), needed.end());
}

LogicalResult StageOutliner::build(int64_t s, ArrayRef<Value> keep, StringRef fwdName,
                                   StringRef bwdName, SmallVectorImpl<Operation *> *recomputedOps) {
  SymbolTable symbols(module);
  for (StringRef name : {fwdName, bwdName})
    if (symbols.lookup(name))
      return func.emitError() << pass << ": symbol '" << name << "' already exists";
  for (Value v : keep)
    if (stageOf.lookup(v) != s || isa<BlockArgument>(v))
      return func.emitError() << pass << ": stage " << s
                              << " cannot keep a value it does not compute";
  if (failed(buildForward(s, keep, fwdName)))
    return failure();
  FailureOr<func::FuncOp> bwd = buildBackward(s, keep, bwdName);
  if (failed(bwd))
    return failure();
  bwd->walk([&](Operation *op) {
    auto copyOf = op->getAttrOfType<IntegerAttr>(kCopyOf);
    if (!copyOf)
      return;
    if (recomputedOps && op->getNumOperands() != 0)
      recomputedOps->push_back(plans[s].ops[copyOf.getInt()]);
    op->removeAttr(kCopyOf);
  });
  return success();
}

namespace {

class OutlineStagesPass : public gpipe::impl::OutlineStagesBase<OutlineStagesPass> {
public:
  using OutlineStagesBase::OutlineStagesBase;

  void runOnOperation() override {
    ModuleOp module = getOperation();
    func::FuncOp func = lookupModelFunction(module, function, kPass);
    if (!func)
      return signalPassFailure();
    auto partition = func->getAttrOfType<DictionaryAttr>("gpipe.partition");
    auto stagesAttr = partition ? partition.getAs<IntegerAttr>("stages") : IntegerAttr();
    if (!stagesAttr) {
      func.emitError() << kPass << ": function '" << func.getSymName()
                       << "' is not partitioned; run gpipe-partition first";
      return signalPassFailure();
    }
    int64_t numStages = stagesAttr.getInt();
    auto outliner = StageOutliner::analyze(module, func, numStages, kPass);
    if (failed(outliner))
      return signalPassFailure();
    for (int64_t s = 0; s < numStages; ++s) {
      std::string prefix = (func.getSymName() + "_stage" + Twine(s)).str();
      if (failed((*outliner)->build(s, {}, prefix + "_forward", prefix + "_backward")))
        return signalPassFailure();
    }
  }
};

} // namespace
