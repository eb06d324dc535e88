"""The package's shape: layers that import only downwards, no import cycles, no private names
crossing modules, modules a reader can hold in their head, and a cheap ``import thinbridge``."""
from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "thinbridge"
MAX_LINES = 400


def _modules() -> dict[str, Path]:
    out = {}
    for f in sorted(PKG.rglob("*.py")):
        parts = list(f.relative_to(ROOT).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = f
    return out


def test_the_layers_contract_holds():
    """``.importlinter``: cli > book > search | training > evaluation > bridge > features > data >
    chem > config > _util, and nothing imports thinbridge.testing (the tool CI runs)."""
    lint = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(lint), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
    assert "0 broken" in res.stdout


def _cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, on, stack, out, counter = {}, {}, set(), [], [], [0]
    for start in sorted(edges):
        if start in index:
            continue
        work = [(start, iter(sorted(edges[start])))]
        index[start] = low[start] = counter[0]
        counter[0] += 1
        stack.append(start)
        on.add(start)
        while work:
            v, it = work[-1]
            for w in it:
                if w not in index:
                    index[w] = low[w] = counter[0]
                    counter[0] += 1
                    stack.append(w)
                    on.add(w)
                    work.append((w, iter(sorted(edges.get(w, ())))))
                    break
                if w in on:
                    low[v] = min(low[v], index[w])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[v])
                if low[v] == index[v]:
                    comp = []
                    while True:
                        w = stack.pop()
                        on.discard(w)
                        comp.append(w)
                        if w == v:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles_counting_imports_inside_functions():
    import grimp

    graph = grimp.build_graph("thinbridge", exclude_type_checking_imports=True, cache_dir=None)
    edges = {m: set(graph.find_modules_directly_imported_by(m)) for m in graph.modules}
    assert _cycles(edges) == []


def _private_imports(path: Path, here: str, root: Path = ROOT) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    bad = []
    module_aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("thinbridge"):
            for a in node.names:
                target = f"{node.module}.{a.name}"
                if a.name.startswith("_") and not a.name.startswith("__") and node.module != here:
                    bad.append(f"{path.relative_to(root)}:{node.lineno} imports {a.name} from {node.module}")
                if target in MODULES:
                    module_aliases[a.asname or a.name] = target
        elif isinstance(node, ast.Import):
            for a in node.names:
                if a.name.startswith("thinbridge.") and a.asname:
                    module_aliases[a.asname] = a.name
    for node in ast.walk(tree):
        if (isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name)
                and node.value.id in module_aliases and module_aliases[node.value.id] != here
                and node.attr.startswith("_") and not node.attr.startswith("__")):
            bad.append(f"{path.relative_to(root)}:{node.lineno} uses {node.value.id}.{node.attr}")
    return bad


MODULES = _modules()


def test_no_private_name_crosses_modules():
    """``from thinbridge.x import _y`` or ``x._y`` from another module: make the name public or
    keep the use at home. (A package's own ``_util`` subpackage is private as a whole, not by name.)"""
    bad = [b for name, f in MODULES.items() for b in _private_imports(f, name)]
    assert bad == []


def test_the_private_name_check_sees_both_forms(tmp_path):
    f = tmp_path / "m.py"
    f.write_text("from thinbridge.training.grid import _codes\nfrom thinbridge.data import pairs as D\nD._x\n")
    assert len(_private_imports(f, "elsewhere", root=tmp_path)) == 2


@pytest.mark.parametrize("name", sorted(MODULES))
def test_no_module_is_over_400_lines(name):
    n = len(MODULES[name].read_text(encoding="utf-8").splitlines())
    assert n <= MAX_LINES, f"{name}: {n} lines; split it along its sections"


def test_every_subpackage_says_what_it_holds_and_may_import():
    for name, f in MODULES.items():
        if f.name == "__init__.py":
            doc = ast.get_docstring(ast.parse(f.read_text(encoding="utf-8"))) or ""
            assert len(doc) > 80 and "TODO" not in doc, name
            assert "import" in doc, f"{name}: say what it may import"


def test_importing_the_package_is_cheap_and_the_api_resolves():
    code = ("import sys, thinbridge; heavy = {'torch', 'numpy', 'pandas', 'rdkit'} & set(sys.modules); "
            "assert not heavy, heavy; print(len(thinbridge.__all__))")
    res = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stderr
    import thinbridge

    for name in thinbridge.__all__:
        assert getattr(thinbridge, name) is not None, name
    with pytest.raises(AttributeError):
        thinbridge.no_such_name  # noqa: B018


def test_notebooks_import_only_the_api_and_the_book():
    """A chapter reads ``from thinbridge import ...`` (the public API) and ``thinbridge.book``."""
    bad = []
    for nb in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.py")):
        for node in ast.walk(ast.parse(nb.read_text(encoding="utf-8"))):
            mods = []
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("thinbridge"):
                mods = [node.module]
            elif isinstance(node, ast.Import):
                mods = [a.name for a in node.names if a.name.startswith("thinbridge")]
            for m in mods:
                if not (m == "thinbridge" or m == "thinbridge.book" or m.startswith("thinbridge.book.")):
                    bad.append(f"{nb.name}:{node.lineno} {m}")
    assert bad == []

