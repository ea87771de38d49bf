"""The recipes in examples/ are scripts: make them importable (and their `_worlds`) for the tests."""
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
if str(EXAMPLES) not in sys.path:
    sys.path.insert(0, str(EXAMPLES))
