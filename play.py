"""Watch a trained agent play, record it as MP4 and GIF, and print its scores.

    python play.py checkpoints/Pong/RUN            # best.pt of a run folder, in a window
    python play.py RUN/best.pt --headless --record videos/pong.mp4 --gif videos/pong.gif
    python play.py --game Breakout --random        # preview a game with a random policy

Bad input gets a one-line error and exit code 2.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np


class UsageError(Exception):
    """Bad command-line input: reported on one line, exit code 2."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Watch a DQN agent play; record MP4 and GIF demos.")
    parser.add_argument(
        "checkpoint", nargs="?", type=Path, help="a checkpoint .pt, or a run folder (its best.pt, else latest.pt)"
    )
    parser.add_argument("--game", help="with --random: the game to preview")
    parser.add_argument("--random", action="store_true", help="play a uniformly random policy (no checkpoint needed)")
    parser.add_argument("--episodes", type=int, default=3, help="games to play (default 3)")
    parser.add_argument(
        "--epsilon", type=float, default=0.05, help="chance of a random action (default 0.05, as in evaluation)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-steps", type=int, help="cut each game after this many agent steps")
    parser.add_argument("--device", default="auto")
    parser.add_argument("--headless", action="store_true", help="no window (implied when there is no display)")
    parser.add_argument("--scale", type=int, default=3, help="window and MP4 scale, nearest neighbour (default 3)")
    parser.add_argument(
        "--fps", type=float, help="window speed in agent steps per second (default: the game's natural speed)"
    )
    parser.add_argument("--fast", action="store_true", help="window as fast as possible")
    parser.add_argument("--record", type=Path, metavar="FILE.mp4", help="write an H.264 MP4 of the true-colour frames")
    parser.add_argument("--gif", type=Path, metavar="FILE.gif", help="write an animated GIF")
    parser.add_argument("--gif-every", type=int, default=2, help="keep every k-th frame in the GIF (default 2)")
    parser.add_argument("--gif-scale", type=int, default=1, help="GIF scale (default 1)")
    parser.add_argument("--gif-seconds", type=float, default=30.0, help="longest GIF, in seconds of play (default 30)")
    return parser.parse_args(argv)


def load_player(args: argparse.Namespace):
    """(game spec, network or None, device) from the checkpoint or --game --random."""
    from agent.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint_path
    from agent.network import network_from_checkpoint, resolve_device
    from envs import UnknownGameError, resolve_game

    if args.random:
        if args.game is None:
            raise UsageError("--random needs --game NAME (python -m envs --list shows them all)")
        try:
            return resolve_game(args.game), None, None
        except UnknownGameError as error:
            raise UsageError(str(error)) from None
    if args.checkpoint is None:
        raise UsageError("give a checkpoint or run folder to play, or --game NAME --random")
    try:
        device = resolve_device(args.device)
        state = load_checkpoint(resolve_checkpoint_path(args.checkpoint, ("best.pt", "latest.pt")), map_location=device)
        spec = resolve_game(state["game"])
    except (CheckpointError, ValueError) as error:
        raise UsageError(str(error)) from None
    if args.game is not None and resolve_game(args.game).name != spec.name:
        raise UsageError(
            f"{args.checkpoint} is a checkpoint of {spec.name}, not {resolve_game(args.game).name}; drop --game"
        )
    return spec, network_from_checkpoint(state, device), device


def check_args(args: argparse.Namespace) -> None:
    from viewer.recording import RecordingError, check_output_path

    if args.episodes < 1:
        raise UsageError("--episodes must be at least 1")
    if not 0.0 <= args.epsilon <= 1.0:
        raise UsageError("--epsilon must be between 0 and 1")
    if args.scale < 1:
        raise UsageError("--scale must be at least 1")
    try:
        if args.record is not None:
            check_output_path(args.record, ".mp4")
        if args.gif is not None:
            check_output_path(args.gif, ".gif")
    except RecordingError as error:
        raise UsageError(str(error)) from None


def play(args: argparse.Namespace, spec, network, device) -> list[float]:
    from envs import make_env
    from training.evaluation import episode_steps
    from training.stop import install_stop_handlers
    from viewer.recording import GifRecorder, Mp4Recorder
    from viewer.window import GameWindow, display_available

    env = make_env(spec.name, mode="eval", render_mode="rgb_array", max_episode_steps=args.max_steps)
    action_names = (
        list(env.unwrapped.get_action_meanings())
        if hasattr(env.unwrapped, "get_action_meanings")
        else [str(a) for a in range(env.action_space.n)]
    )
    rng = np.random.default_rng(args.seed)
    natural_speed = spec.agent_steps_per_second
    obs, _ = env.reset(seed=args.seed)
    first_frame = env.render()
    scale = max(1, min(args.scale, 1000 // max(first_frame.shape[:2])))  # keep big screens (CartPole) on screen

    window = None
    if not args.headless and display_available():
        window = GameWindow(
            f"arcade-dqn: {spec.name}",
            first_frame.shape,
            scale,
            action_names,
            None if args.fast else (args.fps or natural_speed),
        )
    elif not args.headless:
        print("no display found: playing headless", file=sys.stderr)
    recorders = []
    if args.record is not None:
        recorders.append(Mp4Recorder(args.record, natural_speed, scale=scale))
    if args.gif is not None:
        recorders.append(
            GifRecorder(
                args.gif, natural_speed, frame_step=args.gif_every, scale=args.gif_scale, max_seconds=args.gif_seconds
            )
        )

    scores: list[float] = []
    stopped = False
    stop = {"requested": False}

    def request_stop() -> None:
        # finish the step so the recordings close properly (an exception in the middle of a
        # frame write would leave a broken MP4); a second Ctrl-C leaves only the .partial file
        stop["requested"] = True
        print("\ninterrupted: finishing the recordings (Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    install_stop_handlers(request_stop)
    try:
        for episode in range(1, args.episodes + 1):
            if stop["requested"]:
                break
            if episode > 1:
                obs, _ = env.reset(seed=args.seed + episode - 1)
            frame, score = env.render(), 0.0
            for step in episode_steps(env, obs, network, epsilon=args.epsilon, rng=rng, device=device):
                for recorder in recorders:
                    recorder.add(frame)
                if window is not None and not window.show(
                    frame, episode=episode, score=score, q_values=step.q_values, action=step.action
                ):
                    stopped = True
                    break
                score += step.reward
                frame = env.render()
                if step.done:
                    for recorder in recorders:
                        recorder.add(frame)
                    scores.append(float(step.info["episode_score"]))
                    print(f"episode {episode}: score {scores[-1]:g} in {step.info['episode_length']} steps", flush=True)
                if stop["requested"]:
                    break
            if stopped:
                print("window closed: stopping", flush=True)
                break
    finally:
        for recorder in recorders:
            written = recorder.close()
            if written is not None:
                print(f"wrote {written}", flush=True)
        if window is not None:
            window.close()
        env.close()
    return scores


def main(argv: list[str] | None = None) -> int:
    import os

    args = parse_args(argv)
    if args.headless:
        os.environ["SDL_VIDEODRIVER"] = "dummy"
    try:
        check_args(args)
        spec, network, device = load_player(args)
    except UsageError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    scores = play(args, spec, network, device)
    if scores:
        print(
            f"{len(scores)} games of {spec.name}: mean {np.mean(scores):.2f}, std {np.std(scores):.2f}, min {np.min(scores):g}, max {np.max(scores):g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
