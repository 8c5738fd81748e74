"""What the Python benchmarks share: the repository root and the PyTorch
models of utils/export_test_models.py."""
import importlib.util
import os

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def load_models():
    """utils/export_test_models.py as a module (MLP, ResNetCNN, TransformerLM)."""
    spec = importlib.util.spec_from_file_location(
        "export_test_models", os.path.join(ROOT, "utils", "export_test_models.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
