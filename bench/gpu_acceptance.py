"""The GPU acceptance run: one command that, on a fresh GPU machine, checks in about six
minutes that the CUDA path trains, resumes and is fast, and writes one report.

    python bench/gpu_acceptance.py --out DIR [--device cuda] [--size full|small]

Into ``DIR`` it writes ``report.md`` and ``report.json`` (and keeps the runs and logs):

1. versions: Python, torch, CUDA, cuDNN, the device's name and memory;
2. ``pytest -m gpu -rs``, a skipped test counted as a failure (CUDA only);
3. a pygame training run (Catcher) through ``train.py`` with ``captured_update=true`` and
   prioritized replay on the device, with an evaluation due just before the capture (so it
   plays in its thread while the capture is due): the run must end cleanly and its loss keep
   moving after the capture;
4. three resumes of that run, each from its own copy: onto ``captured_update=false``, onto
   ``replay_on_device=false`` (the saved replay loaded by the other memory), and onto
   ``--device cpu``; each must restore the replay memory and train on;
5. short ``bench/agent_throughput.py`` and ``bench/train_throughput.py`` runs on the device
   (the CleanRL-style loop beside ours), their tables kept whole in the report, with the
   project's GPU goals (3,000 agent steps/s, 5x the CleanRL-style loop) checked against them.

``--size small --device cpu`` runs the same steps at a small size on the CPU (no ``-m gpu``
there), so that the script is known to work end to end before a GPU ever sees it; a test
runs it that way. The exit code is 0 when every check passed (the speed goals are reported,
not enforced: they are what the figures are compared with).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import subprocess
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

GAME = "Catcher"
GOAL_STEPS_PER_SECOND = 3_000  # 10M agent steps in under an hour
GOAL_OVER_CLEANRL = 5.0


@dataclass(frozen=True)
class Size:
    """How long each part runs."""

    train_seconds: int
    train_steps: int
    learning_starts: int
    """The first evaluation is due here too (and every this many steps after)."""
    checkpoint_every: int
    resume_steps: int
    agent_bench_seconds: float
    agent_bench_fill: int
    train_bench_seconds: float
    train_bench_learning_starts: int


SIZES = {
    "full": Size(120, 10_000_000, 10_000, 50_000, 3_000, 2.0, 50_000, 8.0, 2_000),
    "small": Size(600, 1_200, 400, 400, 200, 0.2, 1_000, 0.5, 100),
}


@dataclass
class Check:
    name: str
    ok: bool
    seconds: float
    details: str
    figures: dict = field(default_factory=dict)
    output: str = ""


def run(command: list[str], log: Path, timeout: float) -> subprocess.CompletedProcess:
    """Runs ``command`` from the repository root, its output kept in ``log`` too."""
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", "SDL_VIDEODRIVER": "dummy", "SDL_AUDIODRIVER": "dummy"}
    try:
        result = subprocess.run(
            command, cwd=ROOT, env=environment, capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired as expired:
        output = (expired.stdout or b"").decode() if isinstance(expired.stdout, bytes) else (expired.stdout or "")
        result = subprocess.CompletedProcess(command, 124, output, f"timed out after {timeout:.0f} s")
    log.write_text(f"$ {' '.join(command)}\n{result.stdout}\n{result.stderr}")
    return result


def tail(text: str, lines: int = 30) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def versions(device: str) -> Check:
    import torch

    figures = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores",
    }
    if device.startswith("cuda"):
        if not torch.cuda.is_available():
            return Check("versions", False, 0.0, "--device cuda, but PyTorch sees no CUDA GPU", figures)
        properties = torch.cuda.get_device_properties(torch.device(device))
        figures["device"] = properties.name
        figures["device_memory_gb"] = round(properties.total_memory / 1e9, 1)
    else:
        figures["device"] = f"CPU ({platform.processor() or platform.machine()})"
    details = ", ".join(f"{key} {value}" for key, value in figures.items())
    return Check("versions", True, 0.0, details, figures)


def gpu_tests(out: Path, device: str) -> Check:
    if not device.startswith("cuda"):
        return Check("pytest -m gpu", True, 0.0, "not run: the device is the CPU (the gpu tests need CUDA)")
    start = time.monotonic()
    result = run([sys.executable, "-m", "pytest", "-m", "gpu", "-rs", "-q"], out / "pytest-gpu.log", 240)
    counts = {word: int(number) for number, word in re.findall(r"(\d+) (passed|failed|skipped|error)", result.stdout)}
    ok = result.returncode == 0 and counts.get("passed", 0) > 0 and not counts.get("skipped")
    details = ", ".join(f"{n} {word}" for word, n in counts.items()) or "no summary line"
    if counts.get("skipped"):
        details += " (a skip counts as a failure here)"
    return Check("pytest -m gpu", ok, time.monotonic() - start, details, counts, tail(result.stdout, 40))


def scalar_rows(run_dir: Path, tag: str) -> list[tuple[int, float]]:
    import csv

    with open(run_dir / "scalars.csv", newline="") as file:
        return [(int(row["step"]), float(row["value"])) for row in csv.DictReader(file) if row["tag"] == tag]


def training(out: Path, device: str, size: Size) -> tuple[Check, Path]:
    run_dir = out / "run"
    # the capture comes at the 4th update after learning_starts (agent/captured_update.py): an
    # evaluation asked for at learning_starts is still playing then
    settings = {
        "captured_update": "true",
        "prioritized_replay": "true",
        "replay_on_device": "true" if not device.startswith("cuda") else "auto",
        "learning_starts": size.learning_starts,
        "eval_every_steps": size.learning_starts,
        "eval_episodes": 3,
        "eval_max_episode_steps": 500,
        "checkpoint_every_steps": size.checkpoint_every,
        "log_every_steps": 100,
    }
    command = [sys.executable, "train.py", "--game", GAME, "--device", device, "--steps", str(size.train_steps)]
    command += ["--hours", f"{size.train_seconds / 3600:.5f}", "--run-dir", str(run_dir), "--save-replay", "--quiet"]
    command += [arg for name, value in settings.items() for arg in ("--set", f"{name}={value}")]
    start = time.monotonic()
    result = run(command, out / "train.log", size.train_seconds + 240)
    seconds = time.monotonic() - start
    if result.returncode != 0:
        return Check(
            "training", False, seconds, f"train.py exited {result.returncode}: {tail(result.stderr, 3)}"
        ), run_dir
    losses = [value for step, value in scalar_rows(run_dir, "train/loss") if step > size.learning_starts + 100]
    evaluations = scalar_rows(run_dir, "eval/mean_score")
    steps = scalar_rows(run_dir, "train/steps_per_second")
    moving = len(set(losses)) >= 3
    figures = {
        "agent_steps": max((step for step, _ in steps), default=0),
        "losses_after_capture": len(losses),
        "distinct_losses_after_capture": len(set(losses)),
        "evaluations": len(evaluations),
        "steps_per_second_last": steps[-1][1] if steps else None,
        "placement": next((line for line in result.stdout.splitlines() if line.startswith("replay memory")), ""),
    }
    ok = moving and len(evaluations) >= 1
    details = (
        f"{figures['agent_steps']:,} agent steps in {seconds:.0f} s; {figures['placement']}; "
        f"{len(set(losses))} distinct losses after the capture; {len(evaluations)} evaluation(s)"
    )
    return Check("training", ok, seconds, details, figures, tail(result.stdout, 15)), run_dir


def resumes(out: Path, run_dir: Path, device: str, size: Size) -> list[Check]:
    from agent.checkpoint import load_checkpoint

    checks = []
    saved_step = load_checkpoint(run_dir / "latest.pt")["progress"]["agent_step"]
    variants = {
        "resume onto captured_update=false": ["--set", "captured_update=false"],
        "resume onto replay_on_device=false": ["--set", "replay_on_device=false", "--save-replay"],
        "resume onto --device cpu": ["--device", "cpu", "--set", "replay_on_device=auto"],
    }
    for number, (name, extra) in enumerate(variants.items(), start=1):
        copy = out / f"resume{number}"
        shutil.copytree(run_dir, copy)
        command = [sys.executable, "train.py", "--resume", str(copy), "--steps", str(saved_step + size.resume_steps)]
        start = time.monotonic()
        result = run([*command, *extra], out / f"resume{number}.log", 300)
        restored = "starts empty" not in result.stdout and "starts new games" not in result.stdout
        reached = load_checkpoint(copy / "latest.pt")["progress"]["agent_step"] if result.returncode == 0 else 0
        ok = result.returncode == 0 and restored and reached >= saved_step + size.resume_steps
        placement = next((line for line in result.stdout.splitlines() if line.startswith("replay memory")), "")
        details = (
            f"from step {saved_step:,} to {reached:,}; replay memory restored: {restored}; {placement}"
            if result.returncode == 0
            else f"train.py exited {result.returncode}: {tail(result.stderr, 3)}"
        )
        checks.append(Check(name, ok, time.monotonic() - start, details, {"reached": reached}, tail(result.stdout, 8)))
    return checks


ROW = re.compile(r"^(\d+)\s+(.+?)\s{2,}([\d,]+\.\d)\s*(.*)$")


def throughput(out: Path, device: str, size: Size) -> list[Check]:
    start = time.monotonic()
    command = [sys.executable, "bench/agent_throughput.py", "--device", device]
    command += ["--seconds", str(size.agent_bench_seconds), "--fill", str(size.agent_bench_fill)]
    agent = run(command, out / "agent_throughput.log", 300)
    checks = [
        Check(
            "bench/agent_throughput.py",
            agent.returncode == 0,
            time.monotonic() - start,
            "ran" if agent.returncode == 0 else f"exited {agent.returncode}: {tail(agent.stderr, 3)}",
            output=agent.stdout.strip(),
        )
    ]
    start = time.monotonic()
    command = [sys.executable, "bench/train_throughput.py", "--device", device, "--rounds", "1", "--skip", "sb3"]
    command += ["--seconds", str(size.train_bench_seconds), "--learning-starts", str(size.train_bench_learning_starts)]
    whole = run(command, out / "train_throughput.log", 400)
    rows = {
        match[2].strip(): float(match[3].replace(",", ""))
        for match in map(ROW.match, whole.stdout.splitlines())
        if match
    }
    ours = max((value for label, value in rows.items() if label.startswith("arcade-dqn")), default=None)
    cleanrl = next((value for label, value in rows.items() if label.startswith("plain CleanRL")), None)
    figures = {"rows": rows, "arcade_dqn_best": ours, "cleanrl_style": cleanrl}
    details = f"exited {whole.returncode}: {tail(whole.stderr, 3)}"
    if whole.returncode == 0 and ours and cleanrl:
        figures["over_cleanrl"] = ours / cleanrl
        figures["goals_met"] = ours >= GOAL_STEPS_PER_SECOND and ours / cleanrl >= GOAL_OVER_CLEANRL
        details = (
            f"arcade-dqn {ours:,.0f} agent steps/s, {ours / cleanrl:.1f}x the CleanRL-style loop ({cleanrl:,.0f}); "
            f"goals {GOAL_STEPS_PER_SECOND:,} agent steps/s and {GOAL_OVER_CLEANRL:.0f}x: "
            f"{'met' if figures['goals_met'] else 'not met'}"
        )
    ok = whole.returncode == 0 and ours is not None and cleanrl is not None
    checks.append(
        Check("bench/train_throughput.py", ok, time.monotonic() - start, details, figures, whole.stdout.strip())
    )
    return checks


def write_report(out: Path, checks: list[Check], device: str, size_name: str, seconds: float) -> None:
    passed = all(check.ok for check in checks)
    (out / "report.json").write_text(
        json.dumps(
            {
                "device": device,
                "size": size_name,
                "seconds": seconds,
                "passed": passed,
                "checks": [asdict(c) for c in checks],
            },
            indent=2,
        )
    )
    lines = [
        f"# GPU acceptance: {'passed' if passed else 'FAILED'}",
        "",
        (
            f"`python bench/gpu_acceptance.py --device {device} --size {size_name}`, "
            f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, {seconds:.0f} s in all."
        ),
        "",
        "| check | result | seconds | details |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {check.name} | {'pass' if check.ok else 'FAIL'} | {check.seconds:.0f} | {check.details.replace('|', '/')} |"
        for check in checks
    ]
    for check in checks:
        if check.output:
            lines += ["", f"## {check.name}", "", "```", check.output, "```"]
    (out / "report.md").write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> int:
    from training.cli import CommandLineParser

    parser = CommandLineParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="an empty or new folder for the report and logs")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--size", choices=sorted(SIZES), default="full")
    args = parser.parse_args(argv)
    if args.out.exists() and (not args.out.is_dir() or any(args.out.iterdir())):
        parser.error(f"--out {args.out} exists and is not an empty folder")
    from agent.network import resolve_device

    try:
        resolve_device(args.device)
    except ValueError as error:
        parser.error(str(error))
    args.out.mkdir(parents=True, exist_ok=True)
    size = SIZES[args.size]
    started = time.monotonic()
    checks = [versions(args.device), gpu_tests(args.out, args.device)]
    check, run_dir = training(args.out, args.device, size)
    checks.append(check)
    if check.ok:
        checks += resumes(args.out, run_dir, args.device, size)
    checks += throughput(args.out, args.device, size)
    write_report(args.out, checks, args.device, args.size, time.monotonic() - started)
    for check in checks:
        print(f"{'pass' if check.ok else 'FAIL'}  {check.name}: {check.details}", flush=True)
    print(f"report: {args.out / 'report.md'}")
    return 0 if all(check.ok for check in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
