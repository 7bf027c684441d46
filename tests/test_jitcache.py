"""seqbench.jitcache: numba's on-disk cache invalidated by an edit of any covered source file.

Each check runs a tiny package of two modules (a cached kernel calling a cached helper of the
other module) in fresh interpreters, with its own temporary copy of the package and its own
NUMBA_CACHE_DIR, and reads numba's dispatcher counters (``stats.cache_hits`` /
``cache_misses``). The locator covers only the temporary package here
(``install(roots=[...])``), so edits other sessions make to seqbench's own tree meanwhile cannot
change the outcome.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import seqbench
from seqbench import jitcache

HELPER = """
from numba import njit


@njit(cache=True)
def bump(x):
    return x + {step}
"""

KERNEL = """
from numba import njit

from .helper import bump


@njit(cache=True)
def run(x):
    return bump(x) * 2.0
"""

#: run in a fresh interpreter: argv[1] "install" or "default", argv[2] the covered root
SCRIPT = """
import json, sys
if sys.argv[1] == "install":
    from seqbench import jitcache
    jitcache.install(roots=[sys.argv[2]])
    lazy = "numba" not in sys.modules
else:
    lazy = None
from jcpkg.kernel import run
value = run(1.0)
print(json.dumps({
    "value": value,
    "hits": sum(run.stats.cache_hits.values()),
    "misses": sum(run.stats.cache_misses.values()),
    "locator": type(run._cache._impl.locator).__name__,
    "lazy": lazy,
}))
"""

#: the directory that holds the seqbench package this test imports
SEQBENCH_PARENT = str(Path(seqbench.__file__).resolve().parent.parent)


@pytest.fixture
def pkg(tmp_path):
    """A temporary package ``jcpkg`` (kernel + helper); returns (src dir, package dir)."""
    src = tmp_path / "src"
    package = src / "jcpkg"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "helper.py").write_text(HELPER.format(step="1.0"))
    (package / "kernel.py").write_text(KERNEL)
    (tmp_path / "script.py").write_text(SCRIPT)
    return tmp_path, package


def _run(tmp_path: Path, package: Path, mode: str, cache_dir: bool = True,
         root: Path | None = None) -> dict:
    env = {k: v for k, v in os.environ.items()
           if k not in ("NUMBA_CACHE_DIR", "NUMBA_CACHE_LOCATOR_CLASSES", "NUMBA_DISABLE_JIT")}
    env["PYTHONPATH"] = os.pathsep.join([str(tmp_path / "src"), SEQBENCH_PARENT])
    env["PYTHONDONTWRITEBYTECODE"] = "1"  # an edit within the same second is still seen
    if cache_dir:
        env["NUMBA_CACHE_DIR"] = str(tmp_path / "numba-cache")
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "script.py"), mode, str(root or package)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _edit_helper(package: Path) -> None:
    (package / "helper.py").write_text(HELPER.format(step="100.0"))


def test_unchanged_tree_loads_from_cache(pkg):
    tmp_path, package = pkg
    first = _run(tmp_path, package, "install")
    assert first["locator"] == "TreeStampLocator"
    assert (first["value"], first["hits"], first["misses"]) == (4.0, 0, 1)
    second = _run(tmp_path, package, "install")
    assert (second["value"], second["hits"], second["misses"]) == (4.0, 1, 0)  # no compile


@pytest.mark.parametrize("cache_dir", [True, False], ids=["NUMBA_CACHE_DIR", "__pycache__"])
def test_helper_edit_recompiles_the_kernel(pkg, cache_dir):
    tmp_path, package = pkg
    assert _run(tmp_path, package, "install", cache_dir)["value"] == 4.0
    _edit_helper(package)
    after = _run(tmp_path, package, "install", cache_dir)
    assert (after["value"], after["hits"], after["misses"]) == (202.0, 0, 1)
    again = _run(tmp_path, package, "install", cache_dir)
    assert (again["value"], again["hits"], again["misses"]) == (202.0, 1, 0)
    if not cache_dir:
        assert any(p.suffix == ".nbi" for p in (package / "__pycache__").iterdir())


def test_numba_default_locator_misses_the_helper_edit(pkg):
    """The failure the locator exists for (and proof that the checks above can fail): without
    install(), the kernel's stamp covers kernel.py only, so the stale kernel is loaded."""
    tmp_path, package = pkg
    first = _run(tmp_path, package, "default")
    assert first["locator"] != "TreeStampLocator" and first["value"] == 4.0
    _edit_helper(package)
    stale = _run(tmp_path, package, "default")
    assert (stale["value"], stale["hits"], stale["misses"]) == (4.0, 1, 0)


def test_functions_outside_the_covered_roots_keep_numba_locators(pkg, tmp_path):
    tmp, package = pkg
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = _run(tmp, package, "install", root=elsewhere)
    assert out["locator"] == "UserProvidedCacheLocator" and out["value"] == 4.0


def test_install_is_lazy_and_idempotent(pkg):
    """install() before numba is imported loads no numba (``import seqbench`` stays light);
    the locator is registered once, when numba's caching module loads."""
    tmp_path, package = pkg
    assert _run(tmp_path, package, "install")["lazy"] is True
    code = textwrap.dedent("""
        import sys
        from seqbench import jitcache
        jitcache.install(); jitcache.install()
        assert "numba" not in sys.modules
        from numba.core import caching
        jitcache.install()
        print(caching.CacheImpl._locator_classes.count(jitcache.locator_class()),
              caching.CacheImpl._locator_classes[0].__name__)
    """)
    env = {**os.environ, "PYTHONPATH": SEQBENCH_PARENT}
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env=env, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split() == ["1", "TreeStampLocator"]


def test_default_roots_are_seqbench_package_folders():
    roots = {os.path.realpath(r) for r in jitcache.package_roots()}
    here = Path(seqbench.__file__).resolve().parent
    assert str(here) in roots
    for name in ("seqbench_learners", "seqbench_tasks"):
        module = __import__(name)
        assert {os.path.realpath(p) for p in module.__path__} <= roots


def test_tree_hash_is_cheap_and_content_sensitive(tmp_path):
    cost = jitcache.stamp_cost(repeat=3)
    print(f"\ntree hash of seqbench's own folders: {cost['files']} files, "
          f"{cost['bytes'] / 1e3:.0f} kB, {cost['seconds'] * 1e3:.1f} ms")
    assert cost["files"] > 10 and cost["seconds"] < 1.0
    (tmp_path / "a.py").write_text("x = 1\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.py").write_text("y = 2\n")
    (tmp_path / "notes.txt").write_text("ignored")
    before = jitcache.tree_hash([str(tmp_path)])
    (tmp_path / "notes.txt").write_text("still ignored")
    assert jitcache.tree_hash([str(tmp_path)]) == before
    (tmp_path / "sub" / "b.py").write_text("y = 3\n")
    assert jitcache.tree_hash([str(tmp_path)]) != before
