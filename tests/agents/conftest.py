"""Without torch (the optional `agents` extra) the agent tests are skipped with a reason, instead of
an import error that aborts the whole collection."""
import importlib.util

import pytest

NO_TORCH = "needs torch, from the agents extra: pip install -e '.[agents]' -c constraints.txt"

if importlib.util.find_spec("torch") is None:
    class _SkippedModule(pytest.Module):
        def collect(self):
            pytest.skip(NO_TORCH, allow_module_level=True)

    def pytest_pycollect_makemodule(module_path, parent):
        return _SkippedModule.from_parent(parent, path=module_path)
