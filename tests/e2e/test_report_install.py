"""A non-editable install finds the report page's template, style sheet and sort script: they ship as package
data, and a report written by the installed package (not this checkout's src/) carries all three."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from helpers import ROOT

# Runs in the installed copy: two finished jobs and a failed one, compared into a report.
SCRIPT = """
import json, sys
from pathlib import Path
import convlab
from convlab.report.comparison_report import write_comparison_report

assert Path(convlab.__file__).is_relative_to(sys.argv[1]), convlab.__file__
sweep = Path(sys.argv[2])
for number, (model, acc, status) in enumerate([("mlp", 0.9, "ok"), ("lenet", 0.95, "ok"), ("cnn8", 0, "failed")]):
    record = {"status": status, "dataset": "digits", "model": model, "optim": "sgd", "loss": "ce",
              "overrides": [f"model={model}"], "test": {"acc": acc, "samples": 100}, "error": "boom"}
    (sweep / f"{number}_model={model}").mkdir(parents=True)
    (sweep / f"{number}_model={model}" / "results.json").write_text(json.dumps(record))
print(write_comparison_report([sweep], sweep)["report.html"])
"""


def test_a_non_editable_install_renders_the_report_from_its_package_data(tmp_path: Path) -> None:
    source = tmp_path / "source"  # a copy: building in the checkout would leave build/ and egg-info in it
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    target = tmp_path / "site"
    pip = [sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--no-index", "--quiet"]
    built = subprocess.run([*pip, "--target", str(target), str(source)], capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-3000:]
    assert not (target / "convlab" / "__editable__").exists() and (target / "convlab" / "report").is_dir()
    shipped = {p.name for p in (target / "convlab" / "report").iterdir()}
    assert {"report.html.j2", "report.css", "sort_table.js"} <= shipped
    shutil.rmtree(source)  # nothing left to read the files from but the installed copy

    env = {**os.environ, "PYTHONPATH": str(target)}  # the installed copy, ahead of any editable install
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(target), str(tmp_path / "sweep")],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    page = Path(proc.stdout.strip().splitlines()[-1]).read_text()
    css = (target / "convlab" / "report" / "report.css").read_text()
    script = (target / "convlab" / "report" / "sort_table.js").read_text()
    assert f"<style>{css}</style>" in page and f"<script>\n{script}</script>" in page  # inlined as shipped
    assert page.count('<tr class="ok"') == 2 and '<tr class="failed" title="boom">' in page
    assert '<h2 id="sec-unfinished">Jobs that did not finish</h2>' in page
