"""report.html in a real browser: headless Chromium renders the tables and every embedded image."""

from __future__ import annotations

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

pytestmark = pytest.mark.slow

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
# Runs once the page has loaded and writes what the browser made of it into the DOM, which --dump-dom prints.
PROBE = """<script>
window.addEventListener("load", () => {
  const shown = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const result = {
    images: [...document.images].map((i) => ({alt: i.alt, complete: i.complete, width: i.naturalWidth,
                                              height: i.naturalHeight, shown: shown(i)})),
    tables: [...document.querySelectorAll("table")].map((t) => ({id: t.id, rows: t.tBodies[0].rows.length,
                                                               shown: shown(t)})),
  };
  const out = document.createElement("pre");
  out.id = "probe";
  out.textContent = JSON.stringify(result);
  document.body.appendChild(out);
});
</script>"""


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
    if CHROMIUM is None:
        if os.environ.get("CI"):
            pytest.fail("chromium missing: CI must apt-get install chromium")
        pytest.skip("apt-get install chromium to run this test")
    runs = [train(compose_cfg([*QUICK, f"model={m}"], name=m))["run_dir"] for m in ("mlp", "lenet")]
    out = tmp_path / "report"
    written = write_comparison_report(runs, out)
    page = written["report.html"].read_text()
    assert "<script" not in page  # the report itself is plain, self-contained HTML
    probed = tmp_path / "probed.html"  # a copy with the probe; the report's own bytes are what it loads
    probed.write_text(page.replace("</body>", PROBE + "</body>"))

    proc = chromium("--dump-dom", probed.as_uri(), profile=tmp_path / "profile-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(re.search(r'<pre id="probe">(.*?)</pre>', proc.stdout, re.S).group(1).replace("&quot;", '"'))
    assert [t["id"] for t in result["tables"]] == ["jobs"] and result["tables"][0]["rows"] == 2
    assert all(t["shown"] for t in result["tables"])
    images = {i["alt"]: i for i in result["images"]}
    assert set(images) == {"params_vs_accuracy.png", "confusion_matrices.png", "per_class_f1.png"}
    for name, image in images.items():  # decoded by the browser, at the size the PNG file has
        import matplotlib.image

        height, width = matplotlib.image.imread(out / name).shape[:2]
        assert image["complete"] and image["shown"] and (image["width"], image["height"]) == (width, height), name

    shot = tmp_path / "page.png"
    proc = chromium(
        f"--screenshot={shot}",
        "--window-size=1400,2400",
        written["report.html"].as_uri(),
        profile=tmp_path / "profile-shot",
    )
    assert proc.returncode == 0 and shot.stat().st_size > 20_000, proc.stderr[-2000:]  # the page itself draws
