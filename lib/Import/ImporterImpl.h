//===- ImporterImpl.h - the ONNX importer's internals -----------*- C++ -*-===//
//
// The importer is one class holding the value table; ONNX ops are converted by
// handlers registered per op family (ElementwiseHandlers.cpp, NNHandlers.cpp,
// ShapeHandlers.cpp) and, where all inputs are known, folded by ConstFolder.
//
//===----------------------------------------------------------------------===//

#ifndef GPIPE_LIB_IMPORT_IMPORTERIMPL_H
#define GPIPE_LIB_IMPORT_IMPORTERIMPL_H

#include "ConstTensor.h"
#include "gpipe/Dialect/GPipeOps.h"
#include "gpipe/Import/ONNXImporter.h"

#include "mlir/IR/Builders.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"

#include <onnx/onnx_pb.h>

#include <functional>
#include <optional>

namespace mlir::gpipe::import {

class Importer;

/// One ONNX node being converted: its inputs, attributes and diagnostics.
/// Attributes are read through this class so that the importer can reject any
/// attribute a handler did not look at instead of silently ignoring it.
class NodeContext {
public:
  NodeContext(Importer &importer, const onnx::NodeProto &node, Location loc,
              int64_t opset, llvm::StringRef producer);

  const onnx::NodeProto &node;
  Location loc;
  int64_t opset;
  /// The model's producer_name ("pytorch", ...).
  llvm::StringRef producer;
  OpBuilder &builder();
  MLIRContext *context();

  /// Reports `msg` for this node: `node 'NAME' (OpType): msg`.
  InFlightDiagnostic error();
  LogicalResult fail(const llvm::Twine &msg);
  LogicalResult unsupportedAttr(llvm::StringRef attr, const llvm::Twine &value);

  // Inputs.
  int numInputs() const { return node.input_size(); }
  bool hasInput(int i) const;
  /// Input `i` as an SSA value (materializing a constant or parameter).
  FailureOr<Value> input(int i);
  /// Input `i` if present, a null value otherwise.
  FailureOr<Value> optionalInput(int i);
  /// The known value of input `i` (parameters included), or null.
  const ConstTensor *constInput(int i);
  /// The known value of input `i` if it is not a parameter, or null.
  const ConstTensor *knownInput(int i);
  /// Input `i` as a list of integers that must be known at import time.
  FailureOr<llvm::SmallVector<int64_t>> constInts(int i, llvm::StringRef what);
  /// Input `i` as one float that must be known at import time.
  FailureOr<double> constScalar(int i, llvm::StringRef what);
  RankedTensorType inputType(int i);

  // Outputs.
  int numOutputs() const { return node.output_size(); }
  /// True when output `i` exists and something reads it.
  bool outputUsed(int i) const;
  void setOutput(int i, Value v);
  void setOutputConst(int i, ConstTensor t);
  /// Defines output `i` from a conversion that may have failed.
  LogicalResult setResult(FailureOr<Value> v, int i = 0);

  // Attributes.
  bool hasAttr(llvm::StringRef name) const;
  int64_t attrInt(llvm::StringRef name, int64_t dflt);
  float attrFloat(llvm::StringRef name, float dflt);
  std::string attrString(llvm::StringRef name, llvm::StringRef dflt);
  std::optional<llvm::SmallVector<int64_t>> attrInts(llvm::StringRef name);
  const onnx::AttributeProto *attr(llvm::StringRef name);
  /// The attributes no handler has read.
  llvm::SmallVector<std::string> unreadAttrs() const;

  /// Creates a gpipe op whose result types the op infers; diagnostics carry
  /// the node's location.
  FailureOr<Operation *> create(llvm::StringRef opName, ValueRange operands,
                                llvm::ArrayRef<NamedAttribute> attrs,
                                unsigned numResults = 1);
  template <typename OpTy>
  FailureOr<Value> create1(ValueRange operands,
                           llvm::ArrayRef<NamedAttribute> attrs = {}) {
    auto op = create(OpTy::getOperationName(), operands, attrs, 1);
    if (failed(op))
      return failure();
    return (*op)->getResult(0);
  }
  /// Creates an op whose result has the type of its first operand.
  template <typename OpTy>
  Value createSameType(Value operand, llvm::ArrayRef<NamedAttribute> attrs = {}) {
    OperationState state(loc, OpTy::getOperationName());
    state.addOperands(operand);
    state.addAttributes(attrs);
    state.addTypes(operand.getType());
    return builder().create(state)->getResult(0);
  }

  NamedAttribute named(llvm::StringRef name, Attribute value);
  /// A rank-0 gpipe.constant of element type `elt` holding `value`.
  Value scalarConstant(Type elt, double value);
  Attribute i64Array(llvm::ArrayRef<int64_t> values);

  /// Normalizes a possibly negative axis against `rank`.
  FailureOr<int64_t> normalizeAxis(int64_t axis, int64_t rank,
                                   llvm::StringRef what = "axis");

private:
  Importer &importer;
  llvm::StringSet<> readAttrs;
};

using Handler = std::function<LogicalResult(NodeContext &)>;
using HandlerTable = llvm::StringMap<Handler>;

void registerElementwiseHandlers(HandlerTable &table);
void registerNNHandlers(HandlerTable &table);
void registerShapeHandlers(HandlerTable &table);

/// Evaluates `node` on known inputs when it is one of the ops PyTorch uses to
/// compute shapes. Returns false when the node is not foldable (the importer
/// then converts it to IR); an error in a foldable node is reported and
/// returns failure.
FailureOr<bool> tryFold(NodeContext &ctx);

/// Converts a whole model.
class Importer {
public:
  Importer(MLIRContext *context, const ImportOptions &options,
           llvm::StringRef path);

  OwningOpRef<ModuleOp> run(onnx::ModelProto &model);

  // Used by NodeContext.
  OpBuilder builder;
  FailureOr<Value> valueOf(llvm::StringRef name, Location loc);
  const ConstTensor *constOf(llvm::StringRef name, bool allowParams);
  RankedTensorType typeOf(llvm::StringRef name);
  void define(llvm::StringRef name, Value v) { values[name] = v; }
  void defineConst(llvm::StringRef name, ConstTensor t);
  bool isUsed(llvm::StringRef name) const { return useCounts.count(name); }

private:
  struct Initializer {
    const onnx::TensorProto *proto;
    RankedTensorType type;
  };

  LogicalResult bindDimensions(onnx::ModelProto &model);
  LogicalResult registerInitializers(const onnx::GraphProto &graph);
  LogicalResult importNode(const onnx::NodeProto &node, int index);
  Location nodeLoc(const onnx::NodeProto &node, int index);
  FailureOr<RankedTensorType> valueInfoType(const onnx::ValueInfoProto &vi,
                                            llvm::StringRef what);

  MLIRContext *context;
  const ImportOptions &options;
  std::string path;
  ModuleOp module;
  int64_t opset = 0;
  std::string producer;
  HandlerTable handlers;
  llvm::StringMap<Value> values;
  llvm::StringMap<ConstTensor> constants;
  llvm::StringMap<Initializer> initializers;
  llvm::StringMap<unsigned> useCounts;
  /// Where get_param and constants materialize: the top of the function.
  Block *entryBlock = nullptr;
};

} // namespace mlir::gpipe::import



namespace mlir::gpipe::import {
/// ONNX Slice's inputs resolved to one clamped (start, end, step) per
/// dimension of `shape`, as gpipe.slice takes them.
struct SliceBounds {
  llvm::SmallVector<int64_t> starts, ends, steps;
};
FailureOr<SliceBounds> resolveSlice(NodeContext &ctx, llvm::ArrayRef<int64_t> shape);

/// ONNX Reshape's target (with 0 and -1 resolved) for an input of `shape`.
FailureOr<llvm::SmallVector<int64_t>>
resolveReshape(NodeContext &ctx, llvm::ArrayRef<int64_t> shape);

/// Transpose's `perm`, defaulting to reversing the dimensions.
llvm::SmallVector<int64_t> resolvePerm(NodeContext &ctx, int64_t rank);

/// Normalized, sorted Unsqueeze axes for an input of rank `rank`.
FailureOr<llvm::SmallVector<int64_t>> resolveUnsqueeze(NodeContext &ctx,
                                                       int64_t rank);
/// Normalized, sorted Squeeze axes for an input of `shape`.
FailureOr<llvm::SmallVector<int64_t>>
resolveSqueeze(NodeContext &ctx, llvm::ArrayRef<int64_t> shape);
} // namespace mlir::gpipe::import
#endif // GPIPE_LIB_IMPORT_IMPORTERIMPL_H
