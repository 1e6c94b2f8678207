"""User-facing errors: each carries one line that says what was wrong and what to do."""


class ConvlabError(Exception):
    """Bad input the user can fix. The CLI prints it as one line and exits non-zero, no traceback."""


class ConfigError(ConvlabError):
    """A config value or combination that cannot work."""


class RunDirInUseError(ConfigError):
    """The run directory already belongs to another run."""


class DataError(ConvlabError):
    """A missing, unreadable or corrupt data file."""


class CheckpointError(ConvlabError):
    """A checkpoint that cannot be loaded safely."""


class DivergedError(RuntimeError):
    """The training loss became NaN or infinite."""

    def __init__(self, step: int, loss: float) -> None:
        super().__init__(f"training loss became {loss} at step {step}; lower optim.lr or change the loss")
        self.step = step
        self.loss = loss


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C (SIGINT) stopped a run after its results.json (status interrupted) was written; the command line
    exits 130. ``record`` is that results.json; ``job_num`` (a sweep's job, else None) and ``job_dir`` are set
    by the job wrapper."""

    def __init__(self, record: dict) -> None:
        super().__init__(f"interrupted at step {record.get('steps', 0)}")
        self.record = record
        self.job_num: int | None = None
        self.job_dir: object = record.get("run_dir")
