"""Watch a trained agent play, record it as MP4 and GIF, and print its scores.

    python play.py checkpoints/Pong/RUN            # best.pt of a run folder, in a window
    python play.py RUN/best.pt --headless --record videos/pong.mp4 --gif videos/pong.gif
    python play.py --game Breakout --random        # preview a game with a random policy

Games are played as the run's evaluations were (its eval_epsilon, eval_max_episode_steps and
sticky actions) unless --epsilon or --max-steps say otherwise. Bad input gets a one-line error
and exit code 2, before anything is played.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

import numpy as np

from training.cli import CommandLineParser, UsageError, report_usage_error, require

LARGEST_WINDOW_PIXELS = 800
"""``--scale`` is lowered where the window or MP4 would be taller or wider than this."""


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = CommandLineParser(description="Watch a DQN agent play; record MP4 and GIF demos.")
    parser.add_argument(
        "checkpoint", nargs="?", type=Path, help="a checkpoint .pt, or a run folder (its best.pt, else latest.pt)"
    )
    parser.add_argument("--game", help="with --random: the game to preview")
    parser.add_argument("--random", action="store_true", help="play a uniformly random policy (no checkpoint needed)")
    parser.add_argument("--episodes", type=int, default=3, help="games to play (default 3)")
    parser.add_argument(
        "--epsilon", type=float, help="chance of a random action (default: the run's eval_epsilon, 0.05 in the paper)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--max-steps", type=int, help="cut each game after this many agent steps (default: the run's evaluation cap)"
    )
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
    parser.add_argument(
        "--score-overlay", action="store_true", help="write the game number and score onto the MP4 and GIF frames"
    )
    return parser.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    """Every option's value, before anything is loaded or played."""
    from viewer.recording import RecordingError, check_output_path

    require(args.episodes >= 1, "--episodes must be at least 1")
    require(args.epsilon is None or 0.0 <= args.epsilon <= 1.0, "--epsilon must be between 0 and 1")
    require(args.max_steps is None or args.max_steps >= 1, "--max-steps must be at least 1")
    require(args.scale >= 1, "--scale must be at least 1")
    require(args.fps is None or args.fps > 0, "--fps must be positive")
    require(args.gif_every >= 1, "--gif-every must be at least 1 (1 keeps every frame)")
    require(args.gif_scale >= 1, "--gif-scale must be at least 1")
    require(args.gif_seconds > 0, "--gif-seconds must be positive")
    try:
        if args.record is not None:
            check_output_path(args.record, ".mp4")
        if args.gif is not None:
            check_output_path(args.gif, ".gif")
    except RecordingError as error:
        raise UsageError(str(error)) from None


def load_player(args: argparse.Namespace):
    """(game spec, network or None, device, play settings) from the checkpoint, or from
    ``--game --random`` with the game's preset."""
    from agent.checkpoint import CheckpointError, load_checkpoint, resolve_checkpoint_path
    from agent.config import DQNConfig, make_config, preset_for_game
    from agent.network import network_from_checkpoint, resolve_device
    from envs import UnknownGameError, resolve_game
    from training.evaluation import PlaySettings

    if args.random:
        require(args.game is not None, "--random needs --game NAME (python -m envs --list shows them all)")
        try:
            spec = resolve_game(args.game)
        except UnknownGameError as error:
            raise UsageError(str(error)) from None
        network, device, config = None, None, make_config(preset_for_game(spec.family, spec.name))
    else:
        require(args.checkpoint is not None, "give a checkpoint or run folder to play, or --game NAME --random")
        try:
            device = resolve_device(args.device)
            state = load_checkpoint(resolve_checkpoint_path(args.checkpoint, ("best.pt", "latest.pt")), device)
            spec = resolve_game(state["game"])
            config = DQNConfig.from_dict(state["config"])
        except (CheckpointError, ValueError) as error:
            raise UsageError(str(error)) from None
        if args.game is not None and resolve_game(args.game).name != spec.name:
            raise UsageError(
                f"{args.checkpoint} is a checkpoint of {spec.name}, not {resolve_game(args.game).name}; drop --game"
            )
        network = network_from_checkpoint(state, device)
    overrides = {"epsilon": args.epsilon, "max_episode_steps": args.max_steps}
    settings = dataclasses.replace(
        PlaySettings.from_config(config), **{name: value for name, value in overrides.items() if value is not None}
    )
    return spec, network, device, settings


def play(args: argparse.Namespace, spec, network, device, settings) -> list[float]:
    from envs import action_names
    from training.evaluation import play_games
    from training.stop import install_stop_handlers
    from viewer.overlay import with_score
    from viewer.recording import GifRecorder, Mp4Recorder
    from viewer.window import GameWindow, display_available

    natural_speed = spec.agent_steps_per_second
    show_window = not args.headless and display_available()
    if not args.headless and not show_window:
        print("no display found: playing headless", file=sys.stderr)
    window, recorders, scale = None, [], None
    scores: list[float] = []
    stop = {"requested": False}

    def request_stop() -> None:
        # finish the step so the recordings close properly (an exception in the middle of a
        # frame write would leave a broken MP4); a second Ctrl-C leaves only the .partial file
        stop["requested"] = True
        print("\ninterrupted: finishing the recordings (Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    def recorded(frame: np.ndarray, episode: int, score: float) -> np.ndarray:
        return with_score(frame, episode=episode, score=score) if args.score_overlay else frame

    install_stop_handlers(request_stop)
    games = play_games(spec.name, network, settings, episodes=args.episodes, seed=args.seed, device=device, render=True)
    try:
        for step in games:
            if scale is None:  # the first screen sets the sizes; big screens (FlappyBird, CartPole) stay on screen
                scale = max(1, min(args.scale, LARGEST_WINDOW_PIXELS // max(step.frame.shape[:2])))
                if show_window:
                    speed = None if args.fast else (args.fps or natural_speed)
                    names = action_names(spec.name)
                    window = GameWindow(f"arcade-dqn: {spec.name}", step.frame.shape, scale, names, speed)
                if args.record is not None:
                    recorders.append(Mp4Recorder(args.record, natural_speed, scale=scale))
                if args.gif is not None:
                    recorders.append(
                        GifRecorder(
                            args.gif,
                            natural_speed,
                            frame_step=args.gif_every,
                            scale=args.gif_scale,
                            max_seconds=args.gif_seconds,
                        )
                    )
            shown = step.score - step.reward  # the score on the screen the action was chosen on
            for recorder in recorders:
                recorder.add(recorded(step.frame, step.episode, shown))
            if window is not None and not window.show(
                step.frame, episode=step.episode, score=shown, q_values=step.q_values, action=step.action
            ):
                print("window closed: stopping", flush=True)
                break
            if step.done:
                for recorder in recorders:
                    recorder.add(recorded(step.next_frame, step.episode, step.score))
                scores.append(float(step.info["episode_score"]))
                length = step.info["episode_length"]
                print(f"episode {step.episode}: score {scores[-1]:g} in {length} steps", flush=True)
            if stop["requested"]:
                break
    finally:
        games.close()
        for recorder in recorders:
            written = recorder.close()
            if written is not None:
                print(f"wrote {written}", flush=True)
        if window is not None:
            window.close()
    return scores


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.headless:
        from envs.headless import prefer_headless_video

        prefer_headless_video(force=True)
    try:
        check_args(args)
        spec, network, device, settings = load_player(args)
    except UsageError as error:
        return report_usage_error(error)
    cap = f"games cut at {settings.max_episode_steps:,} steps" if settings.max_episode_steps else "no step cap"
    sticky = "on" if settings.sticky_actions else "off"
    print(f"playing {spec.name}: epsilon {settings.epsilon:g}, {cap}, sticky actions {sticky}", flush=True)
    scores = play(args, spec, network, device, settings)
    if scores:
        print(
            f"{len(scores)} games of {spec.name}: mean {np.mean(scores):.2f}, std {np.std(scores):.2f}, "
            f"min {np.min(scores):g}, max {np.max(scores):g}"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
