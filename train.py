"""Train a DQN agent on a game: ``python train.py --game Pong``.

Prints the run folder, shows progress, logs to TensorBoard and CSV, evaluates, keeps
atomic checkpoints, and stops cleanly on Ctrl-C (resume with ``--resume RUN_DIR``).
Bad input gets a one-line error and exit code 2 before any work starts.
"""

from __future__ import annotations

import argparse
import errno
import json
import sys
import time
from pathlib import Path

from training.cli import CommandLineParser, UsageError, report_usage_error, require

DEFAULT_CHECKPOINT_ROOT = Path("checkpoints")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = CommandLineParser(description="Train a DQN agent on a game from its pixels.")
    parser.add_argument(
        "--game", help="game id: Pong, Breakout, ALE/Pong-v5, FlappyBird, Catcher, CartPole... (python -m envs --list)"
    )
    parser.add_argument("--steps", type=int, help="agent steps to train for in all (default: the preset's total_steps)")
    parser.add_argument(
        "--hours", type=float, help="wall-clock budget; stops and saves when it runs out (train overnight: --hours 8)"
    )
    parser.add_argument("--preset", help="nature, atari, pygame, snake or cartpole (default: chosen by game)")
    parser.add_argument("--seed", type=int, help="random seed (default 0)")
    parser.add_argument("--device", help="auto, cuda, mps or cpu (default auto)")
    parser.add_argument(
        "--num-envs", help="parallel environments, or auto (Atari: one per CPU core and at least 4; our games: 1)"
    )
    parser.add_argument("--replay-size", type=int, help="replay memory capacity in transitions")
    parser.add_argument(
        "--run-dir", type=Path, help="where the run's logs and checkpoints go (default checkpoints/<game>/<time>/)"
    )
    parser.add_argument(
        "--resume",
        type=Path,
        metavar="RUN_DIR_OR_CHECKPOINT",
        help="continue a run from its latest.pt (or the given .pt)",
    )
    parser.add_argument(
        "--save-replay",
        action="store_true",
        help="also save the replay memory (the run folder's replay/, each save writing what changed) with "
        "latest.pt, for an exact resume (kept on resume while the run folder holds one)",
    )
    parser.add_argument(
        "--sticky-actions",
        action="store_true",
        help="Atari: repeat the previous action with probability 0.25 (off as in the paper; kept on resume)",
    )
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="override any config field, e.g. --set learning_rate=1e-4 (repeatable)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not print the resolved config")
    return parser.parse_args(argv)


# the options that set config fields, named in messages about those fields
OPTION_OF_FIELD = {"total_steps": "--steps", "num_envs": "--num-envs", "replay_capacity": "--replay-size"}


def check_replay_holds_a_batch(config, spec) -> None:
    """A memory too small to ever hold a batch would never update: refuse it."""
    from agent.replay import smallest_capacity

    smallest = smallest_capacity(config.num_envs, spec.frames_per_observation, config.n_step, config.batch_size)
    require(
        config.replay_capacity >= smallest,
        f"a replay memory of {config.replay_capacity} transitions can never hold a batch of {config.batch_size} "
        f"with {config.num_envs} env(s) and {config.n_step}-step returns; use --replay-size {smallest} or more",
    )


def parse_num_envs(text: str, spec) -> int:
    """``--num-envs``: a whole number, or ``auto`` for the machine (``envs.envs_for_machine``)."""
    from envs import envs_for_machine

    if text == "auto":
        return envs_for_machine(spec)
    try:
        return int(text)
    except ValueError:
        raise UsageError(f"--num-envs takes a whole number or auto, got {text!r}") from None


def check_writable(run_dir: Path) -> None:
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / ".write-test"
        probe.write_bytes(b"ok")
        probe.unlink()
    except OSError as error:
        raise UsageError(
            f"cannot write to run folder {run_dir}: {error.strerror or error}; pick another --run-dir"
        ) from None


def resolve_run(args: argparse.Namespace):
    """Everything a run needs, checked before any work: (spec, config, run_dir, resume_state)."""
    from agent.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint_path
    from agent.config import PRESETS, DQNConfig, make_config, parse_override, preset_for_game
    from envs import UnknownGameError, resolve_game

    resume_state, checkpoint_path = None, None
    if args.resume is not None:
        try:
            checkpoint_path = resolve_checkpoint_path(args.resume, ("latest.pt",))
            resume_state = load_checkpoint(checkpoint_path)
        except CheckpointError as error:
            raise UsageError(str(error)) from None
    try:
        game_id = args.game or (resume_state["game"] if resume_state else None)
        if game_id is None:
            raise UsageError("say which game to train on with --game (python -m envs --list shows them all)")
        spec = resolve_game(game_id)
    except UnknownGameError as error:
        raise UsageError(str(error)) from None
    if resume_state is not None and resume_state["game"] != spec.name:
        raise UsageError(
            f"{checkpoint_path} is a checkpoint of {resume_state['game']}, not {spec.name}; "
            f"drop --game or resume a {spec.name} run"
        )

    if resume_state is not None:
        if args.preset:
            raise UsageError("--preset cannot change a resumed run; use --set FIELD=VALUE for single fields")
        config = DQNConfig.from_dict(resume_state["config"])
    else:
        preset = args.preset or preset_for_game(spec.family, spec.name)
        if preset not in PRESETS:
            raise UsageError(f"unknown preset {preset!r}; choose one of {', '.join(PRESETS)}")
        config = make_config(preset)
    changes = {}
    for text in args.overrides:
        try:
            name, value = parse_override(text, config)
        except ValueError as error:
            raise UsageError(str(error)) from None
        changes[name] = value
    if args.num_envs is not None:
        changes["num_envs"] = parse_num_envs(args.num_envs, spec)
    for option, field in (
        ("seed", "seed"),
        ("device", "device"),
        ("replay_size", "replay_capacity"),
        ("steps", "total_steps"),
    ):
        if getattr(args, option) is not None:
            changes[field] = getattr(args, option)
    if args.sticky_actions:
        changes["sticky_actions"] = True
    if resume_state is not None:
        frozen = {
            "num_envs",
            "replay_capacity",
            "network",
            "cnn_channels",
            "hidden_size",
            "mlp_hidden_sizes",
            "dueling",
            "n_step",
        } & set(changes)
        if frozen:
            raise UsageError(f"cannot change {', '.join(sorted(frozen))} when resuming; start a new run instead")
    config = config.replace(**changes)
    try:
        config.validate(OPTION_OF_FIELD)
    except ValueError as error:
        raise UsageError(str(error)) from None
    check_replay_holds_a_batch(config, spec)
    if spec.family == "state" and config.network != "mlp":
        raise UsageError(f"{spec.name} gives a vector state: use --preset cartpole or --set network=mlp")
    if spec.pixels and config.network != "nature_cnn":
        raise UsageError(f"{spec.name} gives pixels: use --set network=nature_cnn")
    try:
        from agent.network import resolve_device

        resolve_device(config.device)
    except ValueError as error:
        raise UsageError(str(error)) from None
    require(args.hours is None or args.hours > 0, "--hours must be positive")

    if resume_state is not None:
        run_dir = args.run_dir or checkpoint_path.parent
    else:
        run_dir = args.run_dir or DEFAULT_CHECKPOINT_ROOT / spec.name / time.strftime("%Y%m%d-%H%M%S")
        if (run_dir / "latest.pt").exists():
            raise UsageError(
                f"{run_dir} already holds a run; continue it with --resume {run_dir} or choose another --run-dir"
            )
    check_writable(run_dir)
    return spec, config, run_dir, resume_state


def write_failure_message(error: OSError, run_dir: Path) -> str:
    """One line for a failed write outside a checkpoint (the checkpoints stay whole)."""
    what = "no space left on the device" if error.errno == errno.ENOSPC else (error.strerror or str(error))
    return (
        f"could not write the logs of {run_dir}: {what}; its checkpoints are intact. "
        f"Free some space and resume with: python train.py --resume {run_dir}"
    )


def close_quietly(logger) -> None:
    """Closes the logs; on a full disk their last lines are lost, and the error was reported already."""
    if logger is None:
        return
    try:
        logger.close()
    except OSError:
        pass


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        spec, config, run_dir, resume_state = resolve_run(args)
    except UsageError as error:
        return report_usage_error(error)

    from agent.checkpoint import CheckpointError, atomic_write
    from training.logs import RunLogger
    from training.run import run_training
    from training.stop import install_stop_handlers
    from training.trainer import Trainer, TrainingError, saved_replay_in

    # a run that saved its replay memory goes on saving it when resumed, as it keeps its other settings
    saved_replay = saved_replay_in(run_dir) if resume_state is not None else None
    save_replay = args.save_replay or saved_replay is not None
    try:
        trainer = Trainer(spec, config, run_dir, save_replay=save_replay)
    except TrainingError as error:
        return report_usage_error(error)
    if resume_state is not None:
        try:
            notes = trainer.restore(resume_state, saved_replay)
        except CheckpointError as error:
            trainer.close()
            return report_usage_error(error)
        for note in notes:
            print(f"note: {note}", flush=True)
    print(
        f"{'resuming' if resume_state else 'training'} {spec.name} on {trainer.device} in run folder {run_dir}",
        flush=True,
    )
    print(trainer.replay_placement.reason, flush=True)
    if not args.quiet:
        print("config: " + ", ".join(f"{key}={value}" for key, value in config.to_dict().items()), flush=True)

    def request_stop() -> None:
        trainer.stop_requested = True
        print(
            "\nstopping: finishing this step and saving latest.pt (Ctrl-C again to exit at once, without saving)",
            file=sys.stderr,
            flush=True,
        )

    install_stop_handlers(request_stop)
    deadline = args.hours * 3600 if args.hours is not None else None
    logger = None
    try:
        atomic_write(
            run_dir / "config.json",
            lambda file: file.write(json.dumps({"game": spec.name, **config.to_dict()}, indent=2).encode()),
        )
        logger = RunLogger(
            run_dir,
            frames_per_step=spec.frame_skip,
            resumed_at_step=trainer.progress.agent_step if resume_state is not None else None,
        )
        reason = run_training(trainer, logger, total_steps=config.total_steps, deadline_seconds=deadline)
    except (TrainingError, CheckpointError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except OSError as error:  # a log file could not be written (a full disk, a lost mount)
        print(f"error: {write_failure_message(error, run_dir)}", file=sys.stderr)
        return 1
    finally:
        close_quietly(logger)
        trainer.close()
    step = trainer.progress.agent_step
    best = trainer.progress.best_eval_score
    best_text = (
        f"best evaluation score {best:.1f}"
        if best > float("-inf")
        else "no evaluation yet (best.pt holds the final weights)"
    )
    print(f"stopped ({reason}) at step {step:,}; {best_text}; checkpoints in {run_dir}", flush=True)
    if reason != "done":
        print(f"resume with: python train.py --resume {run_dir}", flush=True)  # (--save-replay is kept)
    print(f"watch it play: python play.py {run_dir}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
