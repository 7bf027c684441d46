"""``seqbench report``: the HTML page of a store, built from real trials.

One store is built once for the module: Reber (lstm, elman; nothing solves in 300 sequences)
through the CLI into one store; adding (lstm) through the CLI and, in this process through
``runner.plan/execute``, toy trials (an oracle, a learner right after a random number of
sequences, one never right, a one-trial configuration) and a set learner (the plugin guide's
ridge readout on lag-2a) into another, merged into the first with ``seqbench merge``.

The browser test opens the page in headless Chromium through Selenium; it skips locally when
Chromium, chromedriver or selenium is missing, and fails instead when ``$CI`` is ``true``
(``.ci/run`` installs them).
"""

from __future__ import annotations

import base64
import io
import os
import shutil
import subprocess
import sys
import types
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest
from fakes import Dunce, FirstBit, Oracle
from helpers import run_cli

from seqbench.hookspecs import hookimpl
from seqbench.params import Param
from seqbench.plugins import load_registry
from seqbench.runner import execute, plan
from seqbench.store import Store

TESTS = Path(__file__).parent
ROOT = TESTS.parent
TASKS = ["adding", "first-bit", "lag-2a", "reber"]



class Slowpoke(Oracle):
    """Answers wrong until a number of sequences drawn when built, right after."""

    name = "slowpoke"
    params = {**Oracle.params, "mean": Param(300, "mean sequences answered wrong", "int", low=1)}

    def build(self, spec, rng):
        super().build(spec, rng)
        self.after, self.trained = int(rng.exponential(self.params["mean"])), 0

    def train(self, block):
        out = self.predict(block)
        n = len(block.lengths)
        wrong = self.trained + np.arange(n) < self.after
        out[wrong, -1, 0] = 1.0 - out[wrong, -1, 0]
        self.trained += n
        return out


class ToyPlugin:
    @hookimpl
    def seqbench_register_tasks(self, register):
        register(FirstBit)

    @hookimpl
    def seqbench_register_learners(self, register):
        for cls in (Oracle, Dunce, Slowpoke):
            register(cls)


def _toy_trials(db: Path) -> None:
    """Instant trials, in this process: first-bit (an oracle, a learner right after a random
    number of sequences, one never right; a one-trial configuration) and the plugin guide's
    ridge readout, a set learner, on lag-2a."""
    guide = types.ModuleType("ridge_reservoir")
    exec(compile((ROOT / "docs" / "examples" / "ridge_reservoir.py").read_text(),
                 "ridge_reservoir.py", "exec"), guide.__dict__)
    registry = load_registry(extra_plugins=(ToyPlugin(), guide))
    configs = [*plan(registry, "first-bit", [("oracle", None), ("slowpoke", None),
                                             ("dunce", None)], trials=6),
               *plan(registry, "first-bit", [("oracle", None)], trials=1,
                     task_params={"need": "3"}),
               *plan(registry, "lag-2a", [("ridge-reservoir", None)], trials=2, budget=200,
                     task_params={"p": "4"})]
    with Store(db) as store:
        done = execute([s for c in configs for s in c.specs()], store, registry=registry)
    assert done.ran == 21 and not any(r["status"] == "error" for r in done.results.values())


#: ``seqbench report`` exactly as cli.py registers it (added here only if it is not yet)
REPORT_CLI = ("from seqbench.cli import cli, main; from seqbench.html_report import report; "
              "'report' in cli.commands or cli.add_command(report); main()")


def report_cli(args: list[str], env: dict | None = None, cwd: Path | None = None):
    return subprocess.run([sys.executable, "-c", REPORT_CLI, "report", *args],
                          capture_output=True, text=True, env={**os.environ, **(env or {})},
                          cwd=cwd, timeout=300)


def _ok(out: subprocess.CompletedProcess) -> subprocess.CompletedProcess:
    assert out.returncode == 0, out.stderr[-3000:]
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory) -> Path:
    """A merged store of real trials (see the module docstring)."""
    tmp = tmp_path_factory.mktemp("report")
    main, other = tmp / "main.db", tmp / "other.db"
    cmd = [sys.executable, "-c", "from seqbench.cli import main; main()"]
    # the two numba runs side by side (two cores), the instant toy trials meanwhile
    slow = [subprocess.Popen([*cmd, "compare", "--task", task, "--learners", learners, "--trials",
                              trials, "--budget", "300", "--db", str(db), "-q"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            for task, learners, trials, db in (("reber", "lstm,elman", "3", main),
                                               ("adding", "lstm", "2", other))]
    try:
        _toy_trials(other)
    finally:
        for p in slow:
            _, err = p.communicate(timeout=300)
            assert p.returncode == 0, err[-3000:]
    assert "merged 23 trials" in _ok(run_cli(["merge", str(other), "--db", str(main)])).stderr
    return main


@pytest.fixture(scope="module")
def page(store, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("page") / "report"
    done = _ok(report_cli(["--db", str(store), "--out", str(out)]))
    assert done.stdout.strip() == str(out / "index.html")
    assert "report of 4 tasks (29 trials, 16 figures)" in done.stderr
    return out / "index.html"


class Page(HTMLParser):
    """Sections (by id), the tables and images in each, and every image's source."""

    def __init__(self, text: str):
        super().__init__()
        self.sections: dict[str, dict] = {}
        self.current: dict | None = None
        self.images: list[str] = []
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "section":
            self.current = self.sections.setdefault(a.get("id"), {"tables": 0, "images": 0,
                                                                   "text": []})
        elif tag == "table" and self.current is not None:
            self.current["tables"] += 1
        elif tag == "img":
            self.images.append(a.get("src") or "")
            if self.current is not None:
                self.current["images"] += 1

    def handle_endtag(self, tag):
        if tag == "section":
            self.current = None

    def handle_data(self, data):
        if self.current is not None:
            self.current["text"].append(data)


def _check_png(data: bytes) -> None:
    from PIL import Image

    image = Image.open(io.BytesIO(data))
    assert image.format == "PNG" and image.width > 100 and image.height > 100
    colours = image.convert("RGB").getcolors(maxcolors=1 << 24)
    assert colours is not None and len(colours) > 2  # not blank


def test_the_page_has_a_section_per_task_with_its_table_and_four_non_empty_figures(page):
    parsed = Page(page.read_text(encoding="utf-8"))
    assert sorted(parsed.sections) == [f"task-{t}" for t in TASKS]
    assert all(s["tables"] == 1 and s["images"] == 4 for s in parsed.sections.values())
    assert len(parsed.images) == 16
    for src in parsed.images:  # every figure embedded (the page works on its own) and drawn
        assert src.startswith("data:image/png;base64,")
        _check_png(base64.b64decode(src.split(",", 1)[1]))
    pngs = sorted(page.parent.glob("*.png"))
    assert [p.name for p in pngs] == sorted(f"{t}-{k}.png" for t in TASKS
                                            for k in ("km", "curves", "success", "cost"))
    embedded = {base64.b64decode(s.split(",", 1)[1]) for s in parsed.images}
    assert {p.read_bytes() for p in pngs} == embedded  # the files beside are the same images

    text = {k: " ".join(s["text"]) for k, s in parsed.sections.items()}
    reber = text["task-reber"]
    # the table: labels, the Wilson interval, KM columns censored at the budget, the paper
    for cell in ("lstm97@exp1-3x2-lr0.5", "elman@exp1-15h", "0% [0-56]", ">300", "8,440",
                 "Table 1", "McNemar", "sign test"):
        assert cell in reber, cell
    assert "74,000" in text["task-adding"]  # the paper's mean for exp4-T100
    toy = text["task-first-bit"]
    # two oracle configurations told apart by the task parameter that differs
    assert "oracle -t need=3" in toy and "oracle -t need=5" in toy
    assert "slowpoke" in toy and "dunce" in toy and "(task plugin not installed)" in toy
    assert "ridge-reservoir" in text["task-lag-2a"]


def test_an_unknown_task_is_one_line_naming_the_tasks_in_the_store(store, tmp_path):
    bad = report_cli(["--db", str(store), "--task", "reberr", "--out", str(tmp_path / "x")])
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    line = bad.stderr.strip().splitlines()[-1]
    assert line.startswith("seqbench: error: unknown task 'reberr' in store ")
    assert "Did you mean 'reber'?" in line and line.endswith("Valid: " + ", ".join(TASKS))
    assert not (tmp_path / "x").exists()


def _lock(paths: list[Path]) -> bool:
    """Make files and directories unwritable, for root too (chattr +i); False if refused."""
    if os.geteuid() != 0:
        for p in paths:
            p.chmod(0o555 if p.is_dir() else 0o444)
        return True
    return subprocess.run(["chattr", "+i", *map(str, paths)], capture_output=True).returncode == 0


def _unlock(paths: list[Path]) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chattr", "-i", *map(str, paths)], capture_output=True)
    for p in paths:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_a_read_only_store_in_a_read_only_directory_gives_the_same_page(store, page, tmp_path):
    """Nothing in the store's directory may be written (no -wal/-shm either): the report reads
    the store as it is and draws the same figures."""
    folder = tmp_path / "ro"
    folder.mkdir()
    copy = folder / "copy.db"
    shutil.copyfile(store, copy)
    before = copy.read_bytes()
    locked = [copy, folder]
    if not _lock(locked):
        _unlock(locked)
        pytest.skip("cannot make a directory read-only for root here (chattr +i refused)")
    try:
        out = tmp_path / "out"
        _ok(report_cli(["--db", str(copy), "--task", "first-bit", "--out", str(out)]))
        assert sorted(p.name for p in folder.iterdir()) == ["copy.db"]
        assert copy.read_bytes() == before
    finally:
        _unlock(locked)
    assert (out / "first-bit-km.png").read_bytes() == \
        (page.parent / "first-bit-km.png").read_bytes()


def test_one_task_in_process_same_bytes_twice_and_bad_input_is_one_line(store, tmp_path):
    from seqbench.errors import SeqbenchError
    from seqbench.html_report import build_report

    a = build_report(store, tmp_path / "a", task="lag-2a")
    b = build_report(store, tmp_path / "b", task="lag-2a")
    assert a.tasks == ["lag-2a"] and a.trials == 2 and len(a.figures) == 4
    parsed = Page(a.index.read_text(encoding="utf-8"))
    assert list(parsed.sections) == ["task-lag-2a"] and len(parsed.images) == 4
    assert [p.read_bytes() for p in a.figures] == [p.read_bytes() for p in b.figures]
    assert a.index.read_text() == b.index.read_text()

    with Store(tmp_path / "empty.db"):
        pass
    problems = {
        "holds no trials": (tmp_path / "empty.db", tmp_path / "e"),
        "does not exist": (tmp_path / "none.db", tmp_path / "n"),
        "is not a directory": (store, a.index),  # --out names a file
    }
    for message, (db, out) in problems.items():
        with pytest.raises(SeqbenchError, match=message) as err:
            build_report(db, out)
        assert "\n" not in str(err.value)


def test_the_report_command_is_registered_and_listing_does_not_import_matplotlib():
    code = ("import sys, click; from seqbench.cli import cli; "
            "assert 'report' in cli.commands, sorted(cli.commands); "
            "assert 'matplotlib' not in sys.modules, 'matplotlib imported'; "
            "print(click.Context(cli.commands['report'], info_name='report').get_help())")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr[-2000:]
    assert all(option in done.stdout for option in ("--db", "--task", "--out"))


# -- the browser ------------------------------------------------------------------------------
def _browser_or_skip():
    """Headless Chromium through Selenium; skips (fails on CI) when any part is missing."""
    missing = []
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing.append("selenium (pip install -e '.[test]')")
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver")
    if not chromium:
        missing.append("chromium (apt-get install chromium)")
    if not driver_path:
        missing.append("chromedriver (apt-get install chromium-driver)")
    if missing:
        reason = "browser test needs " + ", ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; CI must install them (.ci/run)", pytrace=False)
        pytest.skip(reason)
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu",
                "--window-size=1280,1024"):
        options.add_argument(arg)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(options=options, service=Service(driver_path))


def test_in_a_real_browser_every_image_loads_and_the_console_has_no_errors(page):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait

    driver = _browser_or_skip()
    try:
        driver.get(page.resolve().as_uri())
        assert driver.title.startswith("seqbench report")
        WebDriverWait(driver, 30).until(
            lambda d: d.execute_script("return document.readyState") == "complete")
        images = driver.execute_script(
            "return Array.from(document.images).map(i => [i.alt, i.complete, i.naturalWidth, "
            "i.naturalHeight])")
        assert len(images) == 16
        broken = [alt for alt, complete, w, h in images if not (complete and w > 0 and h > 0)]
        assert not broken, f"images that did not load: {broken}"
        sections = driver.find_elements(By.CSS_SELECTOR, "section")
        assert [s.get_attribute("id") for s in sections] == [f"task-{t}" for t in TASKS]
        assert all(s.find_elements(By.CSS_SELECTOR, "table tbody tr") for s in sections)
        severe = [e for e in driver.get_log("browser") if e.get("level") == "SEVERE"]
        assert not severe, severe
    finally:
        driver.quit()


def test_the_browser_test_cannot_skip_on_ci(monkeypatch):
    """With $CI=true a missing browser is a failure, not a skip."""
    monkeypatch.setenv("CI", "true")
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(pytest.fail.Exception, match="CI must install them"):
        _browser_or_skip()
    monkeypatch.setenv("CI", "false")
    with pytest.raises(pytest.skip.Exception, match="chromium"):
        _browser_or_skip()


def test_the_success_figure_marks_timed_out_trials_apart_from_unsolved_ones(monkeypatch):
    from seqbench import plots

    def trial(status, sequences, solved_at=None):
        return {"status": status, "sequences": sequences, "sequences_to_success": solved_at}

    trials = [trial("solved", 40, 40), trial("budget_exhausted", 100), trial("timeout", 70),
              trial("timeout", 60)]
    config = plots.ConfigData(label="x", row={"paper": None}, trials=trials)
    seen = []

    def keep(fig):
        ax = fig.axes[0]
        seen.append(([t.get_text() for t in ax.get_legend().get_texts()],
                     {line.get_marker(): sorted(line.get_ydata()) for line in ax.lines
                      if line.get_linestyle() == "None"}))
        return b""

    monkeypatch.setattr(plots, "_png", keep)
    plots.success_figure([config], "reber")
    labels, points = seen[0]
    assert "timed out (censored), where it stopped" in labels
    assert "unsolved trial, at the sequences it ran" in labels
    assert points["s"] == [60.0, 70.0] and points["^"] == [100.0] and points["o"] == [40.0]
    plots.success_figure([plots.ConfigData(label="x", row={"paper": None}, trials=trials[:2])],
                         "reber")
    assert not any("timed out" in label for label in seen[1][0])
