#!/usr/bin/env python3
"""Writes the binary inputs of the importer's error tests (test/Import/Inputs).

Run with Debian's python3-onnx: /usr/bin/python3 utils/make_import_error_inputs.py
The outputs are committed, so the tests themselves need no Python.
"""
import os
import random
import sys

import onnx
from onnx import TensorProto, helper

out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
    os.path.dirname(__file__), "..", "test", "Import", "Inputs")
os.makedirs(out, exist_ok=True)


def model_with(init):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", init.name], ["y"], name="add")], "g",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])], [init])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# An initializer that declares 4 floats and carries no data at all.
empty = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
onnx.save(model_with(empty), os.path.join(out, "no-data.onnx"))

# An initializer whose raw data is shorter than its shape needs.
short = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4], raw_data=b"\0" * 10)
onnx.save(model_with(short), os.path.join(out, "short-data.onnx"))

# An initializer stored in an external file that does not exist.
ext = TensorProto(name="w", data_type=TensorProto.FLOAT, dims=[4])
ext.data_location = TensorProto.EXTERNAL
for k, v in (("location", "missing-weights.bin"), ("offset", "0"), ("length", "16")):
    entry = ext.external_data.add()
    entry.key, entry.value = k, v
onnx.save(model_with(ext), os.path.join(out, "external-missing.onnx"))

# Random bytes: not a protobuf, not text.
rng = random.Random(1234)
with open(os.path.join(out, "random.onnx"), "wb") as f:
    f.write(bytes(rng.randrange(256) for _ in range(4096)))
print("wrote", sorted(os.listdir(out)))
