"""On a shared Dask cluster, Ctrl-C stops the command's trials cooperatively, between blocks:
the cluster's worker stays alive and is free again within seconds, instead of running an
abandoned trial to its end."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time

import pytest

distributed = pytest.importorskip("distributed")


def _spawn(module: str, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", module, *args], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _executing(client) -> int:
    counts = client.run(lambda dask_worker: len(dask_worker.state.executing))
    return sum(counts.values())


def test_ctrl_c_releases_a_shared_workers_thread_between_blocks(tmp_path):
    file = tmp_path / "scheduler.json"
    scheduler = _spawn("distributed.cli.dask_scheduler", "--host", "127.0.0.1", "--port", "0",
                       "--no-dashboard", "--scheduler-file", str(file))
    worker = None
    try:
        deadline = time.time() + 60
        while not file.exists() and time.time() < deadline:
            time.sleep(0.2)
        worker = _spawn("distributed.cli.dask_worker", "--nthreads", "1", "--nworkers", "1",
                        "--no-nanny", "--no-dashboard", "--scheduler-file", str(file))
        address = json.loads(file.read_text())["address"]
        with distributed.Client(address, timeout=30) as client:
            client.wait_for_workers(1, timeout=60)
            command = subprocess.Popen(
                [sys.executable, "-c", "from seqbench.cli import main; main()", "compare",
                 "--task", "reber", "--learners", "lstm", "--trials", "1", "--budget",
                 "5000000", "--executor", "dask", "--scheduler", address, "--db",
                 str(tmp_path / "d.db"), "-q"], stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE, text=True)
            deadline = time.time() + 90
            while _executing(client) == 0 and time.time() < deadline:
                time.sleep(0.5)
            assert _executing(client) == 1, "the trial never started on the worker"
            time.sleep(2)  # it is training now (a 5-million-sequence trial: many minutes)
            command.send_signal(signal.SIGINT)
            _, err = command.communicate(timeout=60)
            assert command.returncode == 130, err
            deadline = time.time() + 20
            while _executing(client) and time.time() < deadline:
                time.sleep(0.5)
            assert _executing(client) == 0, "the cancelled trial still occupies the worker"
            assert worker.poll() is None, "the shared worker was killed"
    finally:
        for proc in (worker, scheduler):
            if proc is not None:
                proc.kill()
                proc.wait()
