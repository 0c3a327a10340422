"""Reading back what a run logged: the rows of its metrics file."""
from modeguard.jsonl import read_jsonl
from modeguard.rundir import RunDir


def last_metrics(run_dir) -> dict:
    """The last row the trainer appended to ``run_dir``'s metrics file."""
    rows = read_jsonl(RunDir(run_dir).metrics)
    assert rows, "the run logged no metrics"
    return rows[-1]
