"""Agents that attach to ranemu: built-in baselines as processes, and learning agents (torch lives here)."""
import importlib.util
import sys

# torch comes with the optional `agents` extra. Without it, an agent command (python -m agents.td3 …)
# ends with one line that says what to install instead of a ModuleNotFoundError traceback; the
# torch-free baselines (agents.baseline, used by `ranemu demo`) are unaffected.
TORCH_HINT = ("ranemu: this needs torch, from the `agents` extra: pip install 'ranemu[agents]' "
              "(in a checkout: pip install -e '.[agents]' -c constraints.txt)")

if importlib.util.find_spec("torch") is None:
    _previous_hook = sys.excepthook

    def _torch_hint(exc_type, exc, tb, _previous=_previous_hook):
        if isinstance(exc, ModuleNotFoundError) and (exc.name or "").split(".")[0] == "torch":
            print(TORCH_HINT, file=sys.stderr)
            return
        _previous(exc_type, exc, tb)

    sys.excepthook = _torch_hint
