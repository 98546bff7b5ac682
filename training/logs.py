"""Run logs: TensorBoard scalars, the same scalars in ``scalars.csv``, and the learning-curve
PNG (episode score against frames with a moving average, and evaluation means)."""

from __future__ import annotations

import csv
import io
import threading
import time
from pathlib import Path

import numpy as np

from agent.checkpoint import atomic_write

CSV_HEADER = ["wall_time", "step", "tag", "value"]


class RunLogger:
    """Writes every scalar to TensorBoard and to ``scalars.csv`` (wall_time, step, tag, value)."""

    def __init__(self, run_dir: Path, frames_per_step: int, resumed_at_step: int | None = None) -> None:
        """``resumed_at_step``: the checkpoint's step when a run resumes. Scalars a crashed run
        logged after its last checkpoint are dropped, from the CSV and (purged) from TensorBoard,
        so the resumed run's history never shows the lost stretch twice."""
        from torch.utils.tensorboard import SummaryWriter

        self.run_dir = Path(run_dir)
        self.frames_per_step = frames_per_step
        # TensorBoard writes from its own thread: a failed write there (a full disk) would only
        # print a traceback and lose the logs silently, so it is caught and raised here instead
        self._writer_error: OSError | None = None
        self._previous_excepthook = threading.excepthook
        threading.excepthook = self._catch_writer_error
        purge_step = None if resumed_at_step is None else resumed_at_step + 1
        self.writer = SummaryWriter(log_dir=str(self.run_dir / "tensorboard"), purge_step=purge_step)
        self.csv_path = self.run_dir / "scalars.csv"
        if resumed_at_step is not None:
            self._drop_rows_after(resumed_at_step)
        new_file = not self.csv_path.exists()
        self._csv_file = open(self.csv_path, "a", newline="")  # noqa: SIM115 -- open for the whole run; close() closes it
        self._csv = csv.writer(self._csv_file)
        if new_file:
            self._csv.writerow(CSV_HEADER)

    def _drop_rows_after(self, step: int) -> None:
        if not self.csv_path.exists():
            return
        with open(self.csv_path, newline="") as file:
            header, *rows = list(csv.reader(file)) or [CSV_HEADER]
        # a process killed mid-write may have left a partial last row: it goes too
        kept = [row for row in rows if len(row) == len(CSV_HEADER) and row[1].isdigit() and int(row[1]) <= step]
        if len(kept) < len(rows):
            text = io.StringIO(newline="")
            csv.writer(text).writerows([header, *kept])
            atomic_write(self.csv_path, lambda file: file.write(text.getvalue().encode()))

    def _catch_writer_error(self, args: threading.ExceptHookArgs) -> None:
        if isinstance(args.exc_value, OSError) and type(args.thread).__module__.startswith("tensorboard"):
            self._writer_error = args.exc_value
        else:
            self._previous_excepthook(args)

    def _raise_writer_error(self) -> None:
        if self._writer_error is not None:
            raise self._writer_error

    def scalar(self, tag: str, value: float, step: int) -> None:
        self._raise_writer_error()
        self.writer.add_scalar(tag, value, step)
        self._csv.writerow([f"{time.time():.3f}", step, tag, f"{float(value):.6g}"])

    def flush(self) -> None:
        self.writer.flush()
        self._csv_file.flush()
        self._raise_writer_error()

    def close(self) -> None:
        try:
            self.writer.close()
            self._csv_file.close()
        finally:
            threading.excepthook = self._previous_excepthook
        self._raise_writer_error()

    def read_scalars(self, tag: str) -> tuple[np.ndarray, np.ndarray]:
        """Steps and values of one tag, from the CSV (so a resumed run plots its whole history)."""
        self._csv_file.flush()
        steps, values = [], []
        with open(self.csv_path, newline="") as file:
            for row in csv.DictReader(file):
                if row["tag"] == tag:
                    steps.append(int(row["step"]))
                    values.append(float(row["value"]))
        return np.array(steps), np.array(values)

    def plot_learning_curve(self, title: str, window: int = 20) -> Path:
        """Saves ``learning_curve.png``: episode scores against frames with a moving average."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        steps, scores = self.read_scalars("episode/score")
        eval_steps, eval_scores = self.read_scalars("eval/mean_score")
        figure, axes = plt.subplots(figsize=(8, 4.5), dpi=100)
        if len(scores):
            frames = steps * self.frames_per_step
            axes.plot(frames, scores, ".", color="tab:blue", alpha=0.25, markersize=3, label="training episode")
            if len(scores) >= 2:
                width = min(window, len(scores))
                moving = np.convolve(scores, np.ones(width) / width, mode="valid")
                axes.plot(frames[width - 1 :], moving, color="tab:blue", label=f"moving average ({width} episodes)")
        if len(eval_scores):
            axes.plot(
                eval_steps * self.frames_per_step,
                eval_scores,
                "o-",
                color="tab:orange",
                label="evaluation (epsilon 0.05)",
            )
        axes.set_xlabel("frames")
        axes.set_ylabel("score")
        axes.set_title(title)
        axes.grid(alpha=0.3)
        if len(scores) or len(eval_scores):
            axes.legend(loc="best")
        figure.tight_layout()
        path = self.run_dir / "learning_curve.png"
        temporary = path.with_suffix(".tmp.png")
        figure.savefig(temporary)
        plt.close(figure)
        temporary.replace(path)
        return path
