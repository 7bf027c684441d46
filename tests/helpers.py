"""Test helpers: run the CLI in a fresh interpreter, install fake plugins as real entry points."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path


def run_cli(args: list[str], env: dict | None = None, cwd: Path | None = None,
            timeout: float = 300) -> subprocess.CompletedProcess:
    """Run ``seqbench ARGS`` in a fresh interpreter (so entry points and env vars are real)."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run(
        [sys.executable, "-c", "from seqbench.cli import main; main()", *args],
        capture_output=True, text=True, env=full_env, cwd=cwd, timeout=timeout,
    )


def make_plugin_dist(root: Path, dist: str, plugins: dict[str, str]) -> dict[str, str]:
    """Install fake plugins as a distribution ``dist`` on a path of its own.

    ``plugins`` maps entry-point names to module source code. Returns the env that makes the
    distribution visible (PYTHONPATH).
    """
    info = root / f"{dist}-1.2.3.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: 1.2.3\n")
    lines = ["[seqbench]"]
    for name, source in plugins.items():
        module = f"{dist}_{name}".replace("-", "_")
        (root / f"{module}.py").write_text(textwrap.dedent(source))
        lines.append(f"{name} = {module}")
    (info / "entry_points.txt").write_text("\n".join(lines) + "\n")
    return {"PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}


def plugins_json(env: dict | None = None) -> dict[str, dict]:
    out = run_cli(["plugins", "--json"], env)
    assert out.returncode == 0, out.stderr
    return {p["name"]: p for p in json.loads(out.stdout)}
