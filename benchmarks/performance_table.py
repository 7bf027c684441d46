"""The README's performance table, regenerated: ``python benchmarks/performance_table.py``.

Runs ``seqbench profile --format json`` for every learner at a paper preset (Reber where it
has one; the chunker on 2a, guessing on parity; LSTM97 also on the Exp. 2a, 2c and adding
presets; torch-lstm when torch is installed), one after the other, then the scaling probes, and
prints Markdown tables: ns per step and per weight-step, the share of a trial's wall time spent
outside the learner's kernels, compile time; the exponent of cost against weights with its 95 %
interval; and the start-up time of a second CLI run (warm numba cache). Sequential by design:
timings from parallel runs mean little. Takes a few minutes.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time

ROWS = [  # learner, preset, task
    ("lstm97", "exp1-3x2-lr0.5", "reber"),
    ("lstm97", "exp1-4x1-lr0.5", "reber"),
    ("bptt", None, "reber"),
    ("elman", None, "reber"),
    ("rtrl", "exp1-3h-lr0.05", "reber"),
    ("rtrl", "exp1-12h-lr0.1", "reber"),
    ("rcc", None, "reber"),
    ("lstm-vanilla", "greff-reber-6b-lr0.05", "reber"),
    ("torch-lstm", "exp1-h4", "reber"),
    ("chunker", "exp2a-p100", "lag-2a"),
    ("guessing", "guess-parity-a1", "parity"),
    ("lstm97", "exp2a-p100", "lag-2a"),
    ("lstm97", "exp2c-q100-p100", "lag-2c"),
    ("lstm97", "exp4-T100", "adding"),
]
SCALING = [  # learner, task, sizes
    ("lstm97", "reber", "2,4,8,16"),
    ("bptt", "reber", "12,24,48,96"),
    ("elman", "reber", "12,24,48,96"),
    ("rtrl", "reber", "3,6,12,24"),
]


def profile(*args: str) -> dict:
    out = subprocess.run([sys.executable, "-m", "seqbench.cli", "profile", "--format", "json",
                          "-q", *args], capture_output=True, text=True)
    if out.returncode != 0:
        return {"error": (out.stderr.strip().splitlines() or ["?"])[-1]}
    return json.loads(out.stdout)


def main() -> None:
    print("| learner | preset | task | W | ns/step | ns per weight-step | outside kernels "
          "| compile s |")
    print("|---|---|---|---|---|---|---|---|")
    for learner, preset, task in ROWS:
        args = ["--task", task, "--learner", learner, "--no-memory"]
        if preset:
            args += ["--preset", preset]
        r = profile(*args)
        if "error" in r:
            print(f"| {learner} | {preset or 'default'} | {task} | | {r['error']} | | | |")
            continue
        print(f"| {learner} | {r.get('preset') or 'default'} | {task} | {r['n_weights']} | "
              f"{r['ns_per_step']:,.0f} | {r['ns_per_weight_step']:.2f} | "
              f"{100 * r['outside_share']:.0f} % | {r['compile_s']:.1f} |")
    print()
    print("| learner | sizes | exponent b (cost per step ∝ W^b) | 95 % interval |")
    print("|---|---|---|---|")
    for learner, task, sizes in SCALING:
        r = profile("--task", task, "--learner", learner, "--sizes", sizes, "--no-memory",
                    "--plot", f"{tempfile.gettempdir()}/scaling-{learner}.png")
        sc = r.get("scaling") or {}
        b, lo, hi = sc.get("exponent"), sc.get("exponent_lo"), sc.get("exponent_hi")
        print(f"| {learner} | {sizes} | {b:.2f} | [{lo:.2f}, {hi:.2f}] |" if b is not None
              and lo is not None else f"| {learner} | {sizes} | {r.get('error', '?')} | |")
    print()
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "seqbench.cli", "run", "--task", "reber", "--learner",
               "lstm", "--budget", "10", "-q", "--db", f"{tmp}/s.db"]
        subprocess.run(cmd, capture_output=True)
        t0 = time.perf_counter()
        subprocess.run([*cmd[:-1], f"{tmp}/t.db"], capture_output=True)
        print(f"start-up of a second CLI run (one 10-sequence LSTM97 trial, warm cache): "
              f"{time.perf_counter() - t0:.1f} s")


if __name__ == "__main__":
    main()
