# lit configuration for the gpipe test suite.
import os

import lit.formats
from lit.llvm import llvm_config
from lit.llvm.subst import ToolSubst

config.name = "GPIPE"
config.test_format = lit.formats.ShTest(not llvm_config.use_lit_shell)
config.suffixes = [".mlir", ".onnxtxt", ".test"]
config.excludes = ["Inputs", "Runtime", "conformance", "CMakeLists.txt", "lit.cfg.py", "lit.site.cfg.py", "run-errors.test.mlir"]
config.test_source_root = os.path.dirname(__file__)
config.test_exec_root = os.path.join(config.gpipe_obj_root, "test")
config.substitutions.append(("%models", os.path.join(config.gpipe_src_root, "test", "models")))

llvm_config.with_system_environment(["HOME", "INCLUDE", "LIB", "TMP", "TEMP"])
llvm_config.use_default_substitutions()

tool_dirs = [config.gpipe_tools_dir, config.llvm_tools_dir]
tools = ["gpipe-opt", "gpipe-translate", "gpipe-run", "gpipe-gradcheck", "gpipe-compile"]
llvm_config.add_tool_substitutions(tools, tool_dirs)
llvm_config.with_environment("PATH", config.llvm_tools_dir, append_path=True)
llvm_config.with_environment("PATH", config.gpipe_tools_dir, append_path=True)

# MPI tests run when mpirun is installed (as root, OpenMPI must be told).
import shutil
if shutil.which("mpirun"):
    config.available_features.add("mpirun")
    config.substitutions.append(
        ("%mpirun", "mpirun --allow-run-as-root --oversubscribe --mca btl self,vader"))

# The GPU kit's comparisons need NumPy (python3-numpy).
import subprocess
for python in ("python3", "/usr/bin/python3"):
    try:
        if subprocess.run([python, "-c", "import numpy"], capture_output=True).returncode == 0:
            config.available_features.add("python-numpy")
            break
    except OSError:
        pass
config.substitutions.append(("%gpipe_build", config.gpipe_obj_root))

# The CUDA backend: its tests need it built (a CUDA toolkit with cuDNN and
# NCCL at configure time); those that run on a GPU need one, and say why
# they are skipped without.
if config.gpipe_have_cuda in ("ON", "1", "TRUE"):
    import subprocess
    config.available_features.add("cuda-backend")
    config.substitutions.append(("%nvcc", config.gpipe_nvcc))
    info = os.path.join(config.gpipe_tools_dir, "gpipe-cuda-info")
    try:
        probe = subprocess.run([info], capture_output=True, text=True, timeout=60)
        found, reason = probe.returncode == 0, probe.stdout.strip()
    except (OSError, subprocess.TimeoutExpired) as e:
        found, reason = False, "gpipe-cuda-info: " + str(e)
    if found:
        config.available_features.add("cuda-gpu")
    else:
        config.available_features.add("no-cuda-gpu")
        lit_config.note("the GPU tests are skipped (UNSUPPORTED): " + reason)
else:
    lit_config.note("the CUDA tests are skipped (UNSUPPORTED): gpipe was built without "
                    "the CUDA backend")
