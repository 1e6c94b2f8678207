"""dataset=image_folder and dataset=cifar10 through train.py: a tiny RGB folder trains end to end from a read-only
root, CIFAR-10 batch files train from search_dirs, bad folders stop before training with one line."""

from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from pathlib import Path

import pytest
from helpers import FASHION_DIR, QUICK, ROOT, train_py
from image_folders import patches, save_png, write_cifar_batches, write_class_folder

# LeNet's in_channels, image_size and num_classes come from the folder (3, 32, 3)
LENET_RGB = ["model=lenet"]


def results_of(cwd: Path) -> list[dict]:
    return [json.loads(p.read_text()) for p in sorted((cwd / "outputs" / "runs").glob("*/results.json"))]


def read_only(root: Path) -> None:
    for folder, _, _ in os.walk(root):
        os.chmod(folder, stat.S_IRUSR | stat.S_IXUSR)


def test_rgb_folder_trains_from_a_read_only_root(tmp_path: Path) -> None:
    """One run end to end (the second run's cache hit is tested on the data module: tests/unit/test_image_folder.py)."""
    root = write_class_folder(tmp_path / "images", per_class=10)
    read_only(root)  # dataset.root may be read-only: nothing is written inside it
    try:
        code, out = train_py("dataset=image_folder", f"dataset.root={root}", *LENET_RGB, *QUICK, cwd=tmp_path)
        assert code == 0, out
    finally:
        for folder, _, _ in os.walk(root):
            os.chmod(folder, stat.S_IRWXU)
    (record,) = results_of(tmp_path)
    assert record["status"] == "ok" and record["class_names"] == ["astronaut", "chelsea", "coffee"]
    assert record["split_sizes"] == {"train": 21, "val": 3, "test": 6}
    assert len(record["normalization"]["mean"]) == len(record["normalization"]["std"]) == 3
    assert record["image_cache"]["mode"] == "memory" and record["image_cache"]["reused"] is False
    assert Path(record["image_cache"]["file"]).parent == tmp_path / "data" / "image_folder_cache"


def test_cifar10_batches_train_from_search_dirs(tmp_path: Path) -> None:
    write_cifar_batches(tmp_path / "offline" / "cifar-10-batches-py", per_batch=20)
    args = ["dataset=cifar10", f"dataset.search_dirs=[{tmp_path / 'offline'}]", "dataset.download=false"]
    code, out = train_py(*args, "model=lenet", *QUICK, cwd=tmp_path)
    assert code == 0, out
    (record,) = results_of(tmp_path)
    assert record["split_sizes"] == {"train": 90, "val": 10, "test": 20} and record["class_names"][0] == "airplane"


def bad_folders(tmp: Path) -> dict[str, tuple[Path, str]]:
    """Each bad folder and a piece of its one error line."""
    (tmp / "empty").mkdir()
    (tmp / "empty_class" / "cat").mkdir(parents=True)
    corrupt = write_class_folder(tmp / "corrupt", per_class=2, classes=("astronaut", "coffee"))
    (corrupt / "coffee" / "001.png").write_bytes((corrupt / "coffee" / "001.png").read_bytes()[:70])
    mixed = write_class_folder(tmp / "mixed", per_class=2, classes=("astronaut", "coffee"))
    save_png(patches("coffee", 1, size=40)[0], mixed / "coffee" / "big.png")
    return {
        "missing": (tmp / "nowhere", "no such folder"),
        "empty": (tmp / "empty", "no class folders"),
        "empty_class": (tmp / "empty_class", "an empty class"),
        "corrupt": (corrupt, "coffee/001.png: not a readable image"),
        "mixed": (mixed, "is 32x32, "),
    }


def test_bad_folders_stop_with_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    for name, (root, says) in bad_folders(tmp_path).items():
        code, _ = train_py("dataset=image_folder", f"dataset.root={root}", *LENET_RGB, *QUICK, cwd=tmp_path)
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("convlab: error")]
        assert code == 2, name
        assert len(err) == 1 and says in err[0], (name, err)
    assert all(r["status"] == "failed" for r in results_of(tmp_path))  # corrupt and mixed: found by the decode


def test_two_runs_started_in_the_same_second_get_two_directories(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    """main() twice in one process (as these tests run it) with the run directory's name fixed, as two runs in the same
    second have it: the second claims <name>.1 rather than finding the first run's record there (a CI failure)."""
    corrupt = bad_folders(tmp_path)["corrupt"][0]  # fails in the decode, after its run directory holds a record
    run_dir = tmp_path / "outputs" / "runs" / "same-second"
    for _ in range(2):
        args = ["dataset=image_folder", f"dataset.root={corrupt}", *LENET_RGB, *QUICK]
        code, _ = train_py(*args, f"hydra.run.dir=${{convlab_unique:{run_dir}}}", cwd=tmp_path)
        err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("convlab: error")]
        assert code == 2 and len(err) == 1 and "not a readable image" in err[0], err
    assert [r["run_dir"] for r in results_of(tmp_path)] == [str(run_dir), f"{run_dir}.1"]


@pytest.mark.slow
def test_fashion_mnist_png_folder_trains_end_to_end(fashion_png_folder: Path, tmp_path: Path) -> None:
    """70,000 real PNGs decoded (in 2 worker processes), cached under tmp_path/data, LeNet trained 1 epoch."""
    args = ["dataset=image_folder", f"dataset.root={fashion_png_folder}", "model=lenet", "trainer.max_epochs=1"]
    code, out = train_py(*args, cwd=tmp_path)
    assert code == 0, out
    (record,) = results_of(tmp_path)
    assert record["split_sizes"] == {"train": 54000, "val": 6000, "test": 10000}
    assert record["test"]["acc"] > 0.8 and len(record["normalization"]["mean"]) == 1


@pytest.fixture(scope="session")
def fashion_png_folder() -> Path:
    """Fashion-MNIST's 60,000 + 10,000 images as real PNGs in <tmp>/convlab-fashion-png/{train,test}/<class>/: the
    folder scripts/bench_image_folder.py writes, written once (a marker file says it is complete)."""
    if not FASHION_DIR.is_dir():
        pytest.skip("apt-get install dataset-fashion-mnist to run this test")
    sys.path.insert(0, str(ROOT))  # the repository root, for benchmarks/
    from benchmarks.image_folder import write_fashion_pngs

    return write_fashion_pngs(FASHION_DIR, Path(tempfile.gettempdir()) / "convlab-fashion-png")
