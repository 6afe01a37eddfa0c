"""Framework reference numbers for the tests: the JSON fixtures in tests/reference/ (written by
the make_*_reference.py scripts there, which run PyTorch and Keras) and, for live comparisons
when torch is installed, the optimizer script itself."""
import functools
import importlib.util
import json
from pathlib import Path

REF = Path(__file__).parent / "reference"


def fixture(name: str):
    """The parsed tests/reference/<name>.json."""
    return json.loads((REF / f"{name}.json").read_text())


@functools.cache
def optim_reference_script():
    spec = importlib.util.spec_from_file_location("make_optim_reference", REF / "make_optim_reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
