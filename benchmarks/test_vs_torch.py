"""Speed of seqbench's LSTM97 kernel against PyTorch at the paper's Experiment 1 size (Reber).

In ONE run, sequentially, in one process, on one thread each (numba's kernel is single-core;
torch runs with ``torch.set_num_threads(1)``), numba compile and first-call costs excluded
(``compile()`` and a warm-up call before timing), it measures the time per **trial-step** (one
time step of one trial's training: forward, backward and weight change) of

* ``ours``: LSTM97 at the Reber preset ``exp1-3x2-lr0.5`` (276 weights), ``learner.train`` on a
  100-sequence Reber block;
* ``ours x B``: B independent LSTM97 trials trained at once by ``LSTM97.train_batch`` (when the
  class has it), each on its own block from its own Reber stream;
* ``torch``: the torch-lstm learner at its Reber preset (nn.LSTM 7-4-7, 243 weights), full BPTT,
  one SGD step per sequence, one trial at a time (``learner.train`` on the same block);
* ``torch x B``: the same network and rule for B independent trials at once (per-trial weights,
  batched matrix products ``torch.bmm``, autograd), each lane on its own sequences, lanes
  advancing one sequence each in lock-step (padded to the longest; padding is counted as cost,
  not as trial-steps), one SGD step per lane and sequence.

Each figure is the median over ``repeats`` timed calls; the table gives trial-steps per second,
ns per trial-step and per weight-step, and the ratios torch/ours (how many times faster ours
is). Absolute times drift on shared machines; the ratios, measured in one run, drift less.

    pytest benchmarks/test_vs_torch.py --benchmark-enable -s     # or
    python benchmarks/test_vs_torch.py [--repeats N]

Without torch the module is skipped (pytest) or says so (script).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np
import pytest

try:
    import torch
except ImportError:  # the whole module is skipped below
    torch = None

from seqbench.contracts import TaskStreams
from seqbench.params import resolve_params
from seqbench_learners.lstm97.learner import LSTM97
from seqbench_learners.lstm97.presets import PRESETS as LSTM97_PRESETS
from seqbench_tasks.reber import EmbeddedReber

pytestmark = pytest.mark.skipif(
    torch is None, reason="torch-lstm needs PyTorch: pip install 'seqbench[torch]'")

OURS_PRESET = next(p for p in LSTM97_PRESETS if p.name == "exp1-3x2-lr0.5")
TORCH_PRESET_NAME = "exp1-h4"
BATCHES = (8, 16, 32)
SEQUENCES = 100


def _task() -> EmbeddedReber:
    return EmbeddedReber(**resolve_params(EmbeddedReber.params, {}, EmbeddedReber.name))


def reber_blocks(lanes: int, n: int = SEQUENCES):
    """One ``n``-sequence Reber training block per lane, each from its own streams (lane 0 is
    the block of benchmarks/test_lstm97_speed.py)."""
    task = _task()
    return [task.start(TaskStreams(*(np.random.default_rng(3 * k + i) for i in range(3))))
            .training_block(n) for k in range(lanes)]


def ours_learner(seed: int = 0) -> LSTM97:
    learner = LSTM97(**resolve_params(LSTM97.params, OURS_PRESET.learner_params, LSTM97.name))
    learner.build(_task().spec(), np.random.default_rng(seed))
    learner.compile()
    return learner


def torch_learner(seed: int = 0, **overrides):
    from seqbench_learners.torch_lstm.learner import TorchLSTM
    from seqbench_learners.torch_lstm.presets import PRESETS

    preset = next(p for p in PRESETS if p.name == TORCH_PRESET_NAME)
    learner = TorchLSTM(**resolve_params(TorchLSTM.params,
                                         {**preset.learner_params, **overrides}, TorchLSTM.name))
    learner.build(_task().spec(), np.random.default_rng(seed))
    learner.compile()
    return learner


class BatchedTorchLSTM:
    """B independent torch-lstm trials in one set of batched tensors: lane b's weights are
    ``W[b]``; one SGD step per lane and sequence, on that lane's own sequence. Equals B
    torch-lstm learners trained apart (to rounding; see the test below)."""

    def __init__(self, learners):
        from seqbench_learners.torch_lstm.learner import import_torch

        import_torch()
        first = learners[0]
        self.lr = float(first.params["learning_rate"])
        self.momentum = float(first.params["momentum"])
        self.dtype = first._dtype
        # per lane: W_ih (4H, m), W_hh (4H, H), b_ih (4H), b_hh (4H), W_y (K, H), b_y (K)
        self.weights = [torch.stack([p.detach().clone() for p in lane])
                        .requires_grad_(True) for lane in zip(*(ln._parameters() for ln in learners))]
        self.velocity = [torch.zeros_like(w) for w in self.weights] if self.momentum else None
        self.n_weights = first.n_weights

    def _logits(self, x):
        """Logits (B, T, K) of padded inputs (B, T, m), every lane from the zero state."""
        w_ih, w_hh, b_ih, b_hh, w_y, b_y = self.weights
        lanes, steps, _ = x.shape
        hidden = w_hh.shape[2]
        pre = torch.baddbmm((b_ih + b_hh).unsqueeze(1), x, w_ih.transpose(1, 2))  # (B, T, 4H)
        w_hh_t = w_hh.transpose(1, 2)
        h = torch.zeros((lanes, 1, hidden), dtype=self.dtype)
        c = torch.zeros((lanes, hidden), dtype=self.dtype)
        hs = []
        for t in range(steps):
            gates = pre[:, t] + torch.bmm(h, w_hh_t).squeeze(1)
            i, f, g, o = gates.chunk(4, dim=1)  # PyTorch's gate order
            c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
            h = (torch.sigmoid(o) * torch.tanh(c)).unsqueeze(1)
            hs.append(h)
        return torch.baddbmm(b_y.unsqueeze(1), torch.cat(hs, dim=1), w_y.transpose(1, 2))

    def train(self, blocks):
        """Train lane b on ``blocks[b]``, sequence by sequence; return each lane's outputs."""
        n = len(blocks[0])
        assert all(len(b) == n for b in blocks), "lanes advance in lock-step"
        steps = max(b.inputs.shape[1] for b in blocks)

        def stacked(field, width):
            out = np.zeros((len(blocks), n, steps, width))
            for k, b in enumerate(blocks):
                out[k, :, : b.inputs.shape[1]] = getattr(b, field)
            return torch.from_numpy(out).to(self.dtype)

        x = stacked("inputs", blocks[0].inputs.shape[2])
        d = stacked("targets", blocks[0].targets.shape[2])
        mask = np.zeros((len(blocks), n, steps))
        lengths = np.stack([b.lengths for b in blocks])  # (B, n)
        for k, b in enumerate(blocks):
            valid = np.arange(b.inputs.shape[1])[None, :] < b.lengths[:, None]
            mask[k, :, : b.inputs.shape[1]] = b.target_mask & valid
        mask = torch.from_numpy(mask).to(self.dtype)
        outputs = torch.zeros(d.shape, dtype=self.dtype)
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            for q in range(n):
                t = int(lengths[:, q].max())  # this round's longest sequence
                z = self._logits(x[:, q, :t])
                y = torch.sigmoid(z)
                outputs[:, q, :t] = y.detach()
                loss = 0.5 * (torch.square(y - d[:, q, :t]) * mask[:, q, :t].unsqueeze(-1)).sum()
                grads = torch.autograd.grad(loss, self.weights)
                with torch.no_grad():
                    for k, (w, g) in enumerate(zip(self.weights, grads)):
                        if self.velocity is not None:  # torch.optim.SGD's momentum
                            g = self.velocity[k].mul_(self.momentum).add_(g)
                        w.sub_(self.lr * g)
        finally:
            torch.set_num_threads(before)
        return [outputs[k, :, : b.inputs.shape[1]].numpy().astype(np.float64)
                for k, b in enumerate(blocks)]


def _time(call, repeats: int) -> float:
    """Median wall seconds of ``repeats`` calls, after one untimed warm-up call."""
    call()
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        call()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _row(name: str, trials: int, trial_steps: int, seconds: float, n_weights: int) -> dict:
    ns = seconds / trial_steps * 1e9
    return {"name": name, "trials": trials, "trial_steps": trial_steps, "seconds": seconds,
            "n_weights": n_weights, "ns_per_trial_step": ns, "trial_steps_per_s": 1e9 / ns,
            "ns_per_weight_step": ns / n_weights}


def measure(repeats: int = 3, batches=BATCHES) -> dict:
    """Every configuration, sequentially in this process; returns rows and ratios."""
    widest = max(batches) if batches else 1
    blocks = reber_blocks(widest)
    rows = {}

    ours = ours_learner()
    rows["ours"] = _row("ours (LSTM97, 1 trial)", 1, blocks[0].n_steps,
                        _time(lambda: ours.train(blocks[0]), repeats), ours.n_weights)
    batched_ours, note = hasattr(LSTM97, "train_batch"), ""
    if not batched_ours:
        note = "LSTM97 has no train_batch here: ours measured unbatched only"
    try:
        for b in batches if batched_ours else ():
            learners = [ours_learner(seed) for seed in range(b)]
            lanes = blocks[:b]
            rows[f"ours x{b}"] = _row(
                f"ours (LSTM97.train_batch, {b} trials)", b, sum(k.n_steps for k in lanes),
                _time(lambda: LSTM97.train_batch(learners, lanes), repeats),
                learners[0].n_weights)
    except Exception as exc:  # another session's work in progress: report, measure the rest
        batched_ours = False
        rows = {k: v for k, v in rows.items() if not k.startswith("ours x")}
        note = f"LSTM97.train_batch failed ({type(exc).__name__}: {exc}); ours unbatched only"

    tl = torch_learner()
    rows["torch"] = _row("torch (nn.LSTM, 1 trial)", 1, blocks[0].n_steps,
                         _time(lambda: tl.train(blocks[0]), repeats), tl.n_weights)
    for b in batches:
        net = BatchedTorchLSTM([torch_learner(seed) for seed in range(b)])
        lanes = blocks[:b]
        rows[f"torch x{b}"] = _row(f"torch (bmm, {b} trials)", b, sum(k.n_steps for k in lanes),
                                   _time(lambda: net.train(lanes), repeats), net.n_weights)

    pairs = [("ours", "torch")] + [("ours", f"torch x{b}") for b in batches]
    if batched_ours:
        pairs += [(f"ours x{b}", f"torch x{b}") for b in batches]
    ratios = {}
    for a, t in pairs:
        ratios[f"{t} / {a}"] = {
            "per_trial_step": rows[t]["ns_per_trial_step"] / rows[a]["ns_per_trial_step"],
            "per_weight_step": rows[t]["ns_per_weight_step"] / rows[a]["ns_per_weight_step"],
        }
    return {"rows": rows, "ratios": ratios, "repeats": repeats, "ours_batched": batched_ours,
            "note": note, "torch_version": torch.__version__}


def table(result: dict) -> str:
    lines = [f"{'configuration':<38} {'W':>4} {'trial-steps':>11} {'steps/s':>11} "
             f"{'ns/step':>11} {'ns/weight-step':>15}"]
    for r in result["rows"].values():
        lines.append(f"{r['name']:<38} {r['n_weights']:>4} {r['trial_steps']:>11,} "
                     f"{r['trial_steps_per_s']:>11,.0f} {r['ns_per_trial_step']:>11,.0f} "
                     f"{r['ns_per_weight_step']:>15,.1f}")
    lines.append("")
    lines.append(f"{'ratio (time, torch / ours)':<38} {'per trial-step':>15} {'per weight-step':>16}")
    for name, q in result["ratios"].items():
        lines.append(f"{name:<38} {q['per_trial_step']:>15,.1f} {q['per_weight_step']:>16,.1f}")
    if result["note"]:
        lines.append(f"({result['note']})")
    lines.append(f"median of {result['repeats']} timed calls each; torch {result['torch_version']}, "
                 "one thread each")
    return "\n".join(lines)


# --- pytest -------------------------------------------------------------------------------------


def test_batched_torch_equals_torch_lstm_trained_apart():
    """The batched PyTorch trainer is the torch-lstm rule: two lanes trained together give the
    weights and outputs of two torch-lstm learners trained one by one on the same sequences."""
    blocks = [b.take(slice(0, 6)) for b in reber_blocks(2)]
    apart = [torch_learner(seed, momentum=0.5) for seed in range(2)]
    net = BatchedTorchLSTM([torch_learner(seed, momentum=0.5) for seed in range(2)])
    together = net.train(blocks)
    for k in range(2):
        out = apart[k].train(blocks[k])
        valid = np.arange(out.shape[1])[None, :] < blocks[k].lengths[:, None]
        np.testing.assert_allclose(together[k][valid], out[valid], rtol=0, atol=1e-12)
        w = torch.cat([w[k].detach().reshape(-1) for w in net.weights]).numpy()
        np.testing.assert_allclose(w, apart[k].get_weights(), rtol=0, atol=1e-12)


@pytest.fixture(scope="session")
def vs_torch(request):
    """All measurements in one run; one timed call each when benchmarks are disabled."""
    disabled = request.config.getoption("benchmark_disable", default=False)
    return measure(repeats=1 if disabled else 5)


def test_vs_torch(benchmark, vs_torch):
    block = reber_blocks(1)[0]
    learner = ours_learner()
    learner.train(block)  # warm-up
    benchmark.pedantic(learner.train, args=(block,), rounds=3, iterations=1)
    benchmark.extra_info.update(
        {f"{key}.{k}": v for key, r in vs_torch["rows"].items() for k, v in r.items()
         if k != "name"})
    benchmark.extra_info.update(
        {f"ratio {name}.{k}": v for name, q in vs_torch["ratios"].items() for k, v in q.items()})
    print("\n" + table(vs_torch))
    for r in vs_torch["rows"].values():
        assert np.isfinite(r["ns_per_trial_step"]) and r["ns_per_trial_step"] > 0


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed calls per configuration")
    args = parser.parse_args(argv)
    if torch is None:
        raise SystemExit("torch-lstm needs PyTorch: pip install 'seqbench[torch]'")
    print(table(measure(repeats=args.repeats)))


if __name__ == "__main__":
    main()
