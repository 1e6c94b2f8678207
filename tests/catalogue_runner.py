"""Run a catalogue of command lines one after another in this one process, each exactly as ``python <script>``
runs it (the script file as ``__main__``, in its own working directory and CONVLAB_DATA_DIR), and print every
outcome as JSON: {name: {"returncode": int, "stdout": str, "stderr": str}}.

helpers.run_cli_batch starts it (the bad-input catalogue, the --help pages): one interpreter start and one set of
imports instead of one per command line. A case that escapes with an exception is recorded with its traceback on stderr
and return code 1, as the interpreter would end it.

    python tests/catalogue_runner.py cases.json    # {name: {"script": ..., "args": [...], "cwd": ...}}
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import runpy
import sys
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run_one(script: str, args: list[str], cwd: str) -> dict[str, object]:
    os.chdir(cwd)
    os.environ["CONVLAB_DATA_DIR"] = str(Path(cwd) / "data")  # as helpers.run_cli sets it
    sys.argv = [script, *args]
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stderr(stderr), contextlib.redirect_stdout(stdout):
        try:
            runpy.run_path(str(ROOT / script), run_name="__main__")
        except SystemExit as e:
            code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException:  # what the interpreter would print before exiting with 1
            traceback.print_exc()
            code = 1
    return {"returncode": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue()}


def main() -> None:
    cases = json.loads(Path(sys.argv[1]).read_text())
    outcomes = {name: run_one(case["script"], case["args"], case["cwd"]) for name, case in cases.items()}
    print(json.dumps(outcomes))


if __name__ == "__main__":
    main()
