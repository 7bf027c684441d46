"""A numba cache locator that invalidates seqbench's compiled kernels on any source edit.

numba's on-disk cache (``@njit(cache=True)``) stamps a compiled kernel with its *own* source
file only (numba 0.68: the file's content hash; older numba: its modification time and size).
A kernel that calls a jitted helper of another module (``recurrent/steps.py``'s ``logistic``,
or a shared ``seqbench/numerics.py``) has that helper compiled into it, so after an edit of the
helper numba silently loads the stale kernel from the cache.

:func:`install` puts :class:`TreeStampLocator` at the front of numba's locator list. For every
cached function whose source file lies under one of the covered directories (by default the
folders behind the ``seqbench``, ``seqbench_learners`` and ``seqbench_tasks`` packages), the
source stamp is a hash of the contents of every ``.py`` file under all covered directories:
coarse (an edit anywhere recompiles every covered kernel once) but always right for kernels that
import only from those packages, and an unchanged tree loads from the cache with no compilation.
Functions elsewhere keep numba's own locators and stamps.

The stamp is computed once per process (the first cached function that asks; a few ms for the
whole tree, see :func:`stamp_cost`) and then reused: numba takes a function's stamp when the
function is decorated, i.e. when its module is imported, so a tree edited while a process runs
is seen by the next process (or after :func:`refresh`). :func:`install` must run before the
kernel modules are imported (``seqbench/__init__.py`` is the place); it is idempotent.

Cache files go where numba would put them (``$NUMBA_CACHE_DIR`` if set, else the source's
``__pycache__``, else numba's user-wide directory) under numba's own file names; the stamp
stored in each index differs from numba's, so switching between installed and not simply
recompiles once. ``NUMBA_CACHE_LOCATOR_CLASSES``, when set, overrides every locator list,
this one included.
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.util
import os
import sys
import threading
import time
from collections.abc import Iterable

#: the import packages whose folders are covered by default
PACKAGES = ("seqbench", "seqbench_learners", "seqbench_tasks")

_lock = threading.Lock()
_roots: tuple[str, ...] | None = None  # covered directories (real paths), None: not installed
_stamp: str | None = None  # the tree hash of this process, computed on first use


def _caching():
    from numba.core import caching

    return caching


def package_roots(packages: Iterable[str] = PACKAGES) -> list[str]:
    """The directories behind the given import packages (found without importing them)."""
    roots = []
    for name in packages:
        try:
            spec = importlib.util.find_spec(name)
        except (ImportError, ValueError):
            spec = None
        if spec is None or not spec.submodule_search_locations:
            continue
        roots.extend(spec.submodule_search_locations)
    return roots


def _normalise(paths: Iterable[str | os.PathLike]) -> tuple[str, ...]:
    out: list[str] = []
    for p in paths:
        real = os.path.realpath(os.fspath(p))
        if real not in out:
            out.append(real)
    return tuple(sorted(out))


def covered_roots() -> tuple[str, ...]:
    """The directories :func:`install` covers (empty when it has not run)."""
    return _roots or ()


def source_files(roots: Iterable[str] | None = None) -> list[str]:
    """Every ``.py`` file under the covered directories, sorted (``__pycache__`` and hidden
    directories skipped)."""
    files: list[str] = []
    for root in (covered_roots() if roots is None else roots):
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = sorted(d for d in dirnames
                                 if d != "__pycache__" and not d.startswith("."))
            files.extend(os.path.join(dirpath, f) for f in filenames if f.endswith(".py"))
    return sorted(set(files))


def tree_hash(roots: Iterable[str] | None = None) -> str:
    """SHA-256 over the relative path and contents of every covered ``.py`` file."""
    roots = covered_roots() if roots is None else tuple(roots)
    h = hashlib.sha256()
    for path in source_files(roots):
        root = next((r for r in roots if path.startswith(r + os.sep)), "")
        h.update(os.path.relpath(path, root).encode() if root else path.encode())
        h.update(b"\0")
        try:
            with open(path, "rb") as f:
                h.update(hashlib.sha256(f.read()).digest())
        except OSError:  # vanished while we walked: its absence is part of the stamp
            h.update(b"missing")
    return h.hexdigest()


def current_stamp() -> str:
    """The tree hash of this process (computed once; :func:`refresh` forgets it)."""
    global _stamp
    with _lock:
        if _stamp is None:
            _stamp = tree_hash()
        return _stamp


def refresh() -> None:
    """Forget the stamp: functions decorated from now on hash the tree again."""
    global _stamp
    with _lock:
        _stamp = None


def covers(py_file: str) -> bool:
    """Whether ``py_file`` lies under a covered directory."""
    if not _roots:
        return False
    real = os.path.realpath(py_file)
    return any(real.startswith(root + os.sep) for root in _roots)


def _locator_base():
    return _caching()._CacheLocator


def _make_locator_class():
    caching = _caching()
    base = _locator_base()
    # numba 0.68 names the locators without a leading underscore; older releases had one
    in_tree = getattr(caching, "InTreeCacheLocator", None) or caching._InTreeCacheLocator
    user_wide = (getattr(caching, "UserWideCacheLocator", None)
                 or caching._UserWideCacheLocator)
    from numba.core import config

    class TreeStampLocator(base):
        """Cache locator for functions under the covered directories: numba's cache path,
        a stamp that hashes every covered source file (see the module docstring)."""

        def __init__(self, py_func, py_file, cache_path):
            self._py_file = py_file
            self._lineno = py_func.__code__.co_firstlineno
            self._cache_path = cache_path

        def get_cache_path(self):
            return self._cache_path

        def get_source_stamp(self):
            return ("seqbench-tree", current_stamp())

        def get_disambiguator(self):
            return str(self._lineno)

        @classmethod
        def from_function(cls, py_func, py_file):
            if not covers(py_file) or not os.path.exists(py_file):
                return None
            candidates = []
            if config.CACHE_DIR:  # as UserProvidedCacheLocator
                candidates.append(os.path.join(config.CACHE_DIR,
                                               cls.get_suitable_cache_subpath(py_file)))
            else:  # as InTreeCacheLocator, then UserWideCacheLocator
                candidates.append(in_tree(py_func, py_file).get_cache_path())
                candidates.append(user_wide(py_func, py_file).get_cache_path())
            for path in candidates:
                self = cls(py_func, py_file, path)
                try:
                    self.ensure_cache_path()
                except OSError:
                    continue
                return self
            return None

    TreeStampLocator.__module__ = __name__
    TreeStampLocator.__qualname__ = "TreeStampLocator"
    return TreeStampLocator


_locator_class = None


def locator_class():
    """The locator class (created on first use, so importing this module loads no numba)."""
    global _locator_class
    if _locator_class is None:
        _locator_class = _make_locator_class()
    return _locator_class


def install(extra_roots: Iterable[str | os.PathLike] = (),
            roots: Iterable[str | os.PathLike] | None = None) -> None:
    """Register the tree-stamp locator at the front of numba's locator list (idempotent).

    Covered: the folders of :data:`PACKAGES` (or ``roots`` when given) plus ``extra_roots``.
    A later call may add directories; the stamp is then recomputed for functions decorated
    afterwards. Cheap and numba-free when numba is not imported yet: the locator is then
    registered by an import hook the moment ``numba.core.caching`` has loaded, so ``import
    seqbench`` stays light (``seqbench list`` loads no numba).
    """
    global _roots, _stamp
    base = package_roots() if roots is None else list(roots)
    new = _normalise([*(_roots or ()), *base, *extra_roots])
    with _lock:
        if new != _roots:
            _roots = new
            _stamp = None
    if "numba.core.caching" in sys.modules:
        _register()
    elif not any(isinstance(f, _CachingImportHook) for f in sys.meta_path):
        sys.meta_path.insert(0, _CachingImportHook())


def _register() -> None:
    caching = _caching()
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    cls = locator_class()
    with _lock:
        if cls not in impl._locator_classes:
            impl._locator_classes.insert(0, cls)


class _CachingImportHook(importlib.abc.MetaPathFinder):
    """Registers the locator right after ``numba.core.caching`` has been executed."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "numba.core.caching":
            return None
        sys.meta_path.remove(self)  # one shot; find the real spec with the other finders
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        exec_module = loader.exec_module

        def exec_and_register(module):
            exec_module(module)
            if _roots is not None:
                _register()

        loader.exec_module = exec_and_register
        return spec


def uninstall() -> None:
    """Remove the locator from numba's list (functions already decorated keep theirs)."""
    global _roots, _stamp
    sys.meta_path[:] = [f for f in sys.meta_path if not isinstance(f, _CachingImportHook)]
    with _lock:
        if _locator_class is not None and "numba.core.caching" in sys.modules:
            caching = _caching()
            impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
            if _locator_class in impl._locator_classes:
                impl._locator_classes.remove(_locator_class)
        _roots, _stamp = None, None


def stamp_cost(repeat: int = 5) -> dict[str, float]:
    """Seconds to hash the covered tree (best of ``repeat``) and the files hashed."""
    roots = covered_roots() or _normalise(package_roots())
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        tree_hash(roots)
        best = min(best, time.perf_counter() - t0)
    files = source_files(roots)
    return {"seconds": best, "files": len(files),
            "bytes": sum(os.path.getsize(f) for f in files)}
