//===- GPipeOps.td - all gpipe ops, by family ------------------*- tablegen -*-===//

#ifndef GPIPE_DIALECT_GPIPEOPS_TD
#define GPIPE_DIALECT_GPIPEOPS_TD

include "gpipe/Dialect/GPipeBase.td"
include "gpipe/Dialect/ElementwiseOps.td"
include "gpipe/Dialect/MatMulOps.td"
include "gpipe/Dialect/ConvOps.td"
include "gpipe/Dialect/NormalizationOps.td"
include "gpipe/Dialect/ReductionOps.td"
include "gpipe/Dialect/ShapeOps.td"
include "gpipe/Dialect/LossOps.td"
include "gpipe/Dialect/ModelOps.td"
include "gpipe/Dialect/GradientOps.td"
include "gpipe/Dialect/PipelineOps.td"

#endif // GPIPE_DIALECT_GPIPEOPS_TD
