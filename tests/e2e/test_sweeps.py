"""Multiruns the way a user runs them: every job's results.json, the comparison report, TensorBoard event
files, W&B offline runs, a job that raises, and resuming a sweep with skip_done."""

from __future__ import annotations

import base64
import csv
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from helpers import QUICK, the_sweep, train_py

from convlab.cli.precheck import precheck
from convlab.cli.train import check_train_job as check_job
from convlab.errors import ConfigError, ConvlabError
from convlab.report.compare import sweep_job_dirs
from convlab.runfiles.results import read_results, write_results
from convlab.sweeps.skip_done import resume_job

REPORT_FILES = [
    "comparison.csv",
    "comparison.md",
    "params_vs_accuracy.png",
    "confusion/001.png",
    "per_class_f1.png",
    "report.html",
]
# Figures every classification sweep has; a confusion matrix per job (confusion/<rank>.png)
IMAGES = ["params_vs_accuracy.png", "confusion/001.png", "confusion/002.png", "confusion/003.png", "per_class_f1.png"]


def report_rows(sweep: Path) -> list[dict[str, str]]:
    with open(sweep / "comparison.csv", newline="") as f:
        return list(csv.DictReader(f))


def check_png(path: Path) -> np.ndarray:
    import matplotlib.image

    pixels = matplotlib.image.imread(path)
    assert pixels.ndim == 3 and min(pixels.shape[:2]) > 200 and pixels.std() > 0.05, path  # a real picture
    return pixels


@pytest.fixture(scope="module")
def three_jobs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, str]:
    cwd = tmp_path_factory.mktemp("sweep")
    code, stdout = train_py("-m", "model=mlp,lenet,cnn8", "logger=[csv,tensorboard]", *QUICK, cwd=cwd)
    assert code == 0, stdout[-3000:]
    return cwd, the_sweep(cwd), stdout


def test_three_job_multirun_writes_three_results_and_a_report_with_three_rows(three_jobs) -> None:
    _, sweep, stdout = three_jobs
    assert re.fullmatch(r"\d{4}-\d\d-\d\d_\d\d-\d\d-\d\d_model", sweep.name)  # date-time plus the swept keys
    jobs = sweep_job_dirs(sweep)
    records = {str(job.resolve()): read_results(job) for job in jobs}
    assert len(records) == 3 and {r["model"] for r in records.values()} == {"mlp", "lenet", "cnn8"}
    assert all(r["status"] == "ok" for r in records.values())
    for name in REPORT_FILES:
        assert (sweep / name).stat().st_size > 0, name

    rows = report_rows(sweep)
    assert len(rows) == 3
    assert [float(r["test_acc"]) for r in rows] == sorted((float(r["test_acc"]) for r in rows), reverse=True)
    for row in rows:  # every number is the job's own record
        record = records[row["run_dir"]]
        assert (row["model"], row["optim"], row["loss"], row["dataset"]) == (
            record["model"],
            record["optim"],
            record["loss"],
            "digits",
        )
        assert int(row["params"]) == record["params"] and int(row["epochs"]) == record["epochs"]
        assert float(row["test_acc"]) == record["test"]["acc"]
        assert float(row["f1_macro"]) == record["test"]["f1_macro"]
        assert float(row["test_loss"]) == record["test"]["loss"]
        assert float(row["val_acc"]) == record["val"]["acc"]
        assert float(row["samples_per_second"]) == record["samples_per_second"]
        assert row["overrides"].split() == sorted(record["overrides"])

    markdown = (sweep / "comparison.md").read_text()
    assert len([line for line in markdown.splitlines() if re.match(r"\| [012] \| model=", line)]) == 3  # job numbers
    assert "Common to every job: `" in markdown and "logger=[csv,tensorboard]" in markdown
    for name in IMAGES:
        check_png(sweep / name)
        assert f"![{name}]({name})" in markdown
    page = (sweep / "report.html").read_text()
    assert page.count('<tr class="ok"') == 3
    embedded = dict(re.findall(r'<img alt="[^"]+" data-file="([^"]+)" [^>]*src="data:image/png;base64,([^"]+)"', page))
    assert {Path(name).name for name in IMAGES} <= set(embedded)
    for name in IMAGES:  # each image is its file, embedded
        assert base64.b64decode(embedded[Path(name).name]) == (sweep / name).read_bytes()
    assert 'src="http' not in page and 'href="http' not in page  # self-contained: links are the page's anchors

    assert f"comparison report  {Path('outputs/sweeps') / sweep.name / 'report.html'}" in stdout
    assert f"skip_done=true hydra.sweep.dir=outputs/sweeps/{sweep.name}" in stdout


def test_tensorboard_event_files_hold_scalars_confusion_image_and_hparams(three_jobs) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    _, sweep, _ = three_jobs
    for job in sweep_job_dirs(sweep):
        record = read_results(job)
        tb_dir = job / "tensorboard"
        assert len(list(tb_dir.glob("events.out.tfevents.*"))) >= 2  # Lightning opens another file for test
        events = EventAccumulator(str(tb_dir), size_guidance={"images": 0, "scalars": 0, "tensors": 0})
        events.Reload()  # the whole directory: fit, test and the final extras
        scalars = set(events.Tags()["scalars"])
        assert {"train/loss", "val/acc", "val/loss", "test/acc", "test/f1_macro", "final/test_acc"} <= scalars
        assert events.Scalars("test/acc")[-1].value == pytest.approx(record["test"]["acc"])
        assert events.Scalars("final/test_acc")[-1].value == pytest.approx(record["test"]["acc"])
        assert events.Scalars("final/val_acc")[-1].value == pytest.approx(record["val"]["acc"])

        (image,) = events.Images("test/confusion_matrix")
        png_height, png_width = check_png(job / "confusion_matrix.png").shape[:2]
        assert (image.width, image.height) == (png_width, png_height)

        hparams = {
            tag: plugin_data_pb2.HParamsPluginData.FromString(content)
            for tag, content in events.PluginTagToContent("hparams").items()
        }
        start = hparams["_hparams_/session_start_info"].session_start_info
        assert start.hparams["model"].string_value == record["model"]
        assert start.hparams["params"].number_value == record["params"]
        assert start.hparams["trainer.max_epochs"].number_value == 1
        metrics = {m.name.tag for m in hparams["_hparams_/experiment"].experiment.metric_infos}
        assert {"final/test_acc", "final/test_f1_macro", "final/test_loss", "final/val_acc"} <= metrics


def test_resume_skips_jobs_that_finished_ok_and_reruns_the_rest(three_jobs, tmp_path: Path) -> None:
    _, original, _ = three_jobs
    sweep = tmp_path / "outputs" / "sweeps" / original.name
    shutil.copytree(original, sweep)
    first, failed, last = sweep_job_dirs(sweep)
    failed_record = {**read_results(failed), "status": "failed", "error": "RuntimeError: out of memory"}
    write_results(failed, failed_record)
    finished = {job: (job / "results.json").read_bytes() for job in (first, last)}

    code, stdout = train_py(
        "-m",
        "model=mlp,lenet,cnn8",
        "logger=[csv,tensorboard]",
        *QUICK,
        "skip_done=true",
        f"hydra.sweep.dir=outputs/sweeps/{sweep.name}",
        cwd=tmp_path,
    )
    assert code == 0, stdout[-3000:]
    assert sweep_job_dirs(sweep) == [first, failed, last]  # the same job directories, nothing new
    for job, before in finished.items():
        assert (job / "results.json").read_bytes() == before and not (job / "attempts").exists()
    assert read_results(failed / "attempts" / "1") == json.loads(json.dumps(failed_record))  # kept, not lost
    assert (failed / "attempts" / "1" / "checkpoints" / "last.ckpt").is_file()
    record = read_results(failed)
    assert record["status"] == "ok" and "skip_done=true" in [o.lower() for o in record["overrides"]]
    rows = report_rows(sweep)
    assert len(rows) == 3 and {r["status"] for r in rows} == {"ok"}
    assert "skip_done" not in (sweep / "comparison.md").read_text()  # how it ran is not what it is


def test_resume_moves_a_killed_attempt_aside_and_refuses_another_jobs_directory(compose_cfg) -> None:
    cfg = compose_cfg([*QUICK, "model=mlp", "skip_done=true"])
    run_dir = Path(cfg.paths.output_dir)
    (run_dir / ".hydra").mkdir()
    (run_dir / "checkpoints").mkdir()
    (run_dir / "checkpoints" / "last.ckpt").write_bytes(b"weights of a killed attempt")
    assert resume_job(cfg) is None  # no results.json: run it again ...
    assert (run_dir / "attempts" / "1" / "checkpoints" / "last.ckpt").read_bytes() == b"weights of a killed attempt"
    assert sorted(p.name for p in run_dir.iterdir()) == [".hydra", "attempts"]  # ... in a clean directory

    other = {"status": "ok", "dataset": "digits", "model": "lenet", "optim": "sgd", "loss": "ce"}
    write_results(run_dir, {**other, "overrides": ["model=lenet"], "test": {"acc": 0.5}})
    with pytest.raises(ConfigError, match=r"holds the job \[model=lenet\]"):
        resume_job(cfg)
    assert read_results(run_dir)["overrides"] == ["model=lenet"]  # untouched


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["skip_done=true"], "skip_done=true resumes a sweep: add hydra.sweep.dir=<the sweep's directory>"),
        (["skip_done=true", "hydra.sweep.dir=outputs/sweeps/nope"], "no such sweep directory to resume"),
        (["skip_done=maybe"], "skip_done='maybe' is not valid: must be true or false"),
    ],
)
def test_bad_resume_command_lines_are_refused_before_anything_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, args: list[str], expected: str
) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConvlabError, match=re.escape(expected)):
        precheck(["-m", "model=mlp,lenet", *args], "config", check_job)  # what train.py runs first
    assert list(tmp_path.iterdir()) == []


def test_what_one_command_kept_does_not_reach_the_next(tmp_path: Path) -> None:
    """main() run again in one process (as these tests run it): an earlier command line's dead grid job and stopped
    sweeper are not the next one's, which trains, names no unfinished job and exits 0."""
    from convlab.sweeps import fates

    fates.note_unfinished(tmp_path / "an_earlier_sweep" / "0", "failed", "the job died (SIGKILL)")
    fates.stop_sweep("3 trials failed in a row")
    code, out = train_py(*QUICK, cwd=tmp_path)
    assert code == 0 and "not finished" not in out, out[-2000:]
    assert not fates.unfinished() and not fates.stopped()


def test_a_job_that_raises_leaves_the_other_results_and_the_report_intact(raising_job_with_wandb) -> None:
    _, sweep = raising_job_with_wandb
    good, bad = sweep_job_dirs(sweep)
    assert read_results(good)["status"] == "ok" and (good / "checkpoints" / "last.ckpt").is_file()
    failure = read_results(bad)
    assert failure["status"] == "failed" and failure["error"] and "val_check_interval" in failure["error"]
    rows = report_rows(sweep)
    assert [(r["status"], r["run_dir"]) for r in rows] == [("ok", str(good.resolve())), ("failed", str(bad.resolve()))]
    assert rows[1]["error"] == failure["error"] and rows[1]["test_acc"] == ""
    markdown = (sweep / "comparison.md").read_text()
    assert "## Jobs that did not finish" in markdown and "**failed**" in markdown
    for name in ("params_vs_accuracy.png", "confusion/001.png"):
        check_png(sweep / name)
    assert not (sweep / "confusion" / "002.png").exists()  # the failed job has no confusion matrix to draw
    assert '<tr class="failed"' in (sweep / "report.html").read_text()
