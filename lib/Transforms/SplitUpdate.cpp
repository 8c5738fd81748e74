//===- SplitUpdate.cpp - one optimizer update per pipeline stage ----------===//
//
// GPipe applies the synchronous update on every accelerator to the
// parameters it holds. The update gpipe-build-training writes is one
// function over every trained parameter; this pass slices it by stage: each
// gpipe.set_param belongs to the stages whose stage functions touch the
// parameters its value depends on, and the slice of the update computing a
// stage's set_params becomes that stage's update. Values of several stages
// (tied weights, global-norm clipping) form the shared update; values of no
// stage (Adam's step count) are computed in every slice.
//
//===----------------------------------------------------------------------===//

#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Transforms/Passes.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/IRMapping.h"
#include "llvm/ADT/SetVector.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <set>

namespace mlir::gpipe {
#define GEN_PASS_DEF_SPLITUPDATE
#include "gpipe/Transforms/Passes.h.inc"
} // namespace mlir::gpipe

using namespace mlir;
using namespace mlir::gpipe;

namespace {

constexpr StringLiteral kPass = "gpipe-split-update";

using StageSet = std::set<int64_t>;

class SplitUpdatePass : public gpipe::impl::SplitUpdateBase<SplitUpdatePass> {
public:
  using SplitUpdateBase::SplitUpdateBase;

  void runOnOperation() override {
    if (failed(run()))
      signalPassFailure();
  }

private:
  LogicalResult run();
  /// A function computing the update's `roots` (and nothing else): the
  /// update's ops they depend on, its arguments they read.
  func::FuncOp slice(func::FuncOp update, StringRef name, ArrayRef<Operation *> roots);
};

LogicalResult SplitUpdatePass::run() {
  ModuleOp module = getOperation();
  auto update = module.lookupSymbol<func::FuncOp>(function);
  if (!update || update.isDeclaration())
    return module.emitError() << kPass << ": the module has no update function @" << function;
  if (!llvm::hasSingleElement(update.getBody()))
    return update.emitError() << kPass << ": the update function must have one block";

  // The stages whose functions read or store each parameter.
  llvm::StringMap<StageSet> stagesOf;
  int64_t numStages = 0;
  for (auto fn : module.getOps<func::FuncOp>()) {
    auto stage = fn->getAttrOfType<IntegerAttr>("gpipe.stage");
    if (!stage)
      continue;
    int64_t s = stage.getInt();
    numStages = std::max(numStages, s + 1);
    fn.walk([&](Operation *op) {
      if (auto get = dyn_cast<GetParamOp>(op))
        stagesOf[get.getName()].insert(s);
      else if (auto set = dyn_cast<SetParamOp>(op))
        stagesOf[set.getName()].insert(s);
    });
  }
  if (numStages == 0)
    return update.emitError() << kPass
                              << ": the module has no stage functions (run gpipe-pipeline first)";

  // Forward over the update: the stages each value depends on.
  Block &body = update.getBody().front();
  DenseMap<Value, StageSet> depends;
  for (BlockArgument arg : body.getArguments()) {
    auto param = update.getArgAttrOfType<FlatSymbolRefAttr>(arg.getArgNumber(), "gpipe.param");
    if (!param)
      return update.emitError() << kPass << ": argument " << arg.getArgNumber()
                                << " of the update is not the gradient of a parameter "
                                   "(gpipe.param)";
    depends[arg] = stagesOf.lookup(param.getValue());
  }
  SmallVector<Operation *> shared, replicated;
  std::map<int64_t, SmallVector<Operation *>> byStage;
  for (Operation &op : body.without_terminator()) {
    if (op.getNumRegions() != 0)
      return op.emitError() << kPass << ": ops with regions cannot be split";
    StageSet set;
    for (Value operand : op.getOperands()) {
      auto it = depends.find(operand);
      if (it != depends.end())
        set.insert(it->second.begin(), it->second.end());
    }
    if (auto get = dyn_cast<GetParamOp>(op)) {
      const StageSet &of = stagesOf.lookup(get.getName());
      set.insert(of.begin(), of.end());
    }
    if (auto store = dyn_cast<SetParamOp>(op)) {
      const StageSet &of = stagesOf.lookup(store.getName());
      set.insert(of.begin(), of.end());
      if (set.empty())
        replicated.push_back(&op);
      else if (set.size() == 1)
        byStage[*set.begin()].push_back(&op);
      else
        shared.push_back(&op);
      continue;
    }
    for (Value r : op.getResults())
      depends[r] = set;
  }
  // The slices run one after the other on their own copies of the state, so
  // a value one slice stores must not be one another reads (deferred batch
  // norm's update reads the sums a stage clears): such a set_param joins the
  // shared update, until no slice reads what another stores. Replicated
  // state is each slice's own.
  llvm::StringSet<> replicatedNames;
  for (Operation *op : replicated)
    replicatedNames.insert(cast<SetParamOp>(op).getName());
  DenseMap<Operation *, llvm::StringSet<>> readsOf;
  for (Operation &op : body.without_terminator())
    if (isa<SetParamOp>(op)) {
      llvm::StringSet<> &reads = readsOf[&op];
      SmallVector<Value> work(op.getOperands());
      DenseSet<Operation *> seen;
      while (!work.empty()) {
        Operation *def = work.pop_back_val().getDefiningOp();
        if (!def || !seen.insert(def).second)
          continue;
        if (auto get = dyn_cast<GetParamOp>(def))
          if (!replicatedNames.contains(get.getName()))
            reads.insert(get.getName());
        llvm::append_range(work, def->getOperands());
      }
    }
  // Each root's group (its stage; -1: shared), who stores each name, and
  // which roots read it: a pass over them is then linear in their reads.
  DenseMap<Operation *, int64_t> groupOf;
  llvm::StringMap<SmallVector<Operation *>> writers, readers;
  for (Operation *root : shared)
    groupOf[root] = -1;
  for (auto &[stage, roots] : byStage)
    for (Operation *root : roots)
      groupOf[root] = stage;
  for (auto &[root, group] : groupOf) {
    writers[cast<SetParamOp>(root).getName()].push_back(root);
    for (const auto &name : readsOf[root])
      readers[name.getKey()].push_back(root);
  }
  for (bool changed = true; changed;) {
    changed = false;
    SmallVector<Operation *> moved;
    for (auto &[stage, roots] : byStage)
      for (Operation *root : roots) {
        int64_t group = stage;
        auto elsewhere = [&](Operation *other) { return groupOf.lookup(other) != group; };
        bool conflict =
            llvm::any_of(readers.lookup(cast<SetParamOp>(root).getName()), elsewhere) ||
            llvm::any_of(readsOf[root], [&](const auto &name) {
              return llvm::any_of(writers.lookup(name.getKey()), elsewhere);
            });
        if (conflict)
          moved.push_back(root);
      }
    for (Operation *root : moved) {
      SmallVector<Operation *> &roots = byStage[groupOf[root]];
      roots.erase(llvm::find(roots, root));
      shared.push_back(root);
      groupOf[root] = -1;
      changed = true;
    }
  }
  for (auto it = byStage.begin(); it != byStage.end();)
    it = it->second.empty() ? byStage.erase(it) : std::next(it);
  if (byStage.empty())
    return success(); // Nothing a single stage owns: the update stays whole.

  SymbolTable symbols(module);
  auto create = [&](StringRef name, SmallVector<Operation *> roots,
                    NamedAttribute marker) -> LogicalResult {
    if (symbols.lookup(name))
      return module.emitError() << kPass << ": the module already has a symbol @" << name;
    // The replicated state (a step count) in program order with the rest.
    llvm::append_range(roots, replicated);
    llvm::sort(roots, [](Operation *a, Operation *b) { return a->isBeforeInBlock(b); });
    func::FuncOp fn = slice(update, name, roots);
    fn->setAttr(marker.getName(), marker.getValue());
    return success();
  };
  OpBuilder b(module.getContext());
  for (auto &[stage, roots] : byStage)
    if (failed(create((function + "_stage" + Twine(stage)).str(), roots,
                      b.getNamedAttr("gpipe.update_stage", b.getI64IntegerAttr(stage)))))
      return failure();
  if (!shared.empty() &&
      failed(create(function + "_shared", shared,
                    b.getNamedAttr("gpipe.update_shared", b.getUnitAttr()))))
    return failure();
  return success();
}

func::FuncOp SplitUpdatePass::slice(func::FuncOp update, StringRef name,
                                    ArrayRef<Operation *> roots) {
  Block &body = update.getBody().front();
  DenseSet<Operation *> keep;
  llvm::SetVector<BlockArgument> args;
  SmallVector<Value> work;
  for (Operation *root : roots) {
    keep.insert(root);
    llvm::append_range(work, root->getOperands());
  }
  while (!work.empty()) {
    Value v = work.pop_back_val();
    if (auto arg = dyn_cast<BlockArgument>(v)) {
      args.insert(arg);
      continue;
    }
    Operation *def = v.getDefiningOp();
    if (def && keep.insert(def).second)
      llvm::append_range(work, def->getOperands());
  }
  SmallVector<BlockArgument> ordered(args.begin(), args.end());
  llvm::sort(ordered, [](BlockArgument a, BlockArgument c) {
    return a.getArgNumber() < c.getArgNumber();
  });
  SmallVector<Type> types;
  SmallVector<Attribute> attrs;
  for (BlockArgument arg : ordered) {
    types.push_back(arg.getType());
    attrs.push_back(update.getArgAttrDict(arg.getArgNumber()));
  }
  OpBuilder builder(update);
  builder.setInsertionPointAfter(update);
  auto fn = func::FuncOp::create(builder, update.getLoc(), name,
                                 builder.getFunctionType(types, {}));
  fn.setAllArgAttrs(attrs);
  Block *entry = fn.addEntryBlock();
  IRMapping map;
  for (auto [old, arg] : llvm::zip(ordered, entry->getArguments()))
    map.map(old, arg);
  builder.setInsertionPointToStart(entry);
  for (Operation &op : body.without_terminator())
    if (keep.contains(&op))
      builder.clone(op, map);
  func::ReturnOp::create(builder, update.getLoc(), ValueRange());
  return fn;
}

} // namespace
