"""No silent non-results: the warnings a finished classification run carries when it learned nothing useful.

One definition, read from the test confusion matrix (rows true, columns predicted), used by the run
(results.json ``warnings`` and its summary) and by the comparison report (a mark on the job's row).
A warned run keeps ``status: ok``: it ran as asked, its numbers are real, they just say "chance".
"""

from __future__ import annotations

from collections.abc import Sequence

from convlab.runfiles.results import RunRecord

CHANCE_MARGIN = 0.02  # test accuracy within 2 percentage points of the majority-class rate
ONE_CLASS_SHARE = 0.80  # one predicted class for more than 80% of the test samples
WARNING_MARK = "⚠"


def chance_warnings(confusion_matrix: Sequence[Sequence[int]], class_names: Sequence[str] | None = None) -> list[str]:
    """One sentence per sign of a non-result; [] for a run that beats chance."""
    rows = [[int(v) for v in row] for row in confusion_matrix]
    total = sum(map(sum, rows))
    if total == 0:
        return []
    accuracy = sum(rows[i][i] for i in range(len(rows))) / total
    majority = max(map(sum, rows)) / total
    predicted = [sum(row[j] for row in rows) for j in range(len(rows))]
    top = max(range(len(predicted)), key=predicted.__getitem__)
    names = list(class_names) if class_names and len(class_names) == len(rows) else [str(j) for j in range(len(rows))]
    warnings = []
    if accuracy < majority + CHANCE_MARGIN:
        where = "below" if accuracy < majority - CHANCE_MARGIN else f"within {CHANCE_MARGIN * 100:.0f} points of"
        warnings.append(
            f"at chance level: test accuracy {accuracy:.4f} is {where} the majority-class rate {majority:.4f} "
            "(always answering the test set's most common class)"
        )
    if predicted[top] / total > ONE_CLASS_SHARE:
        warnings.append(f"predicts one class ({names[top]!r}) for {predicted[top] / total:.0%} of the test samples")
    return warnings


def store_warnings(record: RunRecord) -> None:
    """Put a tested classification record's warnings into it (results.json ``warnings``), written by train and eval."""
    cm = (record.get("test") or {}).get("confusion_matrix")
    if cm is not None:
        record["warnings"] = chance_warnings(cm, record.get("class_names"))


def run_warnings(record: RunRecord) -> list[str]:
    """A results record's warnings: those it stored, else those its test confusion matrix shows (older files)."""
    if isinstance(record.get("warnings"), list):
        return [str(w) for w in record["warnings"]]
    cm = (record.get("test") or {}).get("confusion_matrix")
    if record.get("status") != "ok" or not cm:
        return []
    return chance_warnings(cm, record.get("class_names"))
