"""The chance-level warnings (one definition) and the marks they leave in the comparison report."""

from __future__ import annotations

from pathlib import Path

from convlab.report.chance import WARNING_MARK, chance_warnings, run_warnings
from convlab.report.compare import Job, build_comparison, job_rows, to_csv
from convlab.report.html import report_html
from convlab.report.markdown import to_markdown
from convlab.report.sections import build_sections

GOOD = [[9, 1, 0], [1, 8, 1], [0, 1, 9]]  # 26/30 right
ONE_CLASS = [[10, 0, 0], [9, 1, 0], [8, 0, 2]]  # 27 of 30 predicted as class 0; accuracy 13/30
MAJORITY = [[5, 5, 0], [0, 21, 9], [0, 6, 4]]  # accuracy 30/50 = 0.6 = the majority class's share; 64% predicted 1


def test_a_run_that_beats_chance_has_no_warning() -> None:
    assert chance_warnings(GOOD, ["a", "b", "c"]) == []


def test_one_class_for_more_than_80_percent_of_the_samples_is_named() -> None:
    (warning,) = chance_warnings(ONE_CLASS, ["cat", "dog", "bird"])
    assert warning == "predicts one class ('cat') for 90% of the test samples"


def test_accuracy_within_2_points_of_the_majority_rate_is_at_chance() -> None:
    (warning,) = chance_warnings(MAJORITY)
    assert warning.startswith(
        "at chance level: test accuracy 0.6000 is within 2 points of the majority-class rate 0.6000"
    )
    assert chance_warnings([[8, 2, 0], [2, 26, 2], [0, 2, 8]]) == []  # 0.84: 24 points above


def test_a_record_carries_its_warnings_and_older_records_are_read_from_their_matrix() -> None:
    assert run_warnings({"status": "ok", "warnings": ["stored"], "test": {"confusion_matrix": GOOD}}) == ["stored"]
    assert run_warnings({"status": "ok", "test": {"confusion_matrix": ONE_CLASS}}) == chance_warnings(ONE_CLASS)
    assert run_warnings({"status": "failed"}) == []


def record(model: str, cm: list[list[int]]) -> dict:
    n = sum(map(sum, cm))
    return {
        "status": "ok",
        "dataset": "digits",
        "model": model,
        "optim": "sgd",
        "loss": "ce",
        "overrides": [f"model={model}"],
        "class_names": ["a", "b", "c"],
        "test": {"acc": sum(cm[i][i] for i in range(3)) / n, "f1_macro": 0.5, "loss": 1.0, "confusion_matrix": cm},
        "warnings": chance_warnings(cm, ["a", "b", "c"]),
    }


def test_the_report_marks_a_warned_row_in_markdown_html_and_csv(tmp_path: Path) -> None:
    comparison = build_comparison(
        [Job(tmp_path / "0", record("mlp", GOOD)), Job(tmp_path / "1", record("cnn8", ONE_CLASS))]
    )
    rows = job_rows(comparison)
    assert [(r["status"], bool(r["warnings"])) for r in rows] == [("ok", False), ("ok", True)]
    sections = build_sections(comparison)  # once, for both files
    markdown = to_markdown(sections)
    assert f"| ok {WARNING_MARK} |" in markdown and "job 1 `model=cnn8`: predicts one class ('a')" in markdown
    page = report_html(sections, [])
    assert '<tr class="ok">' in page and '<tr class="ok" data-warnings="predicts one class' in page
    assert f'<td class="status">ok {WARNING_MARK}</td>' in page
    assert "predicts one class ('a') for 90% of the test samples" in to_csv(comparison)
