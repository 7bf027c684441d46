"""The example third-party plugin (examples/seqbench-gru) installs with pip, shows up in
``seqbench plugins``, runs through ``seqbench compare`` beside a built-in, and passes the
conformance kit; its GRU kernel equals its NumPy reference.

The package is pip-installed into a temporary directory (``pip install --target``), which the
tests put on PYTHONPATH, and removed afterwards: the environment's ``pip list`` never changes.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from helpers import run_cli

from seqbench.contracts import TaskSpec
from seqbench.testing import LEARNER_CHECKS, TASK_CHECKS, random_block

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "seqbench-gru"


def _installed_here() -> bool:
    """Whether this interpreter finds a distribution called seqbench-gru."""
    try:
        importlib.metadata.distribution("seqbench-gru")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


INSTALLED_BEFORE = _installed_here()


def _pip_install_args(source: Path, target: Path) -> list[str]:
    """Build in this environment when it can build wheels itself (fast, offline); else let pip
    fetch the build backend. Installs into ``target`` only."""
    can_build_here = importlib.util.find_spec("wheel") is not None
    try:
        import setuptools

        major, minor = (int(p) for p in setuptools.__version__.split(".")[:2])
        can_build_here = can_build_here or (major, minor) >= (70, 1)
    except ImportError:
        can_build_here = False
    isolation = ["--no-build-isolation"] if can_build_here else []
    return [sys.executable, "-m", "pip", "install", "--no-deps", "--no-compile",
            "--disable-pip-version-check", *isolation, "--target", str(target), str(source)]


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The env (PYTHONPATH) under which the example package is installed: pip-installed into a
    temporary directory, from a copy of its source (so no build files land in the source tree),
    and deleted afterwards."""
    probe = subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip(f"pip is not available in this interpreter: {probe.stderr.decode()[-300:]}")
    root = tmp_path_factory.mktemp("seqbench-gru")
    source, target = root / "src", root / "site"
    shutil.copytree(EXAMPLE, source, ignore=shutil.ignore_patterns(
        "*.egg-info", "__pycache__", "build", "dist"))
    done = subprocess.run(_pip_install_args(source, target), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, f"pip install --target failed:\n{done.stdout}\n{done.stderr}"
    yield {"PYTHONPATH": os.pathsep.join(filter(None, [str(target),
                                                       os.environ.get("PYTHONPATH")]))}
    shutil.rmtree(root, ignore_errors=True)


def test_seqbench_plugins_lists_the_example_with_its_version(installed):
    out = run_cli(["plugins", "--json"], installed)
    assert out.returncode == 0, out.stderr
    plugins = {p["name"]: p for p in json.loads(out.stdout)}
    gru, copy_memory = plugins["gru"], plugins["copy-memory"]
    for record in (gru, copy_memory):
        assert record["distribution"] == "seqbench-gru" and record["version"] == "0.1.0"
        assert record["source"] == "entry point" and record["status"] == "loaded"
        assert record["error"] is None
    assert gru["learners"] == ["gru"]
    assert sorted(gru["presets"]) == ["gru/copy-memory-h32", "lstm97/copy-memory-4x2"]
    assert copy_memory["tasks"] == ["copy-memory"]


def test_compare_runs_the_example_beside_a_builtin(installed, tmp_path):
    out = run_cli(["compare", "--task", "copy-memory", "--learners", "gru,lstm", "--trials", "2",
                   "--budget", "200", "-t", "symbols=3", "-t", "length=2", "-t", "delay=4",
                   "--db", str(tmp_path / "store.db"), "--format", "json", "-q"], installed)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)["rows"]
    assert [r["learner"] for r in rows] == ["gru", "lstm97"]
    assert [r["preset"] for r in rows] == ["copy-memory-h32", "copy-memory-4x2"]
    for row in rows:
        assert row["trials"] == 2 and row["n_weights"] > 0
        assert row["statuses"]["budget_exhausted"] + row["statuses"]["solved"] == 2, row
    # gru: 3 x 32 x (5 + 32 + 1) gate and candidate weights, 4 x (32 + 1) output weights
    assert rows[0]["n_weights"] == 3 * 32 * 38 + 4 * 33


def test_the_installed_plugin_passes_the_conformance_kit(installed):
    """In a fresh interpreter, through the registry, as a user's test suite would run it."""
    code = textwrap.dedent("""
        from seqbench.plugins import load_registry
        from seqbench.testing import check_learner, check_task
        registry = load_registry()
        gru, copy_memory = registry.learner("gru"), registry.task("copy-memory")
        outcomes = [check_learner(gru), check_learner(gru, task=copy_memory),
                    check_task(copy_memory)]
        assert all(set(o.values()) == {"passed"} for o in outcomes), outcomes
        print(sum(len(o) for o in outcomes))
    """)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=300, env={**os.environ, **installed})
    assert out.returncode == 0, out.stderr
    assert int(out.stdout) == 2 * len(LEARNER_CHECKS) + len(TASK_CHECKS)


def test_the_environment_is_left_as_it_was(installed):
    """The install went to the temporary directory: this interpreter does not see it."""
    assert _installed_here() == INSTALLED_BEFORE
    target = installed["PYTHONPATH"].split(os.pathsep)[0]
    assert (Path(target) / "seqbench_gru" / "gru.py").is_file()


# --- the example's own numerics (imported from the source tree, install or not) -----------------


@pytest.fixture(scope="module")
def gru_modules():
    sys.path.insert(0, str(EXAMPLE))
    try:
        from seqbench_gru import copy_memory, learner, reference
        yield learner, reference, copy_memory
    finally:
        sys.path.remove(str(EXAMPLE))


def _random_gru(learner_module, rng, hidden=5, spec=TaskSpec(3, 2)):
    gru = learner_module.GRU(hidden=hidden, learning_rate=0.3, init_range=0.3, clip=0.0)
    gru.build(spec, rng)
    gru.set_weights(rng.uniform(-1.0, 1.0, gru.n_weights))
    return gru


def test_gru_kernel_equals_the_numpy_reference(gru_modules):
    learner, reference, _ = gru_modules
    rng = np.random.default_rng(5)
    gru = _random_gru(learner, rng)
    block = random_block(TaskSpec(3, 2), rng, [6, 2, 4])
    outputs = gru.predict(block)
    expected = np.zeros(gru.n_weights)
    for i, t in enumerate(block.lengths):
        args = (block.inputs[i, :t], block.targets[i, :t], block.target_mask[i, :t])
        np.testing.assert_allclose(outputs[i, :t],
                                   reference.forward(gru.shape, gru.w, args[0])["y"], atol=1e-13)
        expected += reference.gradient(gru.shape, gru.w, *args)
    np.testing.assert_allclose(gru.loss_gradient(block), expected, rtol=1e-10, atol=1e-13)


def test_gru_reference_gradient_equals_finite_differences(gru_modules):
    learner, reference, _ = gru_modules
    rng = np.random.default_rng(6)
    gru = _random_gru(learner, rng, hidden=3)
    block = random_block(TaskSpec(3, 2), rng, [5])
    args = (block.inputs[0], block.targets[0], block.target_mask[0])
    w, eps = gru.w.copy(), 1e-6
    numeric = np.array([(reference.loss(gru.shape, w + eps * e, *args)
                         - reference.loss(gru.shape, w - eps * e, *args)) / (2 * eps)
                        for e in np.eye(len(w))])
    np.testing.assert_allclose(reference.gradient(gru.shape, w, *args), numeric, atol=1e-8)


def test_gru_training_applies_each_sequences_gradient_at_its_end(gru_modules):
    learner, reference, _ = gru_modules
    rng = np.random.default_rng(7)
    gru = _random_gru(learner, rng)
    block = random_block(TaskSpec(3, 2), rng, [4, 3])
    w = gru.w.copy()
    outputs = gru.train(block)
    for i, t in enumerate(block.lengths):
        args = (block.inputs[i, :t], block.targets[i, :t], block.target_mask[i, :t])
        np.testing.assert_allclose(outputs[i, :t], reference.forward(gru.shape, w, args[0])["y"],
                                   atol=1e-13)
        w = w - 0.3 * reference.gradient(gru.shape, w, *args)
    np.testing.assert_allclose(gru.w, w, atol=1e-13)


def test_copy_memory_layout_and_why_a_constant_blank_scores_zero(gru_modules):
    *_, copy_memory = gru_modules
    rng = np.random.default_rng(8)
    block = copy_memory.copy_memory_block(rng, 50, symbols=8, length=10, delay=100)
    assert block.inputs.shape == (50, 120, 10) and block.targets.shape == (50, 120, 9)
    codes, wanted = block.inputs.argmax(axis=2), block.targets.argmax(axis=2)
    assert (codes[:, :10] == block.extras["recall"]).all() and (codes[:, 109] == 9).all()
    assert (wanted[:, 110:] == block.extras["recall"]).all() and (wanted[:, :110] == 8).all()
    blank = np.zeros(block.targets.shape)
    blank[:, :, 8] = 1.0
    assert (blank.argmax(axis=2) == wanted).mean() > 0.9  # per-step accuracy would reward it
    run = copy_memory.CopyMemory(symbols=8, length=10, delay=100, successes=100).start(None)
    correct, symbol_error = run.judge(block, blank)
    assert not correct.any() and (symbol_error == 1.0).all()
    correct, symbol_error = run.judge(block, block.targets)
    assert correct.all() and (symbol_error == 0.0).all()
