"""train.py end to end: run folders, logs, checkpoints, resume, faults and bad input.

Runs go through the real command line in subprocesses with tiny budgets.
"""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from agent.checkpoint import load_checkpoint
from agent.replay import ReplayMemory
from tests.commands import ROOT, run_script, run_with_a_small_disk

TINY = [
    "--set",
    "learning_starts=200",
    "--set",
    "eval_every_steps=300",
    "--set",
    "eval_episodes=1",
    "--set",
    "eval_max_episode_steps=150",
    "--set",
    "checkpoint_every_steps=300",
    "--set",
    "log_every_steps=100",
    "--set",
    "epsilon_decay_steps=1000",
    "--set",
    "target_update_period_steps=250",
    "--replay-size",
    "5000",
    "--quiet",
]


def train(*args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    return run_script("train.py", *args, timeout=timeout)


def scalars(run_dir: Path) -> dict[str, list[tuple[int, float]]]:
    import csv

    found: dict[str, list[tuple[int, float]]] = {}
    with open(run_dir / "scalars.csv", newline="") as file:
        for row in csv.DictReader(file):
            found.setdefault(row["tag"], []).append((int(row["step"]), float(row["value"])))
    return found


@pytest.mark.parametrize("game, num_envs", [("Breakout", 2), ("Catcher", 1)])
def test_short_run_writes_every_artifact(tmp_path, game, num_envs):
    run_dir = tmp_path / "run"
    result = train("--game", game, "--steps", "900", "--num-envs", str(num_envs), "--run-dir", str(run_dir), *TINY)
    assert result.returncode == 0, result.stderr
    assert str(run_dir) in result.stdout
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    expected = {
        "episode/score",
        "episode/length",
        "train/loss",
        "train/mean_q",
        "train/epsilon",
        "train/steps_per_second",
        "eval/mean_score",
    }
    assert expected <= tags
    # every 300 agent steps: the first vector step at or past each (with 2 envs a step that
    # starts a new game counts one agent step, so a point can be passed by one)
    eval_steps = [event.step for event in events.Scalars("eval/mean_score")]
    assert len(eval_steps) == 3 and all(due <= step < due + num_envs for step, due in zip(eval_steps, (300, 600, 900)))
    assert expected <= set(scalars(run_dir))
    import imageio.v3 as iio

    curve = iio.imread(run_dir / "learning_curve.png")
    assert curve.ndim == 3 and curve.shape[0] > 200 and len(np.unique(curve.reshape(-1, curve.shape[-1]), axis=0)) > 10
    for name in ("latest.pt", "best.pt"):
        checkpoint = load_checkpoint(run_dir / name)
        assert checkpoint["game"] == game
    latest = load_checkpoint(run_dir / "latest.pt")
    assert latest["progress"]["agent_step"] == eval_steps[-1]
    assert sorted(path.name for path in run_dir.glob("step_*.pt")) == [f"step_{step:09d}.pt" for step in eval_steps]
    assert (run_dir / "config.json").is_file()


CARTPOLE = [
    "--game",
    "CartPole",
    "--set",
    "eval_every_steps=1000",
    "--set",
    "eval_episodes=2",
    "--set",
    "checkpoint_every_steps=1000",
    "--set",
    "target_update_period_steps=300",
    "--set",
    "log_every_steps=100",
    "--quiet",
]


def test_resume_continues_every_schedule(tmp_path):
    run_dir = tmp_path / "run"
    first = train(*CARTPOLE, "--steps", "1500", "--run-dir", str(run_dir))
    assert first.returncode == 0, first.stderr
    stopped = load_checkpoint(run_dir / "latest.pt")["progress"]
    assert stopped["agent_step"] == 1500
    assert stopped["next_eval_step"] == 2000 and stopped["last_target_sync_step"] == 1500
    resumed = train("--resume", str(run_dir), "--steps", "3200")
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming CartPole" in resumed.stdout
    final = load_checkpoint(run_dir / "latest.pt")
    assert final["progress"]["agent_step"] == 3200
    # one update per step after learning_starts (1000); the replay memory was not saved, so the
    # resumed run refills it for learning_starts steps before updating again (no burst after)
    assert "refill" in resumed.stdout
    assert final["learner"]["updates_done"] == (1500 - 1000 + 1) + (3200 - 2500 + 1)
    logged = scalars(run_dir)
    loss_steps = [step for step, _ in logged["train/loss"]]
    assert not [step for step in loss_steps if 1500 < step < 2500] and 2500 in loss_steps
    assert [step for step, _ in logged["eval/mean_score"]] == [1000, 2000, 3000]  # no evaluation skipped or repeated
    epsilon = dict(logged["train/epsilon"])
    assert epsilon[1600] == pytest.approx(1.0 - 0.98 * 1600 / 10_000)  # the schedule went on from 1500
    steps = [step for step, _ in logged["train/epsilon"]]
    assert steps == sorted(steps) and min(s for s in steps if s > 1500) == 1600


# one Atari game in our pipeline (sticky actions: the emulator's RNG must resume too), a small CNN
BREAKOUT_ONE_ENV = [
    "--game",
    "Breakout",
    "--preset",
    "nature",
    "--sticky-actions",
    *TINY,
    "--set",
    "num_envs=1",
    "--set",
    "cnn_channels=8,16,16",
    "--set",
    "hidden_size=64",
]


# the replay memory sampled on the learner's device (the CPU here), with priorities
CARTPOLE_DEVICE_REPLAY = [*CARTPOLE, "--set", "replay_on_device=true", "--set", "prioritized_replay=true"]


@pytest.mark.parametrize(
    "game_args, steps",
    [
        (CARTPOLE, 2400),
        pytest.param(BREAKOUT_ONE_ENV, 1200, marks=pytest.mark.slow),  # the emulator's state: sticky actions
        (CARTPOLE_DEVICE_REPLAY, 2400),
    ],
    ids=["CartPole", "Breakout", "CartPole-device-replay"],
)
def test_exact_resume_with_saved_replay_matches_one_long_run(tmp_path, game_args, steps):
    """N steps, a resume (which keeps --save-replay: the run folder holds its replay/), N more:
    the weights of one run of 2N steps, to the bit."""
    from agent.replay.persistence import read_manifest

    halves, whole = tmp_path / "halves", tmp_path / "whole"
    common = [*game_args, "--seed", "3", "--device", "cpu", "--save-replay"]
    assert train(*common, "--steps", str(steps // 2), "--run-dir", str(halves)).returncode == 0
    saved = read_manifest(halves / "replay")
    assert saved is not None and ("device" in saved["rng"]) == (game_args is CARTPOLE_DEVICE_REPLAY)  # which ran
    resumed_run = train("--resume", str(halves), "--steps", str(steps))
    assert resumed_run.returncode == 0 and "starts new games" not in resumed_run.stdout
    assert "starts empty" not in resumed_run.stdout
    saved_step = read_manifest(halves / "replay")["metadata"]["agent_step"]  # the resumed run saved it again
    assert saved_step == load_checkpoint(halves / "latest.pt")["progress"]["agent_step"] >= steps
    assert train(*common, "--steps", str(steps), "--run-dir", str(whole)).returncode == 0
    resumed = load_checkpoint(halves / "latest.pt")["learner"]["online"]
    straight = load_checkpoint(whole / "latest.pt")["learner"]["online"]
    for name in straight:
        assert torch.equal(resumed[name], straight[name]), name


def wait_for(path: Path, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear")
        time.sleep(0.2)


def start_training(run_dir: Path, *extra: str) -> subprocess.Popen:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "train.py"),
            "--game",
            "CartPole",
            "--steps",
            "10000000",
            "--run-dir",
            str(run_dir),
            "--quiet",
            *extra,
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )


def test_sigint_saves_and_exits_cleanly(tmp_path):
    run_dir = tmp_path / "run"
    process = start_training(run_dir, "--set", "log_every_steps=100")
    wait_for(run_dir / "scalars.csv")
    time.sleep(2)
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "resume with: python train.py --resume" in stdout
    assert load_checkpoint(run_dir / "latest.pt")["progress"]["agent_step"] > 0


def test_sigkill_during_checkpoint_writes_never_leaves_a_broken_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    # a checkpoint (and the replay memory) every 20 steps: the process spends most of its time writing them
    process = start_training(
        run_dir, "--save-replay", "--set", "checkpoint_every_steps=20", "--set", "learning_starts=100000"
    )
    wait_for(run_dir / "latest.pt")
    rng = np.random.default_rng(0)
    for attempt in range(6):
        time.sleep(float(rng.uniform(0.05, 0.4)))
        process.kill()
        process.wait(timeout=30)
        checkpoint = load_checkpoint(run_dir / "latest.pt")  # old or new, never partial
        assert checkpoint["progress"]["agent_step"] > 0
        replay = ReplayMemory(50_000, 1, (4,), observation_dtype=torch.float32)  # CartPole's
        assert replay.load(run_dir / "replay")["game"] == "CartPole"  # the last whole save
        run_dir = run_dir.parent / f"again{attempt}"
        process = start_training(
            run_dir, "--save-replay", "--set", "checkpoint_every_steps=20", "--set", "learning_starts=100000"
        )
        wait_for(run_dir / "latest.pt")
    process.kill()
    process.wait(timeout=30)


def test_resume_after_sigkill_drops_the_logs_of_the_lost_steps(tmp_path):
    """A run killed after its last checkpoint logged steps the resumed run plays again: the CSV and
    TensorBoard must show each step once, in order, not the lost stretch and then its replay."""
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    run_dir = tmp_path / "run"
    every = {"log_every_steps": 50, "checkpoint_every_steps": 1000, "learning_starts": 500, "eval_every_steps": 250}
    settings = [arg for key, value in every.items() for arg in ("--set", f"{key}={value}")]
    settings += ["--set", "eval_episodes=1", "--set", "eval_max_episode_steps=100"]  # evaluations flush the CSV
    process = start_training(run_dir, *settings)
    wait_for(run_dir / "step_000001000.pt")
    deadline = time.monotonic() + 120
    while max((step for rows in scalars(run_dir).values() for step, _ in rows), default=0) < 1300:
        assert time.monotonic() < deadline and process.poll() is None, "the run logged nothing past step 1300"
        time.sleep(0.05)
    process.kill()
    process.wait(timeout=30)
    saved_step = load_checkpoint(run_dir / "latest.pt")["progress"]["agent_step"]
    logged_before = scalars(run_dir)["train/loss"]
    assert max(step for step, _ in logged_before) > saved_step  # the fault happened after the checkpoint

    resumed = train("--resume", str(run_dir), "--steps", str(saved_step + 600))
    assert resumed.returncode == 0, resumed.stderr
    for tag, rows in scalars(run_dir).items():
        steps = [step for step, _ in rows]
        assert steps == sorted(steps) and len(set(steps)) == len(steps), tag
    losses = scalars(run_dir)["train/loss"]
    assert [row for row in losses if row[0] <= saved_step] == [row for row in logged_before if row[0] <= saved_step]
    assert max(step for step, _ in losses) > saved_step + 300  # the resumed run logs on from there
    events = EventAccumulator(str(run_dir / "tensorboard"))
    events.Reload()
    board_steps = [event.step for event in events.Scalars("train/loss")]
    assert board_steps == sorted(set(board_steps)) and board_steps == [step for step, _ in losses]


# Runs in its own mount namespace: a 3 MB tmpfs is the run folder; once two checkpoints are
# written, a filler file takes every byte left, and training goes on until its next write fails.
FULL_DISK_SCRIPT = r"""
mount -t tmpfs -o size=3m tmpfs "$DISK" || exit 97
"$PYTHON" "$TRAIN" --game CartPole --steps 20000 --run-dir "$DISK/run" --quiet \
    --set checkpoint_every_steps=500 --set eval_every_steps=100000 --set log_every_steps=100 \
    >"$OUT/stdout" 2>"$OUT/stderr" &
pid=$!
while [ ! -f "$DISK/run/step_000001000.pt" ] && kill -0 $pid 2>/dev/null; do sleep 0.05; done
dd if=/dev/zero of="$DISK/filler" bs=64k 2>/dev/null
df -k "$DISK" | tail -1 >"$OUT/df"
wait $pid
echo $? >"$OUT/exit"
cp "$DISK/run/latest.pt" "$OUT/latest.pt"
ls -a "$DISK/run" >"$OUT/listing"
"""


def test_a_real_full_disk_gives_one_line_and_keeps_the_last_checkpoint(tmp_path):
    out = run_with_a_small_disk(tmp_path, FULL_DISK_SCRIPT, timeout=300, TRAIN=str(ROOT / "train.py"))
    assert int(out.joinpath("df").read_text().split()[3]) < 64  # the filesystem really was full (KB left)
    stderr = out.joinpath("stderr").read_text()
    assert out.joinpath("exit").read_text().strip() == "1", stderr
    assert "Traceback" not in stderr
    assert stderr.count("\n") == 1 and stderr.startswith("error: ") and "no space left" in stderr, stderr
    assert "intact" in stderr
    kept = load_checkpoint(out / "latest.pt")  # the last good checkpoint, whole
    assert kept["progress"]["agent_step"] >= 1000 and kept["progress"]["agent_step"] % 500 == 0
    assert not [name for name in out.joinpath("listing").read_text().split() if name.endswith(".tmp")]


SAVE_ON_A_FULL_DISK = """
import os, sys, torch
from agent.checkpoint import CheckpointError, save_checkpoint
path = sys.argv[1] + "/latest.pt"
save_checkpoint(path, {"weights": torch.ones(1000)})
disk = os.statvfs(sys.argv[1])
with open(sys.argv[1] + "/filler", "wb") as filler:  # all but 300 KB: the disk fills up mid-checkpoint
    filler.write(bytes(disk.f_bavail * disk.f_frsize - 300_000))
try:
    save_checkpoint(path, {"weights": torch.zeros(3_000_000)})  # 12 MB
except CheckpointError as error:
    print(error)
"""


def test_a_checkpoint_saved_on_a_real_full_disk_is_refused_and_the_old_one_kept(tmp_path):
    """A disk that fills up during the write: torch's zip writer alone would raise a bare
    RuntimeError ("unexpected pos") here."""
    script = 'mount -t tmpfs -o size=1m tmpfs "$DISK" || exit 97; "$PYTHON" -c "$CODE" "$DISK" >"$OUT/said"; '
    script += 'cp "$DISK/latest.pt" "$OUT/"; ls -a "$DISK" >"$OUT/listing"'
    out = run_with_a_small_disk(tmp_path, script, timeout=120, CODE=SAVE_ON_A_FULL_DISK)
    said = out.joinpath("said").read_text()
    assert "no space left on the device" in said and "previous checkpoint is intact" in said
    assert torch.equal(load_checkpoint(out / "latest.pt")["weights"], torch.ones(1000))
    assert sorted(out.joinpath("listing").read_text().split()) == [".", "..", "filler", "latest.pt"]


def test_non_finite_loss_stops_without_overwriting_a_good_checkpoint(tmp_path):
    run_dir = tmp_path / "run"
    result = train(
        "--game",
        "CartPole",
        "--steps",
        "5000",
        "--run-dir",
        str(run_dir),
        "--quiet",
        "--set",
        "learning_rate=1e30",
        "--set",
        "learning_starts=300",
        "--set",
        "checkpoint_every_steps=100",
        "--set",
        "log_every_steps=50",
        "--set",
        "eval_every_steps=100000",
    )
    assert result.returncode == 1
    assert "not finite" in result.stderr or "loss became" in result.stderr
    latest = load_checkpoint(run_dir / "latest.pt")
    assert all(torch.isfinite(tensor).all() for tensor in latest["learner"]["online"].values())


def digest(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def finished_cartpole_run(tmp_path_factory) -> Path:
    run_dir = tmp_path_factory.mktemp("cartpole") / "run"
    result = train(*CARTPOLE, "--steps", "300", "--run-dir", str(run_dir))
    assert result.returncode == 0, result.stderr
    return run_dir


def bad_inputs(run_dir: Path, tmp_path: Path) -> dict[str, tuple[list[str], str]]:
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(os.urandom(2000))
    foreign = tmp_path / "foreign.pt"
    torch.save({"state_dict": {"w": torch.ones(1)}}, foreign)
    pickled = tmp_path / "pickled.pt"
    torch.save({"format": "arcade-dqn/1", "payload": np.random.default_rng(0)}, pickled)
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    return {
        "unknown game": (["--game", "Pnog"], "Did you mean Pong"),
        "unwritable run folder": (
            ["--game", "CartPole", "--run-dir", str(blocker / "run")],
            "cannot write to run folder",
        ),
        "missing checkpoint": (["--resume", str(tmp_path / "nothing.pt")], "no checkpoint at"),
        "corrupt checkpoint": (["--resume", str(garbage)], "corrupt"),
        "foreign checkpoint": (["--resume", str(foreign)], "not an arcade-dqn checkpoint"),
        "pickled object": (["--resume", str(pickled)], "pickled"),
        "other game": (["--game", "Pong", "--resume", str(run_dir)], "checkpoint of CartPole, not Pong"),
        "unknown override": (["--game", "CartPole", "--set", "learning_rat=1"], "Did you mean learning_rate"),
        "existing run": (["--game", "CartPole", "--run-dir", str(run_dir)], "already holds a run"),
        "replay too big": (
            ["--game", "CartPole", "--replay-size", "100000000000", "--run-dir", str(tmp_path / "big")],
            "--replay-size",
        ),
        "negative steps": (["--game", "CartPole", "--steps", "-5"], "--steps must be at least 1"),
        "replay too small for a batch": (["--game", "Pong", "--replay-size", "10"], "use --replay-size 52 or more"),
        "bad config value": (["--game", "CartPole", "--set", "discount=1.5"], "discount must be between 0 and 1"),
        "resume with bad steps": (["--resume", str(run_dir), "--steps", "0"], "--steps must be at least 1"),
        "num envs a word": (["--game", "Pong", "--num-envs", "many"], "--num-envs takes a whole number or auto"),
        "no envs": (["--game", "Pong", "--num-envs", "0"], "--num-envs must be at least 1"),
        # a GPU this machine does not have (none here; on a one-GPU machine, the eighth)
        "missing GPU": (["--game", "CartPole", "--device", "cuda:7"], "device 'cuda:7' asked for"),
        "unknown device": (["--game", "CartPole", "--device", "cuda:x"], "unknown device 'cuda:x'"),
    }


def test_bad_input_gets_one_line_and_exit_code_2_with_nothing_overwritten(finished_cartpole_run, tmp_path):
    before = digest(finished_cartpole_run)
    for label, (args, message) in bad_inputs(finished_cartpole_run, tmp_path).items():
        result = train(*args, timeout=120)
        assert result.returncode == 2, (label, result.stderr)
        assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, (label, result.stderr)
        assert message in result.stderr, (label, result.stderr)
    assert digest(finished_cartpole_run) == before


@pytest.mark.slow  # (test_replay.py checks the memory of that size holds a batch)
def test_the_smallest_replay_size_offered_does_train(tmp_path):
    """The refusal above names the smallest memory that works: at that size a run updates."""
    run_dir = tmp_path / "run"
    result = train(
        "--game", "CartPole", "--steps", "600", "--replay-size", "66", "--run-dir", str(run_dir), "--quiet",
        "--set", "learning_starts=100", "--set", "log_every_steps=100",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(scalars(run_dir)["train/loss"]) >= 4  # CartPole: batch 64, 1 env, 1 frame, 1 step -> 66
    assert train("--game", "CartPole", "--replay-size", "65", "--run-dir", str(tmp_path / "r2")).returncode == 2


def test_prioritized_n_step_run_trains_and_reweights(tmp_path):
    run_dir = tmp_path / "run"
    result = train(
        *CARTPOLE,
        "--steps",
        "2500",
        "--run-dir",
        str(run_dir),
        "--save-replay",
        "--set",
        "prioritized_replay=true",
        "--set",
        "n_step=3",
    )
    assert result.returncode == 0, result.stderr
    assert "train/loss" in scalars(run_dir)
    replay = ReplayMemory(50_000, 1, (4,), observation_dtype=torch.float32, n_step=3, prioritized=True)
    replay.load(run_dir / "replay")
    leaves = replay.priority_leaves()
    assert len(np.unique(leaves[leaves > 0])) > 100  # priorities follow TD errors, not one constant


def test_wall_clock_budget_stops_saves_and_says_how_to_resume(tmp_path):
    run_dir = tmp_path / "run"
    started = time.monotonic()
    result = train("--game", "CartPole", "--hours", "0.001", "--run-dir", str(run_dir), "--quiet")  # 3.6 s
    assert result.returncode == 0, result.stderr
    assert time.monotonic() - started < 60
    assert "stopped (time)" in result.stdout and f"python train.py --resume {run_dir}" in result.stdout
    step = load_checkpoint(run_dir / "latest.pt")["progress"]["agent_step"]
    assert 0 < step < 50_000


def test_a_refused_replay_memory_leaves_no_env_processes_behind(tmp_path):
    """Two Catcher envs run in subprocesses; the memory check refuses after they started."""
    import multiprocessing

    from agent.config import make_config
    from envs import resolve_game
    from training.trainer import Trainer, TrainingError

    config = make_config("pygame", num_envs=2, replay_capacity=10**11)
    try:
        Trainer(resolve_game("Catcher"), config, tmp_path)
    except TrainingError as error:  # checked while the error (and the half-built trainer) still exists
        assert "--replay-size" in str(error)
        assert multiprocessing.active_children() == []
    else:
        raise AssertionError("the memory check should refuse 10^11 transitions")


def test_num_envs_auto_sizes_atari_to_the_machine_and_keeps_our_games_at_one(tmp_path):
    import train
    from envs import envs_for_machine, resolve_game

    assert envs_for_machine(resolve_game("Breakout"), cores=16) == 16
    assert envs_for_machine(resolve_game("Breakout"), cores=2) == 4
    assert envs_for_machine(resolve_game("Snake"), cores=16) == envs_for_machine(resolve_game("CartPole"), 16) == 1
    for game, expected in (("Pong", max(4, os.cpu_count())), ("Catcher", 1)):
        args = train.parse_args(["--game", game, "--num-envs", "auto", "--run-dir", str(tmp_path / game)])
        _, config, _, _ = train.resolve_run(args)
        assert config.num_envs == expected


@pytest.mark.parametrize(
    ("overlap", "replay_on_device"),
    [(True, "false"), (False, "false"), (True, "true")],
    ids=["overlap", "serial", "device-replay"],
)
def test_overlapped_collection_runs_the_updates_due_while_the_games_step(tmp_path, overlap, replay_on_device):
    """Overlapped, each step runs the updates due before it (while ale-py steps the games);
    serial, those due after it. Either way the replay ratio is the config's. With the replay
    memory on the learner's device the agent acts on the states stored there: the same ones."""
    from agent.config import make_config
    from agent.replay import DeviceReplayMemory
    from envs import resolve_game
    from training.trainer import Trainer

    config = make_config(
        "atari", num_envs=2, replay_capacity=2_000, learning_starts=100, batch_size=8, cnn_channels=(4, 4, 4),
        hidden_size=16, overlap_collection=overlap, replay_on_device=replay_on_device, device="cpu",
    )  # fmt: skip
    trainer = Trainer(resolve_game("Breakout"), config, tmp_path)
    assert trainer.overlaps_collection == overlap
    assert isinstance(trainer.replay, DeviceReplayMemory) == (replay_on_device == "true")
    assert trainer.writes_after_sending == (overlap and replay_on_device != "true")

    def due_at(step: int) -> int:
        return 0 if step < 100 else (step - 100) // 4 + 1

    try:
        for _ in range(150):
            before = trainer.progress.agent_step
            trainer.train_step()
            after = trainer.progress.agent_step
            assert trainer.learner.updates_done == due_at(before if overlap else after)
            # overlapped with the memory on the host, the step is written once the next actions are sent
            trainer.write_last_step()
            np.testing.assert_array_equal(trainer.replay.newest_states().numpy(), trainer.obs)
    finally:
        trainer.close()
    assert trainer.learner.updates_done > 40


@pytest.mark.parametrize(
    ("overlap", "replay_on_device", "order"),
    [
        (True, "false", ["receive", "send", "finish"]),  # the games step while the episode rules run
        (True, "true", ["receive", "finish", "send"]),  # acting reads the step written into the memory
        (False, "false", ["send", "receive", "finish"]),
    ],
    ids=["overlap", "device-replay", "serial"],
)
def test_overlapped_the_next_step_is_sent_before_the_episode_rules_run(tmp_path, overlap, replay_on_device, order):
    """Overlapped with the memory on the host, the next actions go to the games as soon as a
    step's observations arrive, before its episode rules run (the games stand idle only while
    the agent acts); the real env's calls, in the order train_step makes them."""
    from agent.config import make_config
    from envs import resolve_game
    from training.trainer import Trainer

    config = make_config(
        "atari", num_envs=2, replay_capacity=2_000, learning_starts=20, batch_size=8, cnn_channels=(4, 4, 4),
        hidden_size=16, overlap_collection=overlap, replay_on_device=replay_on_device, device="cpu",
    )  # fmt: skip
    trainer = Trainer(resolve_game("Breakout"), config, tmp_path)
    calls: list[str] = []
    env = trainer.env
    for label, attribute in (("send", "send"), ("receive", "receive_observations"), ("finish", "finish_step")):
        method = getattr(env, attribute)  # the real call, recorded on its way through

        def recorded(*args, label=label, method=method):
            calls.append(label)
            return method(*args)

        setattr(env, attribute, recorded)
    try:
        for _ in range(3):
            trainer.train_step()
        calls.clear()
        for _ in range(30):
            trainer.train_step()
        assert calls == order * 30
    finally:
        trainer.close()


@pytest.mark.parametrize("overlap", [True, False], ids=["overlap", "serial"])
def test_overlapped_the_next_step_is_under_way_when_train_step_returns(tmp_path, overlap):
    """Overlapped, a step's actions go to the games as soon as its observations arrive, so
    train_step returns with the next step under way (a second send is refused); serial, with
    none. A restore in the middle of a run (games that cannot be saved) starts new games."""
    from agent.config import make_config
    from envs import resolve_game
    from training.trainer import Trainer

    config = make_config(
        "atari", num_envs=2, replay_capacity=2_000, learning_starts=20, batch_size=8, cnn_channels=(4, 4, 4),
        hidden_size=16, overlap_collection=overlap, device="cpu",
    )  # fmt: skip
    trainer = Trainer(resolve_game("Breakout"), config, tmp_path)
    try:
        for _ in range(30):
            trainer.train_step()
        if overlap:
            with pytest.raises(RuntimeError, match=r"send\(\) twice"):
                trainer.env.send(np.zeros(2, dtype=np.int64))
        else:
            trainer.env.send(np.zeros(2, dtype=np.int64))
            trainer.env.recv()  # (a step of no transition: the restore below starts new games)
        notes = trainer.restore(trainer.checkpoint_state())
        assert any("starts new games" in note for note in notes)
        steps_before = trainer.progress.agent_step
        for _ in range(5):
            trainer.train_step()
        assert trainer.progress.agent_step > steps_before
        trainer.write_last_step()
        np.testing.assert_array_equal(trainer.replay.newest_states().numpy(), trainer.obs)
    finally:
        trainer.close()


def test_a_saved_replay_memory_holds_the_step_written_after_sending(tmp_path):
    """Overlapped with the memory on the host, the last vector step waits to be written until
    the next actions are sent; a checkpoint with --save-replay writes it first."""
    from agent.config import make_config
    from agent.replay import ReplayMemory
    from envs import resolve_game
    from training.trainer import REPLAY_FOLDER, Trainer

    config = make_config(
        "atari", num_envs=2, replay_capacity=2_000, learning_starts=100, batch_size=8, cnn_channels=(4, 4, 4),
        hidden_size=16, replay_on_device="false", device="cpu",
    )  # fmt: skip
    trainer = Trainer(resolve_game("Breakout"), config, tmp_path, save_replay=True)
    try:
        assert trainer.writes_after_sending
        for _ in range(30):
            trainer.train_step()
        trainer.save()
        saved = ReplayMemory(2_000, 2, trainer.observation_shape)
        assert saved.load(tmp_path / REPLAY_FOLDER)["agent_step"] == trainer.progress.agent_step
        np.testing.assert_array_equal(saved.newest_states().numpy(), trainer.obs)
        np.testing.assert_array_equal(saved.frames_written, trainer.replay.frames_written)
        trainer.train_step()  # the run goes on: the saved step is not written again, the new one waits
        np.testing.assert_array_equal(trainer.replay.frames_written, saved.frames_written)
        trainer.write_last_step()
        assert (trainer.replay.frames_written > saved.frames_written).all()
    finally:
        trainer.close()


@pytest.mark.slow  # (the hint's rule: test_the_long_run_hint_is_for_the_cpu_alone)
def test_a_run_the_cpu_would_train_for_days_says_what_to_expect_once_and_a_short_run_does_not(tmp_path):
    """The hint comes once learning runs, from the speed measured then: CartPole's 1,000M steps
    take days on this CPU; 1,000 steps (800 of them learning) take seconds."""
    long_run = train("--game", "CartPole", "--steps", "1000000000", "--hours", "0.006", "--device", "cpu",
                     "--set", "learning_starts=200", "--set", "log_every_steps=100",
                     "--run-dir", str(tmp_path / "long"), "--quiet")  # fmt: skip
    assert long_run.returncode == 0, long_run.stderr
    hint = [line for line in long_run.stdout.splitlines() if line.startswith("note: ")]
    assert len(hint) == 2 and "steps left take about" in hint[0] and "hours" in hint[0], long_run.stdout
    hours = float(hint[0].split("take about ")[1].split(" hours")[0].replace(",", ""))
    assert hours > 12 and "--hours 8" in hint[1] and f"--resume {tmp_path / 'long'}" in hint[1]
    short_run = train("--game", "CartPole", "--steps", "1000", "--device", "cpu", "--set", "learning_starts=200",
                      "--set", "log_every_steps=100", "--run-dir", str(tmp_path / "short"))  # fmt: skip
    assert short_run.returncode == 0 and "note: at" not in short_run.stdout, short_run.stdout


def test_the_long_run_hint_is_for_the_cpu_alone():
    from training.run import long_run_hint

    assert long_run_hint(torch.device("cpu"), 10_000_000, 100.0, "RUN") is not None  # 28 hours
    assert long_run_hint(torch.device("cpu"), 100_000, 100.0, "RUN") is None  # 17 minutes
    assert long_run_hint(torch.device("cuda"), 10_000_000, 100.0, "RUN") is None
