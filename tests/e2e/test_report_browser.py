"""report.html in a real browser: headless Chromium renders the tables and every embedded image."""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import QUICK

from convlab.report.comparison_report import write_comparison_report
from convlab.run.train import train
from convlab.runfiles.results import read_results

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def require_chromium() -> None:
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing: CI must apt-get install chromium")
        pytest.skip("apt-get install chromium to run this test")


def dom_probe(measure: str) -> str:
    """A script that runs ``measure`` (JavaScript that sets ``result``) once the page has loaded and writes the
    result as JSON into the DOM, which --dump-dom prints."""
    out = 'const out = document.createElement("pre"); out.id = "probe"; out.textContent = JSON.stringify(result);'
    out += " document.body.append(out);"
    return f'<script>\nwindow.addEventListener("load", () => {{\n{measure}  {out}\n}});\n</script>'


# What the browser made of the page: its images and tables.
PROBE = dom_probe("""
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const result = {
    images: [...document.images].map((i) => ({file: i.dataset.file, complete: i.complete, width: i.naturalWidth,
                                              height: i.naturalHeight, shown: shown(i)})),
    tables: [...document.querySelectorAll("table")].map((t) => ({id: t.id, rows: t.tBodies[0].rows.length,
                                                               shown: shown(t)})),
  };
""")


def chromium(*args: str, profile: Path) -> subprocess.CompletedProcess:
    flags = [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={profile}",
        "--virtual-time-budget=5000",
    ]
    return subprocess.run([CHROMIUM, *flags, *args], capture_output=True, text=True, timeout=120)


def test_report_html_opens_from_disk_and_renders_the_table_and_every_image(compose_cfg, tmp_path: Path) -> None:
    require_chromium()
    runs = [train(compose_cfg([*QUICK, f"model={m}"], name=m))["run_dir"] for m in ("mlp", "lenet")]
    out = tmp_path / "report"
    written = write_comparison_report(runs, out)
    page = written["report.html"].read_text()
    assert "<script src" not in page and "http" not in page  # self-contained: inline script, no fetch
    probed = tmp_path / "probed.html"  # a copy with the probe; the report's own bytes are what it loads
    probed.write_text(page.replace("</body>", PROBE + "</body>"))

    proc = chromium("--dump-dom", probed.as_uri(), profile=tmp_path / "profile-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S).group(1).replace("&quot;", '"'))
    assert [t["id"] for t in result["tables"]] == ["jobs"] and result["tables"][0]["rows"] == 2
    assert all(t["shown"] for t in result["tables"])
    images = {i["file"]: i for i in result["images"]}
    assert {"params_vs_accuracy.png", "per_class_f1.png", "001.png", "002.png"} <= set(images)  # 001: a confusion
    for name, image in images.items():  # decoded by the browser, at the size the PNG file has
        import matplotlib.image

        (path,) = out.rglob(name)
        height, width = matplotlib.image.imread(path).shape[:2]
        assert image["complete"] and image["shown"] and (image["width"], image["height"]) == (width, height), name

    shot = tmp_path / "page.png"
    proc = chromium(
        f"--screenshot={shot}",
        "--window-size=1400,2400",
        written["report.html"].as_uri(),
        profile=tmp_path / "profile-shot",
    )
    assert proc.returncode == 0 and shot.stat().st_size > 20_000, proc.stderr[-2000:]  # the page itself draws


# Clicks a column header of the job table twice and reads the column back after each click.
SORT_PROBE = dom_probe("""
  const table = document.getElementById("jobs");
  const headers = [...table.tHead.rows[0].cells].map((th) => th.textContent.trim());
  const column = (name) => [...table.tBodies[0].rows].map((r) => r.cells[headers.indexOf(name)].textContent.trim());
  const header = table.tHead.rows[0].cells[headers.indexOf("val acc")];
  header.click();
  const ascending = column("val acc");
  header.click();
  const descending = column("val acc");
  table.tHead.rows[0].cells[headers.indexOf("FLOPs/sample")].click();
  const flops = [...table.tBodies[0].rows].map((r) => r.cells[headers.indexOf("FLOPs/sample")].dataset.v);
  const result = {
    width: document.documentElement.scrollWidth,
    images: [...document.images].map((i) => ({file: i.dataset.file, width: i.naturalWidth, complete: i.complete})),
    text: table.innerText, headers, ascending, descending, flops,
  };
""")


def test_the_dashboard_at_1280_px_loads_every_image_and_sorts_by_a_clicked_header(tmp_path: Path) -> None:
    require_chromium()
    from synthetic_runs import write_sweep

    sweep = write_sweep(tmp_path / "sweep", runs=30, configurations=10, samples=400)
    written = write_comparison_report([sweep], sweep)
    probed = tmp_path / "probed.html"
    probed.write_text(written["report.html"].read_text().replace("</body>", SORT_PROBE + "</body>"))
    proc = chromium("--dump-dom", "--window-size=1280,2000", probed.as_uri(), profile=tmp_path / "profile")
    assert proc.returncode == 0, proc.stderr[-2000:]
    found = re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S).group(1)
    result = json.loads(html.unescape(found))
    assert result["width"] <= 1280  # wide tables scroll in their box; the page fits the window
    assert len(result["images"]) >= 15 and all(i["complete"] and i["width"] > 0 for i in result["images"])
    assert "optim.lr=0.1" in result["text"] and "95% CI" in result["headers"]
    numbers = [float(v) for v in result["ascending"]]
    assert numbers == sorted(numbers) and len(set(numbers)) > 1
    assert [float(v) for v in result["descending"]] == sorted(numbers, reverse=True)
    flops = [float(v) for v in result["flops"]]  # by value: the text "36 M" would sort before "652 k"
    assert flops == sorted(flops)


# The page's width, the job table's box and the table in it, and the job table's first column.
WIDTH_PROBE = dom_probe("""
  const table = document.getElementById("jobs"), box = table.parentElement;
  const result = {
    page: document.documentElement.scrollWidth, window: window.innerWidth, box: box.clientWidth,
    table: table.scrollWidth, overflow: getComputedStyle(box).overflowX, boxRight: box.getBoundingClientRect().right,
    first: table.tHead.rows[0].cells[0].textContent,
    jobs: [...table.tBodies[0].rows].map((r) => r.cells[0].textContent),
  };
""")


def test_at_1400_px_the_job_table_scrolls_in_its_own_box_and_is_numbered_by_job(tmp_path: Path) -> None:
    require_chromium()
    from synthetic_runs import make_test_set, write_run

    sweep = tmp_path / ("a_sweep_directory_named_at_length_" * 6)  # in the title and Sources: it must wrap
    test, accuracy = make_test_set(200), {}
    for job, (model, lr) in enumerate((m, lr) for m in ("mlp", "lenet", "cnn8") for lr in (0.01, 0.1)):
        run_dir = sweep / f"{job}_model={model},optim.lr={lr}"
        write_run(run_dir, test, model, lr, 64, 0, epochs=1)  # one epoch: the curves are points
        accuracy[str(job)] = read_results(run_dir)["test"]["acc"]
    written = write_comparison_report([sweep], sweep)
    probed = tmp_path / "probed.html"
    probed.write_text(written["report.html"].read_text().replace("</body>", WIDTH_PROBE + "</body>"))
    proc = chromium("--dump-dom", "--window-size=1400,1000", probed.as_uri(), profile=tmp_path / "profile-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(html.unescape(re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S).group(1)))
    assert result["window"] == 1400 and result["page"] <= 1400  # the page fits the window ...
    assert result["table"] > result["box"] and result["overflow"] == "auto"  # ... the wider table scrolls in its box
    assert result["boxRight"] <= 1400
    assert result["first"] == "job" and sorted(result["jobs"]) == sorted(accuracy)  # the directories' numbers ...
    assert [accuracy[n] for n in result["jobs"]] == sorted(accuracy.values(), reverse=True)  # ... in rank order

    shot = Path(os.environ.get("CONVLAB_SCREENSHOT_DIR", tmp_path)) / "report_1400px.png"  # kept where asked
    proc = chromium(f"--screenshot={shot}", "--window-size=1400,1800", written["report.html"].as_uri(),
                    profile=tmp_path / "profile-shot")  # fmt: skip
    assert proc.returncode == 0 and shot.stat().st_size > 20_000, proc.stderr[-2000:]
