"""play.py headless: MP4 and GIF read back, the window under SDL's dummy driver, the right
env chosen from a checkpoint alone, and one-line errors for bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

from agent.checkpoint import save_checkpoint
from agent.config import make_config, preset_for_game
from agent.learner import DQNLearner
from agent.network import build_q_network
from envs import make_env, resolve_game
from envs.games.base import DISPLAY_SCALE
from tests.commands import ROOT, run_script


def play(*args: str, timeout: float = 180) -> subprocess.CompletedProcess:
    return run_script("play.py", *args, timeout=timeout)


def untrained_checkpoint(path: Path, game: str, **config_changes) -> Path:
    """A real checkpoint of ``game`` (untrained weights), as train.py writes it."""
    spec = resolve_game(game)
    config = make_config(preset_for_game(spec.family, spec.name), **config_changes)
    env = make_env(game)
    shape = env.observation_space.shape
    learner = DQNLearner(build_q_network(config, shape, env.action_space.n), config, torch.device("cpu"))
    save_checkpoint(
        path,
        {
            "game": spec.name,
            "family": spec.family,
            "config": config.to_dict(),
            "num_actions": int(env.action_space.n),
            "observation_shape": list(shape),
            "learner": learner.state_dict(),
        },
    )
    return path


def steps_played(stdout: str) -> list[int]:
    return [int(line.split(" in ")[1].split()[0]) for line in stdout.splitlines() if line.startswith("episode ")]


def test_mp4_and_gif_read_back_with_the_right_frames(tmp_path):
    checkpoint = untrained_checkpoint(tmp_path / "catcher.pt", "Catcher")
    mp4, gif = tmp_path / "videos" / "catcher.mp4", tmp_path / "videos" / "catcher.gif"
    result = play(
        str(checkpoint),
        "--headless",
        "--episodes",
        "1",
        "--max-steps",
        "60",
        "--scale",
        "3",
        "--record",
        str(mp4),
        "--gif",
        str(gif),
        "--gif-every",
        "2",
        "--gif-scale",
        "2",
    )
    assert result.returncode == 0, result.stderr
    [steps] = steps_played(result.stdout)
    assert 10 < steps <= 60  # the step cap, or the untrained agent lost its lives first
    video = np.stack(list(iio.imiter(mp4, extension=".mp4")))
    side = 64 * DISPLAY_SCALE  # Catcher's 64x64 game, drawn for people at DISPLAY_SCALE
    assert video.shape == (steps + 1, side * 3, side * 3, 3)  # the first frame and one per step
    assert len({frame.tobytes() for frame in video}) > 10
    animation = iio.imread(gif, index=None)
    assert animation.shape[0] == (steps + 1 + 1) // 2 and animation.shape[1:3] == (side * 2, side * 2)
    assert len({frame.tobytes() for frame in animation}) > 5
    assert "mean" in result.stdout and "std" in result.stdout and "min" in result.stdout and "max" in result.stdout


def test_gif_is_capped_in_length(tmp_path):
    gif = tmp_path / "short.gif"
    result = play(
        "--game",
        "Catcher",
        "--random",
        "--headless",
        "--episodes",
        "3",
        "--gif",
        str(gif),
        "--gif-every",
        "1",
        "--gif-seconds",
        "1",
    )
    assert result.returncode == 0, result.stderr
    assert iio.imread(gif, index=None).shape[0] == 15  # 1 second at Catcher's 15 agent steps per second


@pytest.mark.parametrize("game", ["Breakout", "Catcher", "CartPole"])
def test_checkpoint_alone_picks_the_game(tmp_path, game):
    checkpoint = untrained_checkpoint(tmp_path / "run" / "best.pt", game)
    result = play(str(checkpoint.parent), "--headless", "--episodes", "1", "--max-steps", "40")
    assert result.returncode == 0, result.stderr
    assert f"1 games of {resolve_game(game).name}" in result.stdout


def test_window_mode_runs_under_the_dummy_driver(tmp_path):
    checkpoint = untrained_checkpoint(tmp_path / "pong.pt", "PLEPong")
    result = play(str(checkpoint), "--episodes", "1", "--max-steps", "30", "--fast")
    assert result.returncode == 0, result.stderr
    assert "playing headless" not in result.stderr


def test_interrupted_recording_leaves_a_playable_file(tmp_path):
    mp4 = tmp_path / "cut.mp4"
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [
            sys.executable,
            str(ROOT / "play.py"),
            "--game",
            "Pong",
            "--random",
            "--headless",
            "--episodes",
            "50",
            "--record",
            str(mp4),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    partial = tmp_path / "cut.partial.mp4"
    deadline = time.monotonic() + 60
    while not partial.exists() and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2)  # a couple of seconds of frames into the recording
    process.send_signal(signal.SIGINT)
    process.communicate(timeout=60)
    assert mp4.exists() and not partial.exists()
    frames = list(iio.imiter(mp4, extension=".mp4"))
    assert len(frames) > 10 and frames[0].shape == (210 * 3, 160 * 3, 3)


def test_bad_input_gets_one_line_and_exit_code_2(tmp_path):
    foreign = tmp_path / "foreign.pt"
    torch.save({"weights": torch.ones(2)}, foreign)
    checkpoint = untrained_checkpoint(tmp_path / "cartpole.pt", "CartPole")
    blocker = tmp_path / "file"
    blocker.write_text("x")
    cases = {
        "missing checkpoint": ([str(tmp_path / "none.pt"), "--headless"], "no checkpoint at"),
        "foreign checkpoint": ([str(foreign), "--headless"], "not an arcade-dqn checkpoint"),
        "unwritable output": ([str(checkpoint), "--headless", "--record", str(blocker / "x.mp4")], "cannot write"),
        "unknown video format": (
            [str(checkpoint), "--headless", "--record", str(tmp_path / "x.avi")],
            "unknown video format",
        ),
        "gif with mp4 name": (
            [str(checkpoint), "--headless", "--gif", str(tmp_path / "x.mp4")],
            "unknown video format",
        ),
        "unknown game": (["--game", "Brekout", "--random"], "Did you mean Breakout"),
        "wrong game": ([str(checkpoint), "--game", "Pong", "--headless"], "checkpoint of CartPole"),
        "nothing to play": (["--headless"], "give a checkpoint"),
        "gif every 0": ([str(checkpoint), "--headless", "--gif-every", "0"], "--gif-every must be at least 1"),
        "gif scale 0": ([str(checkpoint), "--headless", "--gif-scale", "0"], "--gif-scale must be at least 1"),
        "gif seconds 0": ([str(checkpoint), "--headless", "--gif-seconds", "0"], "--gif-seconds must be positive"),
        "max steps 0": ([str(checkpoint), "--headless", "--max-steps", "0"], "--max-steps must be at least 1"),
    }
    for label, (args, message) in cases.items():
        result = play(*args)
        assert result.returncode == 2, (label, result.stderr)
        assert result.stderr.startswith("error:") and result.stderr.count("\n") == 1, (label, result.stderr)
        assert message in result.stderr, (label, result.stderr)


def test_games_are_played_with_the_runs_evaluation_settings_unless_overridden(tmp_path):
    checkpoint = untrained_checkpoint(
        tmp_path / "breakout.pt", "Breakout", eval_epsilon=0.2, eval_max_episode_steps=37, sticky_actions=True
    )
    result = play(str(checkpoint), "--headless", "--episodes", "1")
    assert result.returncode == 0, result.stderr
    assert "epsilon 0.2, games cut at 37 steps, sticky actions on" in result.stdout
    assert steps_played(result.stdout) == [37]
    overridden = play(str(checkpoint), "--headless", "--episodes", "1", "--epsilon", "0", "--max-steps", "12")
    assert "epsilon 0, games cut at 12 steps, sticky actions on" in overridden.stdout
    assert steps_played(overridden.stdout) == [12]


def test_the_q_value_panel_keeps_every_label_inside_the_window():
    """Pong's 6 actions with wide values: the longest bar's label used to run off the edge."""
    from viewer.window import BACKGROUND, GameWindow

    names = ["NOOP", "FIRE", "RIGHT", "LEFT", "RIGHTFIRE", "LEFTFIRE"]
    window = GameWindow("hud", (210, 160, 3), 3, names, None)
    q_values = np.array([-123.45, 0.5, 2.25, 987.65, -5.0, 99.99], dtype=np.float32)
    assert window.show(np.zeros((210, 160, 3), np.uint8), episode=1, score=-21, q_values=q_values, action=3)
    import pygame

    pixels = pygame.surfarray.array3d(window.surface)  # (width, height, 3)
    hud = pixels[480:]
    drawn_columns = np.flatnonzero((hud != np.array(BACKGROUND)).any(axis=(1, 2)))
    assert drawn_columns.max() < hud.shape[0] - 4  # a margin is left: nothing is cut at the right edge
    window.close()


def test_score_overlay_adds_a_band_above_the_game_and_leaves_the_game_whole(tmp_path):
    from viewer.overlay import band_height, with_score

    frame = np.full((256, 256, 3), 90, dtype=np.uint8)
    one, seven = with_score(frame, episode=1, score=1), with_score(frame, episode=1, score=7)
    band = band_height(256)
    assert one.shape == (256 + band, 256, 3) and 15 < band < 60 and band % 2 == 0  # a line of text high, even
    np.testing.assert_array_equal(one[band:], frame)  # the game below, every pixel of it (its own score too)
    assert (one[:band] == 0).all(axis=2).any() and (one[:band] > 200).all(axis=2).any()  # dark, with white text
    assert not np.array_equal(one, seven)  # the text says the score

    common = ["--game", "Catcher", "--random", "--headless", "--episodes", "1", "--max-steps", "40", "--gif-every", "1"]
    plain, overlaid = tmp_path / "plain.gif", tmp_path / "overlaid.gif"
    assert play(*common, "--gif", str(plain)).returncode == 0
    result = play(*common, "--gif", str(overlaid), "--score-overlay")
    assert result.returncode == 0, result.stderr
    plain_frames, overlaid_frames = iio.imread(plain, index=None), iio.imread(overlaid, index=None)
    added = overlaid_frames.shape[1] - plain_frames.shape[1]
    assert added > 0 and overlaid_frames.shape[0] == plain_frames.shape[0]
    difference = np.abs(plain_frames.astype(int) - overlaid_frames[:, added:].astype(int))
    assert difference.mean() < 2  # the same game, whole (GIF palettes aside)
    white = (overlaid_frames[:, :added] > 200).all(axis=-1).any(axis=(1, 2))
    assert white.all()  # the text on every frame
