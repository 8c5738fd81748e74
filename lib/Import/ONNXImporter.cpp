//===- ONNXImporter.cpp - ONNX model to gpipe dialect ---------------------===//

#include "ImporterImpl.h"
#include "ModelLoader.h"

#include "mlir/Dialect/Func/IR/FuncOps.h"
#include "mlir/IR/Verifier.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/FormatVariadic.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

using namespace mlir;
using namespace mlir::gpipe;
using namespace mlir::gpipe::import;

/// Integer initializers up to this size are treated as known values (shapes,
/// axes, indices); float initializers are always parameters.
static constexpr int64_t kMaxKnownInitializer = 1 << 16;

Importer::Importer(MLIRContext *context, const ImportOptions &options,
                   StringRef path)
    : builder(context), context(context), options(options), path(path.str()) {
  registerElementwiseHandlers(handlers);
  registerNNHandlers(handlers);
  registerShapeHandlers(handlers);
}

Location Importer::nodeLoc(const onnx::NodeProto &node, int index) {
  std::string name = node.name().empty()
                         ? node.op_type() + "_" + std::to_string(index)
                         : node.name();
  return NameLoc::get(StringAttr::get(context, name),
                      FileLineColLoc::get(context, path, 0, 0));
}

FailureOr<RankedTensorType>
Importer::valueInfoType(const onnx::ValueInfoProto &vi, StringRef what) {
  Location loc = FileLineColLoc::get(context, path, 0, 0);
  if (!vi.type().has_tensor_type())
    return emitError(loc) << what << " '" << vi.name()
                          << "' is not a tensor (sequences, maps and optionals "
                             "are not supported)";
  const auto &tt = vi.type().tensor_type();
  Type elt = elementTypeFor(tt.elem_type(), context);
  if (!elt)
    return emitError(loc) << what << " '" << vi.name() << "' has unsupported "
                          << dtypeName(tt.elem_type());
  if (!tt.has_shape())
    return emitError(loc) << what << " '" << vi.name()
                          << "' has no shape (unknown rank is not supported)";
  SmallVector<int64_t> shape;
  for (const auto &d : tt.shape().dim()) {
    if (!d.has_dim_value())
      return emitError(loc)
             << what << " '" << vi.name() << "' dimension " << shape.size()
             << (d.has_dim_param() ? " ('" + d.dim_param() + "')" : "")
             << " is dynamic; bind it with --dim NAME=SIZE or --batch-size";
    shape.push_back(d.dim_value());
  }
  return RankedTensorType::get(shape, elt);
}

LogicalResult Importer::bindDimensions(onnx::ModelProto &model) {
  Location loc = FileLineColLoc::get(context, path, 0, 0);
  llvm::StringSet<> initNames;
  for (const auto &init : model.graph().initializer())
    initNames.insert(init.name());
  llvm::StringSet<> seenParams;
  auto collect = [&](const auto &infos) {
    for (const auto &vi : infos)
      if (vi.type().has_tensor_type() && vi.type().tensor_type().has_shape())
        for (const auto &d : vi.type().tensor_type().shape().dim())
          if (d.has_dim_param())
            seenParams.insert(d.dim_param());
  };
  collect(model.graph().input());
  collect(model.graph().output());
  for (const auto &entry : options.dims)
    if (!seenParams.contains(entry.getKey()))
      return emitError(loc) << "--dim " << entry.getKey()
                            << " names no symbolic dimension of the model's "
                               "inputs or outputs";
  auto bind = [&](onnx::ValueInfoProto &vi, bool required) -> LogicalResult {
    if (!vi.type().has_tensor_type() || !vi.type().tensor_type().has_shape())
      return success();
    auto *shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
    for (int i = 0; i < shape->dim_size(); ++i) {
      auto *dim = shape->mutable_dim(i);
      if (dim->has_dim_value()) {
        if (dim->dim_value() < 0)
          return emitError(loc) << "'" << vi.name() << "' dimension " << i
                                << " is negative";
        continue;
      }
      std::optional<int64_t> value;
      if (dim->has_dim_param()) {
        auto it = options.dims.find(dim->dim_param());
        if (it != options.dims.end())
          value = it->second;
      }
      if (!value && i == 0 && options.batchSize)
        value = *options.batchSize;
      if (!value) {
        if (!required)
          continue;
        return emitError(loc)
               << "input '" << vi.name() << "' dimension " << i
               << (dim->has_dim_param() ? " ('" + dim->dim_param() + "')" : "")
               << " is dynamic; bind it with "
               << (dim->has_dim_param() ? "--dim " + dim->dim_param() + "=N"
                                        : std::string("--dim"))
               << (i == 0 ? " or --batch-size N" : "");
      }
      dim->set_dim_value(*value);
    }
    return success();
  };
  auto *graph = model.mutable_graph();
  for (auto &vi : *graph->mutable_input()) {
    if (initNames.contains(vi.name()))
      continue;
    auto known = options.constantInputs.find(vi.name());
    if (known != options.constantInputs.end()) {
      onnx::TensorProto proto;
      ConstTensor value;
      std::string error;
      if (!proto.ParseFromString(known->second) || !readTensorProto(proto, value, error))
        return emitError(loc) << "value given for input '" << vi.name()
                              << "' is not a valid tensor" << (error.empty() ? "" : ": ")
                              << error;
      auto *shape = vi.mutable_type()->mutable_tensor_type()->mutable_shape();
      shape->clear_dim();
      for (int64_t d : value.shape)
        shape->add_dim()->set_dim_value(d);
      constants[vi.name()] = std::move(value);
      continue;
    }
    if (failed(bind(vi, true)))
      return failure();
  }
  for (auto &vi : *graph->mutable_output())
    if (failed(bind(vi, false)))
      return failure();
  return success();
}

LogicalResult Importer::registerInitializers(const onnx::GraphProto &graph) {
  // Their data was validated when the model was loaded.
  for (const auto &init : graph.initializer()) {
    SmallVector<int64_t> shape(init.dims().begin(), init.dims().end());
    initializers[init.name()] = {
        &init, RankedTensorType::get(shape, elementTypeFor(init.data_type(), context))};
  }
  return success();
}

void Importer::defineConst(StringRef name, ConstTensor t) {
  constants[name] = std::move(t);
}

const ConstTensor *Importer::constOf(StringRef name, bool allowParams) {
  auto it = constants.find(name);
  if (it != constants.end())
    return &it->second;
  auto init = initializers.find(name);
  if (init == initializers.end())
    return nullptr;
  const auto &proto = *init->second.proto;
  bool isFloat = init->second.type.getElementType().isFloat();
  if ((isFloat && !allowParams) ||
      init->second.type.getNumElements() > kMaxKnownInitializer ||
      proto.data_location() == onnx::TensorProto::EXTERNAL)
    return nullptr;
  ConstTensor t;
  std::string error;
  if (!readTensorProto(proto, t, error))
    return nullptr;
  if (isFloat) {
    // A parameter read as a value (a Clip bound, say) stays a parameter too.
    static thread_local ConstTensor scratch;
    scratch = std::move(t);
    return &scratch;
  }
  return &(constants[name] = std::move(t));
}

RankedTensorType Importer::typeOf(StringRef name) {
  if (auto it = values.find(name); it != values.end())
    return cast<RankedTensorType>(it->second.getType());
  if (auto it = constants.find(name); it != constants.end())
    return RankedTensorType::get(it->second.shape,
                                 elementTypeFor(it->second.dtype, context));
  if (auto it = initializers.find(name); it != initializers.end())
    return it->second.type;
  return nullptr;
}

FailureOr<Value> Importer::valueOf(StringRef name, Location loc) {
  if (auto it = values.find(name); it != values.end())
    return it->second;
  auto init = initializers.find(name);
  bool isParam = init != initializers.end() &&
                 (init->second.type.getElementType().isFloat() ||
                  !constOf(name, /*allowParams=*/false));
  if (!isParam) {
    if (const ConstTensor *c = constOf(name, false)) {
      Value v = ConstantOp::create(builder, loc, c->toAttr(context));
      values[name] = v;
      return v;
    }
    return emitError(loc) << "value '" << name
                          << "' is used before it is defined (the graph must "
                             "be topologically sorted)";
  }
  OpBuilder moduleBuilder(context);
  moduleBuilder.setInsertionPoint(&*module.getBody()->getOperations().rbegin());
  Location paramLoc = NameLoc::get(StringAttr::get(context, name),
                                   FileLineColLoc::get(context, path, 0, 0));
  ParamOp::create(moduleBuilder, paramLoc, name, init->second.type,
                  moduleBuilder.getStringAttr(path), moduleBuilder.getStringAttr(name),
                  /*zero_init=*/false, /*trainable=*/false);
  Value v = GetParamOp::create(builder, paramLoc, init->second.type,
                               FlatSymbolRefAttr::get(context, name));
  values[name] = v;
  return v;
}

LogicalResult Importer::importNode(const onnx::NodeProto &node, int index) {
  Location loc = nodeLoc(node, index);
  NodeContext ctx(*this, node, loc, opset, producer);
  FailureOr<bool> folded = tryFold(ctx);
  if (failed(folded))
    return failure();
  if (!*folded) {
    auto it = handlers.find(node.op_type());
    if (it == handlers.end())
      return ctx.fail("op '" + node.op_type() +
                      "' cannot be converted: its inputs are not known at "
                      "import time");
    if (failed(it->second(ctx)))
      return failure();
  }
  auto unread = ctx.unreadAttrs();
  if (!unread.empty())
    return ctx.fail("unsupported attribute '" + unread.front() + "'");
  return success();
}

OwningOpRef<ModuleOp> Importer::run(onnx::ModelProto &model) {
  Location fileLoc = FileLineColLoc::get(context, path, 0, 0);
  producer = model.producer_name();
  for (const auto &imp : model.opset_import())
    if (imp.domain().empty() || imp.domain() == "ai.onnx")
      opset = imp.version();
  if (opset < 13 || opset > 17) {
    emitError(fileLoc) << "opset " << opset
                       << " is not supported (gpipe imports opsets 13 to 17)";
    return nullptr;
  }
  const onnx::GraphProto &graph = model.graph();
  for (int i = 0; i < graph.node_size(); ++i) {
    const auto &node = graph.node(i);
    bool knownDomain = node.domain().empty() || node.domain() == "ai.onnx";
    if (!knownDomain || !handlers.count(node.op_type())) {
      emitError(nodeLoc(node, i))
          << "unsupported op '" << node.op_type() << "' (domain '"
          << (node.domain().empty() ? "ai.onnx" : node.domain())
          << "', opset " << opset << ")";
      return nullptr;
    }
  }
  if (failed(bindDimensions(model)))
    return nullptr;
  std::string error;
  if (!inferShapes(model, error)) {
    emitError(fileLoc) << error;
    return nullptr;
  }
  if (failed(registerInitializers(graph)))
    return nullptr;

  for (const auto &node : graph.node())
    for (const auto &in : node.input())
      if (!in.empty())
        ++useCounts[in];
  for (const auto &out : graph.output())
    ++useCounts[out.name()];

  module = ModuleOp::create(fileLoc);
  module->setAttr("gpipe.source", builder.getStringAttr(path));
  module->setAttr("gpipe.opset", builder.getI64IntegerAttr(opset));
  OwningOpRef<ModuleOp> owned(module);

  SmallVector<Type> inputTypes;
  SmallVector<std::string> inputNames;
  for (const auto &vi : graph.input()) {
    if (initializers.count(vi.name()) || constants.count(vi.name()))
      continue;
    auto type = valueInfoType(vi, "input");
    if (failed(type))
      return nullptr;
    inputTypes.push_back(*type);
    inputNames.push_back(vi.name());
  }
  builder.setInsertionPointToEnd(module.getBody());
  auto func = func::FuncOp::create(
      builder, fileLoc, options.functionName, builder.getFunctionType(inputTypes, {}));
  entryBlock = func.addEntryBlock();
  for (auto [i, name] : llvm::enumerate(inputNames)) {
    func.setArgAttr(i, "gpipe.name", builder.getStringAttr(name));
    values[name] = entryBlock->getArgument(i);
  }
  builder.setInsertionPointToEnd(entryBlock);

  for (int i = 0; i < graph.node_size(); ++i)
    if (failed(importNode(graph.node(i), i)))
      return nullptr;

  SmallVector<Value> results;
  for (const auto &out : graph.output()) {
    auto v = valueOf(out.name(), fileLoc);
    if (failed(v))
      return nullptr;
    auto type = cast<RankedTensorType>(v->getType());
    if (out.type().has_tensor_type() && out.type().tensor_type().has_shape()) {
      const auto &dims = out.type().tensor_type().shape().dim();
      bool mismatch = dims.size() != type.getRank();
      for (int d = 0; !mismatch && d < dims.size(); ++d)
        mismatch = dims[d].has_dim_value() &&
                   dims[d].dim_value() != type.getDimSize(d);
      if (mismatch) {
        emitError(fileLoc) << "output '" << out.name() << "' is declared with "
                           << dims.size() << " dimensions that differ from the "
                           << "computed type " << type;
        return nullptr;
      }
    }
    results.push_back(*v);
  }
  func::ReturnOp::create(builder, fileLoc, results);
  func.setType(builder.getFunctionType(inputTypes, ValueRange(results).getTypes()));
  for (auto [i, out] : llvm::enumerate(graph.output()))
    func.setResultAttr(i, "gpipe.name", builder.getStringAttr(out.name()));

  if (failed(mlir::verify(module)))
    return nullptr;
  return owned;
}

OwningOpRef<ModuleOp> mlir::gpipe::importONNXBuffer(StringRef contents,
                                                   StringRef path,
                                                   MLIRContext *context,
                                                   const ImportOptions &options) {
  context->loadDialect<GPipeDialect, func::FuncDialect>();
  SmallString<256> absPath(path);
  if (path != "-")
    llvm::sys::fs::make_absolute(absPath);
  onnx::ModelProto model;
  std::string error;
  if (!import::loadModel(contents, absPath, model, error)) {
    emitError(FileLineColLoc::get(context, absPath, 0, 0)) << error;
    return nullptr;
  }
  Importer importer(context, options, absPath);
  return importer.run(model);
}

OwningOpRef<ModuleOp> mlir::gpipe::importONNXFile(StringRef path,
                                                 MLIRContext *context,
                                                 const ImportOptions &options) {
  auto buffer = llvm::MemoryBuffer::getFileOrSTDIN(path, /*IsText=*/false,
                                                   /*RequiresNullTerminator=*/false);
  if (std::error_code ec = buffer.getError()) {
    context->loadDialect<GPipeDialect>();
    emitError(FileLineColLoc::get(context, path, 0, 0))
        << "cannot open file: " << ec.message();
    return nullptr;
  }
  return importONNXBuffer((*buffer)->getBuffer(), path, context, options);
}
