"""Security rules, checked on the source: nothing is unpickled, nothing is evaluated.

Weights load via safetensors (or torch.load(weights_only=True) for plain state dicts), presets via TOML,
state via JSON. No eval/exec/compile of any user, preset, OSC or MIDI string; no shell=True.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SKIP_DIRS = {".venv", ".git", "build", "dist", "__pycache__", "node_modules"}
UNSAFE_MODULES = {"pickle", "cPickle", "_pickle", "dill", "cloudpickle", "marshal", "shelve", "joblib"}
UNSAFE_BUILTINS = {"eval", "exec", "compile", "__import__"}


def python_files() -> list[Path]:
    return [p for p in ROOT.rglob("*.py") if not SKIP_DIRS & set(p.relative_to(ROOT).parts)]


def keyword(call: ast.Call, name: str) -> ast.expr | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def is_true(node: ast.expr | None) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def problems_in(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    found = []
    for node in ast.walk(tree):
        where = f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', 0)}"
        if isinstance(node, ast.Import):
            found += [f"{where}: import {a.name}" for a in node.names if a.name.split(".")[0] in UNSAFE_MODULES]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in UNSAFE_MODULES:
            found.append(f"{where}: from {node.module} import ...")
        elif isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name) and func.id in UNSAFE_BUILTINS:
                found.append(f"{where}: {func.id}()")
            elif isinstance(func, ast.Attribute):
                owner = func.value.id if isinstance(func.value, ast.Name) else ""
                if func.attr == "load" and owner == "torch" and not is_true(keyword(node, "weights_only")):
                    found.append(f"{where}: torch.load without weights_only=True")
                if func.attr == "load" and owner in ("np", "numpy") and is_true(keyword(node, "allow_pickle")):
                    found.append(f"{where}: np.load(allow_pickle=True)")
                if func.attr in ("load", "unsafe_load") and owner == "yaml" and keyword(node, "Loader") is None:
                    found.append(f"{where}: yaml.load without a safe Loader")
            if is_true(keyword(node, "shell")):
                found.append(f"{where}: shell=True")
    return found


def test_no_unpickling_eval_or_shell_anywhere():
    files = python_files()
    assert len(files) > 20 and any(p.name == "app.py" for p in files)
    problems = [p for path in files for p in problems_in(path)]
    assert problems == [], "unsafe code:\n" + "\n".join(problems)


def test_the_scanner_catches_what_it_should(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text(
        "import pickle\nimport torch, numpy as np\neval('1')\nexec('x=1')\ntorch.load('w.pt')\n"
        "torch.load('w.pt', weights_only=False)\nnp.load('a.npy', allow_pickle=True)\n"
        "import subprocess\nsubprocess.run('ls', shell=True)\nmodel.eval()\n"
        "torch.load('w', weights_only=True)\n"
    )
    global ROOT
    saved, ROOT = ROOT, tmp_path
    try:
        found = problems_in(bad)
    finally:
        ROOT = saved
    assert len(found) == 7, found
