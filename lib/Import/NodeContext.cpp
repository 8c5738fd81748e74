//===- NodeContext.cpp - inputs, attributes and diagnostics of a node -----===//

#include "ImporterImpl.h"
#include "gpipe/Dialect/GradientBuilder.h"

#include "llvm/Support/FormatVariadic.h"

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::import;

NodeContext::NodeContext(Importer &importer, const onnx::NodeProto &node,
                         Location loc, int64_t opset, StringRef producer)
    : node(node), loc(loc), opset(opset), producer(producer), importer(importer) {}

OpBuilder &NodeContext::builder() { return importer.builder; }
MLIRContext *NodeContext::context() { return loc.getContext(); }

InFlightDiagnostic NodeContext::error() { return emitError(loc); }

LogicalResult NodeContext::fail(const Twine &msg) {
  return error() << msg;
}

LogicalResult NodeContext::unsupportedAttr(StringRef attr, const Twine &value) {
  return error() << "unsupported attribute value " << attr << "=" << value;
}

bool NodeContext::hasInput(int i) const {
  return i < node.input_size() && !node.input(i).empty();
}

FailureOr<Value> NodeContext::input(int i) {
  if (!hasInput(i))
    return fail(llvm::formatv("missing required input {0}", i).str());
  return importer.valueOf(node.input(i), loc);
}

FailureOr<Value> NodeContext::optionalInput(int i) {
  if (!hasInput(i))
    return Value();
  return importer.valueOf(node.input(i), loc);
}

const ConstTensor *NodeContext::constInput(int i) {
  if (!hasInput(i))
    return nullptr;
  return importer.constOf(node.input(i), /*allowParams=*/true);
}

const ConstTensor *NodeContext::knownInput(int i) {
  if (!hasInput(i))
    return nullptr;
  return importer.constOf(node.input(i), /*allowParams=*/false);
}

FailureOr<SmallVector<int64_t>> NodeContext::constInts(int i, StringRef what) {
  const ConstTensor *t = constInput(i);
  if (!t)
    return fail("input '" + what +
                "' must be known at import time (dynamic values are not "
                "supported; bind symbolic dimensions with --dim)");
  if (t->isFloat())
    return fail("input '" + what + "' must be an integer tensor");
  return SmallVector<int64_t>(t->ints.begin(), t->ints.end());
}

FailureOr<double> NodeContext::constScalar(int i, StringRef what) {
  const ConstTensor *t = constInput(i);
  if (!t)
    return fail("input '" + what + "' must be known at import time");
  if (t->numElements() != 1)
    return fail("input '" + what + "' must hold one value");
  return t->floatAt(0);
}

RankedTensorType NodeContext::inputType(int i) {
  return importer.typeOf(node.input(i));
}

bool NodeContext::outputUsed(int i) const {
  return i < node.output_size() && !node.output(i).empty() &&
         importer.isUsed(node.output(i));
}

void NodeContext::setOutput(int i, Value v) {
  if (i < node.output_size() && !node.output(i).empty())
    importer.define(node.output(i), v);
}

void NodeContext::setOutputConst(int i, ConstTensor t) {
  if (i < node.output_size() && !node.output(i).empty())
    importer.defineConst(node.output(i), std::move(t));
}

LogicalResult NodeContext::setResult(FailureOr<Value> v, int i) {
  if (failed(v))
    return failure();
  setOutput(i, *v);
  return success();
}

const onnx::AttributeProto *NodeContext::attr(StringRef name) {
  for (const auto &a : node.attribute())
    if (a.name() == name) {
      readAttrs.insert(name);
      return &a;
    }
  return nullptr;
}

bool NodeContext::hasAttr(StringRef name) const {
  for (const auto &a : node.attribute())
    if (a.name() == name)
      return true;
  return false;
}

int64_t NodeContext::attrInt(StringRef name, int64_t dflt) {
  const auto *a = attr(name);
  return a ? a->i() : dflt;
}

float NodeContext::attrFloat(StringRef name, float dflt) {
  const auto *a = attr(name);
  return a ? a->f() : dflt;
}

std::string NodeContext::attrString(StringRef name, StringRef dflt) {
  const auto *a = attr(name);
  return a ? a->s() : dflt.str();
}

std::optional<SmallVector<int64_t>> NodeContext::attrInts(StringRef name) {
  const auto *a = attr(name);
  if (!a)
    return std::nullopt;
  return SmallVector<int64_t>(a->ints().begin(), a->ints().end());
}

SmallVector<std::string> NodeContext::unreadAttrs() const {
  SmallVector<std::string> out;
  for (const auto &a : node.attribute())
    if (!readAttrs.contains(a.name()))
      out.push_back(a.name());
  return out;
}

NamedAttribute NodeContext::named(StringRef name, Attribute value) {
  return builder().getNamedAttr(name, value);
}

Value NodeContext::scalarConstant(Type elt, double value) {
  auto type = RankedTensorType::get({}, elt);
  Attribute attr = isa<FloatType>(elt)
                       ? DenseElementsAttr::get(type, builder().getFloatAttr(elt, value))
                       : DenseElementsAttr::get(type, builder().getIntegerAttr(elt, (int64_t)value));
  return ConstantOp::create(builder(), loc, cast<ElementsAttr>(attr));
}

Attribute NodeContext::i64Array(ArrayRef<int64_t> values) {
  return builder().getDenseI64ArrayAttr(values);
}

FailureOr<int64_t> NodeContext::normalizeAxis(int64_t axis, int64_t rank,
                                              StringRef what) {
  if (axis < -rank || axis >= rank)
    return fail(llvm::formatv("{0} {1} is out of range for rank {2}", what,
                              axis, rank)
                    .str());
  return axis < 0 ? axis + rank : axis;
}

FailureOr<Operation *> NodeContext::create(StringRef opName,
                                           ValueRange operands,
                                           ArrayRef<NamedAttribute> attrs,
                                           unsigned numResults) {
  return createInferred(builder(), loc, opName, operands, attrs, numResults);
}
