"""RunRecord, the results.json contract in code: the required keys and statuses are read from it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from convlab.errors import ConvlabError
from convlab.runfiles.results import REQUIRED_KEYS, STATUSES, RunIdentity, RunRecord, read_results, write_results


def test_required_keys_and_statuses_come_from_the_types() -> None:
    assert REQUIRED_KEYS == ("status", "dataset", "model", "optim", "loss", "overrides")
    assert RunRecord.__required_keys__ == frozenset(RunIdentity.__annotations__) == frozenset(REQUIRED_KEYS)
    assert STATUSES == ("ok", "diverged", "interrupted", "failed", "pruned")


@pytest.mark.parametrize("missing", REQUIRED_KEYS)
def test_a_file_without_a_required_key_is_refused(tmp_path: Path, missing: str) -> None:
    record: RunRecord = {"status": "failed", "dataset": "digits", "model": "mlp", "optim": "sgd", "loss": "ce"}
    record["overrides"] = []
    write_results(tmp_path, record)
    read_results(tmp_path)  # complete: accepted
    data = json.loads((tmp_path / "results.json").read_text())
    del data[missing]
    (tmp_path / "results.json").write_text(json.dumps(data))
    with pytest.raises(ConvlabError, match="needs keys status, dataset, model, optim, loss, overrides"):
        read_results(tmp_path)
