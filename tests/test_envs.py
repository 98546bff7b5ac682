"""The pipeline is right, not just running: frames against gymnasium's reference, episode
boundaries, life loss, clipping, seeding, and the vector env's contract."""

from __future__ import annotations

import os
import subprocess
import sys
import threading

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.wrappers import AtariPreprocessing, FrameStackObservation

from envs import (
    GameStateError,
    UnknownGameError,
    from_checkpoint,
    list_games,
    make_env,
    make_game,
    make_vec_env,
    resolve_game,
    to_checkpoint,
)
from envs.games import PYGAME_GAMES
from envs.snapshot import game_state, set_game_state
from envs.vector import SerialVectorEnv
from envs.worker_priority import threads_started_by


def reference_atari_env(game: str) -> gym.Env:
    env = gym.make(f"ALE/{game}-v5", frameskip=1, repeat_action_probability=0.0, full_action_space=False)
    env = AtariPreprocessing(
        env, noop_max=30, frame_skip=4, screen_size=84, terminal_on_life_loss=False, grayscale_obs=True
    )
    return FrameStackObservation(env, stack_size=4, padding_type="zero")


@pytest.mark.parametrize("game", ["Pong", "Breakout", "SpaceInvaders"])
def test_single_env_frames_match_gymnasium_reference(game):
    # FIRE reset is our addition (the reference has none), so it is off for the comparison.
    ours = make_env(game, mode="eval", fire_reset=False)
    reference = reference_atari_env(game)
    our_obs, _ = ours.reset(seed=7)
    reference_obs, _ = reference.reset(seed=7)
    np.testing.assert_array_equal(our_obs, reference_obs)
    actions = np.random.default_rng(0).integers(0, ours.action_space.n, size=300)
    for step, action in enumerate(actions):
        our_obs, our_reward, our_terminated, _, _ = ours.step(action)
        reference_obs, reference_reward, reference_terminated, _, _ = reference.step(action)
        assert our_reward == reference_reward, step
        assert our_terminated == reference_terminated, step
        if our_terminated:
            break  # the reference returns a stale pooled frame on the terminal step: a known quirk
        np.testing.assert_array_equal(our_obs, reference_obs, err_msg=f"step {step}")


def test_observation_contract_for_every_family():
    for game in ["Pong", "Catcher", "CartPolePixels"]:
        env = make_env(game)
        obs, _ = env.reset(seed=0)
        assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8
        assert env.observation_space.contains(obs)
    obs, _ = make_env("CartPole").reset(seed=0)
    assert obs.shape == (4,) and obs.dtype == np.float32


def test_new_episode_stack_is_zero_padded_and_never_holds_the_old_game():
    env = make_env("Catcher", mode="eval")
    obs, _ = env.reset(seed=1)
    assert not obs[:3].any() and obs[3].any()
    while True:
        obs, _, terminated, truncated, _ = env.step(2)
        if terminated or truncated:
            break
    assert obs[:3].any()  # mid-game stacks hold four real frames
    obs, _ = env.reset()
    assert not obs[:3].any() and obs[3].any()


def play_until_life_lost(env: gym.Env, seed: int) -> tuple[list[tuple[bool, int]], dict]:
    env.reset(seed=seed)
    rng = np.random.default_rng(seed)
    events = []
    for _ in range(2_000):
        _, _, terminated, truncated, info = env.step(int(rng.integers(env.action_space.n)))
        events.append((terminated, int(env.unwrapped.ale.lives())))
        if terminated or truncated:
            return events, info
    raise AssertionError("no episode end in 2,000 steps")


def test_life_loss_is_terminal_in_train_mode_only():
    train_events, train_info = play_until_life_lost(make_env("Breakout", mode="train"), seed=3)
    eval_events, eval_info = play_until_life_lost(make_env("Breakout", mode="eval"), seed=3)
    assert train_events[-1] == (True, 4)  # the first life lost ends the training episode
    assert train_info["game_over"] is False
    assert eval_events[-1][1] == 0  # eval episodes end only when the game is over
    assert len(eval_events) > len(train_events)
    assert "episode_score" in eval_info and "episode_score" not in train_info


def test_train_env_continues_the_same_game_after_a_life_loss():
    env = make_env("Breakout", mode="train")
    play_until_life_lost(env, seed=3)
    env.reset()
    assert env.unwrapped.ale.lives() == 4  # reset after a life loss does not restart the game


def test_rewards_clipped_in_train_mode_only_and_scores_stay_real():
    # Space Invaders pays 5 to 30 points per alien: same seed and actions in both modes.
    actions = np.random.default_rng(0).integers(0, 6, size=400)
    rewards = {}
    for mode in ("train", "eval"):
        env = make_env("SpaceInvaders", mode=mode)
        env.reset(seed=5)
        rewards[mode] = []
        for action in actions:
            _, reward, terminated, truncated, _ = env.step(action)
            rewards[mode].append(reward)
            if terminated or truncated:
                break
    steps = min(len(rewards["train"]), len(rewards["eval"]))
    real = np.array(rewards["eval"][:steps])
    assert real.max() > 1
    np.testing.assert_array_equal(np.array(rewards["train"][:steps]), np.sign(real))


def test_episode_statistics_report_the_real_unclipped_score():
    env = make_env("SpaceInvaders", mode="train")
    env.reset(seed=2)
    rng = np.random.default_rng(2)
    clipped_total, info = 0.0, {}
    while "episode_score" not in info:
        _, reward, terminated, truncated, info = env.step(int(rng.integers(6)))
        clipped_total += reward
        if (terminated or truncated) and "episode_score" not in info:
            env.reset()
    assert info["episode_score"] > clipped_total  # real points, summed over all lives


@pytest.mark.parametrize("game", ["Pong", "FlappyBird"])
def test_reset_with_a_seed_is_reproducible(game):
    def rollout() -> np.ndarray:
        env = make_env(game, seed=11)
        obs, _ = env.reset(seed=11)
        frames = [obs]
        for action in np.random.default_rng(0).integers(0, env.action_space.n, size=60):
            obs, _, terminated, truncated, _ = env.step(action)
            frames.append(obs)
            if terminated or truncated:
                break
        return np.stack(frames)

    np.testing.assert_array_equal(rollout(), rollout())


@pytest.mark.parametrize("game", ["Breakout", "Catcher"])
def test_vector_env_transitions_never_span_two_episodes(game):
    env = make_vec_env(game, 3, mode="train", max_episode_steps=120)
    obs, info = env.reset(seed=0)
    assert obs.shape == (3, 4, 84, 84) and obs.dtype == np.uint8 and info["first"].all()
    rng = np.random.default_rng(0)
    transitions = reset_steps = games_over = 0
    for _ in range(400):
        next_obs, reward, terminated, truncated, info = env.step(rng.integers(0, env.single_action_space.n, size=3))
        for i in range(3):
            if info["first"][i]:
                reset_steps += 1
                assert not next_obs[i, :3].any(), "a new game starts from a zero-padded stack"
                assert reward[i] == 0 and not terminated[i] and not truncated[i]
                continue
            transitions += 1
            # consecutive stacks of one game overlap in three frames
            np.testing.assert_array_equal(next_obs[i, :3], obs[i, 1:])
        games_over += int(info["episode_done"].sum())
        obs = next_obs
    env.close()
    assert games_over > 0 and reset_steps == games_over - int(info["episode_done"].sum())
    assert transitions > 1000


@pytest.mark.parametrize("game", ["Pong", "Catcher"])
def test_vector_and_single_env_agree_on_spaces_and_truncation(game):
    single = make_env(game, mode="eval", max_episode_steps=30)
    vector = make_vec_env(game, 2, mode="eval", max_episode_steps=30)
    assert vector.single_observation_space == single.observation_space
    assert vector.single_action_space == single.action_space
    single.reset(seed=0)
    vector.reset(seed=0)
    for step in range(1, 31):
        _, _, single_terminated, single_truncated, single_info = single.step(2)
        _, _, vector_terminated, vector_truncated, vector_info = vector.step(np.full(2, 2))
        if step < 30:
            assert not single_truncated and not vector_truncated.any()
    assert single_truncated and not single_terminated and single_info["episode_length"] == 30
    assert vector_truncated.all() and not vector_terminated.any()
    np.testing.assert_array_equal(vector_info["episode_length"], [30, 30])
    vector.close()


def test_vector_env_life_loss_terminal_in_train_mode_only():
    for mode, expect_terminal_with_lives_left in (("train", True), ("eval", False)):
        env = make_vec_env("Breakout", 2, mode=mode)
        env.reset(seed=0)
        rng = np.random.default_rng(0)
        terminal_with_lives = False
        for _ in range(300):
            _, _, terminated, _, info = env.step(rng.integers(0, 4, size=2))
            terminal_with_lives |= bool((terminated & (info["lives"] > 0)).any())
        assert terminal_with_lives == expect_terminal_with_lives_left, mode


def test_every_game_resolves_by_short_name_and_full_id():
    assert len(list_games()) > 100
    assert resolve_game("Pong").name == "Pong"
    assert resolve_game("ALE/Pong-v5").name == "Pong"
    assert resolve_game("breakout").name == "Breakout"
    assert resolve_game("space_invaders").name == "SpaceInvaders"
    assert resolve_game("flappy_bird").name == "FlappyBird"
    assert resolve_game("CartPole").family == "state"


def test_every_atari_game_builds():
    for name in list_games():
        if resolve_game(name).family == "atari":
            gym.spec(resolve_game(name).gym_id)  # raises if ale-py does not register it


def test_unknown_game_lists_close_matches():
    with pytest.raises(UnknownGameError, match="Did you mean Pong"):
        make_env("Pnog")
    with pytest.raises(UnknownGameError, match="python -m envs --list"):
        make_env("Zzzzzzzz")


def test_command_line_lists_games_and_rejects_unknown_ones():
    listed = subprocess.run([sys.executable, "-m", "envs", "--list"], capture_output=True, text=True, check=True)
    names = [line.split("\t")[0] for line in listed.stdout.splitlines()]
    assert {"Pong", "Breakout", "FlappyBird", "Catcher", "Snake", "CartPole"} <= set(names)
    unknown = subprocess.run(
        [sys.executable, "-m", "envs", "--check", "Pnog"], check=False, capture_output=True, text=True
    )
    assert unknown.returncode == 2
    assert unknown.stderr.count("\n") == 1 and "Pong" in unknown.stderr


@pytest.mark.parametrize("game", ["Breakout", "Catcher"])
def test_a_saved_game_state_continues_exactly_in_a_new_env(game):
    """What exact resume relies on: a 1-env vector env (Atari: our pipeline with sticky actions,
    whose RNG lives in the emulator) restored into a fresh env plays on step for step."""
    actions = np.random.default_rng(1).integers(0, 3, size=(260, 1))

    def new_env():
        return make_vec_env(game, 1, mode="train", sticky_actions=True, max_episode_steps=150)

    original = new_env()
    original.reset(seed=0)
    for action in actions[:60]:
        original.step(action)
    saved = to_checkpoint(original.get_state())  # as a checkpoint holds it
    assert saved is not None

    def play_on(env):
        return [env.step(action) for action in actions[60:]]

    expected = play_on(original)
    restored = new_env()
    restored.reset(seed=99)
    restored.set_state(from_checkpoint(saved))
    got = play_on(restored)
    for want, have in zip(expected, got):
        np.testing.assert_array_equal(have[0], want[0])  # observations
        for field in range(1, 4):  # reward, terminated, truncated
            np.testing.assert_array_equal(have[field], want[field])
        np.testing.assert_array_equal(have[4]["first"], want[4]["first"])
    assert any(step[4]["episode_done"].any() for step in expected), "the replay should cross a game's end"
    original.close()
    restored.close()


def test_native_atari_vector_env_is_used_from_two_envs():
    from ale_py.vector_env import AtariVectorEnv

    assert isinstance(make_vec_env("Pong", 2).env, AtariVectorEnv)
    assert isinstance(make_vec_env("Pong", 1).env, SerialVectorEnv)
    assert isinstance(make_vec_env("Pong", 1, native_atari=True).env, AtariVectorEnv)


@pytest.mark.parametrize("game", ["Breakout", "SpaceInvaders", "Catcher"])
def test_single_and_vector_train_envs_give_the_same_transitions(game):
    """One home for life loss, clipping and scores: the single train-mode env and the vector
    env (our pipeline) agree step for step, across lost lives and whole games."""
    spec = resolve_game(game)
    single = make_env(game, mode="train", seed=7, max_episode_steps=400)
    vector = make_vec_env(game, 1, mode="train", native_atari=False, max_episode_steps=400)
    vector_obs, _ = vector.reset(seed=7)
    single_obs, _ = single.reset(seed=7)
    np.testing.assert_array_equal(vector_obs[0], single_obs)
    actions = np.random.default_rng(3).integers(0, single.action_space.n, size=1500)
    life_losses = games_over = 0
    for action in actions:
        single_obs, single_reward, single_terminated, single_truncated, info = single.step(action)
        vector_obs, vector_reward, vector_terminated, vector_truncated, vector_info = vector.step(np.array([action]))
        np.testing.assert_array_equal(vector_obs[0], single_obs)
        assert (vector_reward[0], vector_terminated[0], vector_truncated[0]) == (
            single_reward,
            single_terminated,
            single_truncated,
        )
        assert vector_info["episode_done"][0] == ("episode_score" in info)
        if "episode_score" in info:
            assert vector_info["episode_score"][0] == info["episode_score"]
            assert vector_info["episode_length"][0] == info["episode_length"]
        if single_terminated or single_truncated:
            game_over = bool(vector_info["episode_done"][0])
            single_obs, _ = single.reset()
            if game_over:  # the vector env starts the next game on its next step
                vector_obs, *_, first_info = vector.step(np.array([0]))
                assert first_info["first"][0]
                games_over += 1
            else:
                life_losses += 1
            np.testing.assert_array_equal(vector_obs[0], single_obs)
    if spec.family == "atari":
        assert life_losses > 0, "the actions should lose lives"
    assert games_over > 0, "the actions should end whole games"


FAMILY_EXAMPLES = ["Pong", "CartPole", "Catcher", "CartPolePixels"]


@pytest.mark.parametrize("game", FAMILY_EXAMPLES)
@pytest.mark.parametrize("mode", ["train", "eval"])
def test_gymnasium_env_checker_passes_on_every_family(game, mode):
    from gymnasium.utils.env_checker import check_env

    env = make_env(game, mode=mode)
    check_env(env, skip_render_check=True)
    assert env.spec is None or env.spec.additional_wrappers  # every wrapper recorded its arguments


@pytest.mark.parametrize("game", ["Breakout", "CartPole", "CartPolePixels", *PYGAME_GAMES])
def test_every_shipped_game_round_trips_its_state(game):
    spec = resolve_game(game)
    actions = np.random.default_rng(2).integers(0, 2, size=120)
    original = make_game(spec, sticky_actions=True)
    original.reset(seed=4)
    for action in actions[:40]:
        *_, terminated, truncated, _ = original.step(action)
        if terminated or truncated:
            original.reset()
    saved = from_checkpoint(to_checkpoint(game_state(original)))
    copy = make_game(spec, sticky_actions=True)
    copy.reset(seed=123)
    set_game_state(copy, saved)
    for action in actions[40:]:
        want, have = original.step(action), copy.step(action)
        np.testing.assert_array_equal(have[0], want[0])
        assert have[1:4] == want[1:4]
        if want[2] or want[3]:
            np.testing.assert_array_equal(copy.reset()[0], original.reset()[0])


def test_a_game_whose_state_is_not_plain_says_so_instead_of_losing_it():
    from dataclasses import dataclass

    @dataclass
    class Ball:
        x: float

    catcher = PYGAME_GAMES["Catcher"]()
    catcher.reset(seed=0)
    catcher.ball = Ball(3.0)
    with pytest.raises(GameStateError, match=r"Catcher\.ball holds a Ball"):
        game_state(catcher)


@pytest.mark.parametrize(("game", "num_envs"), [("Breakout", 3), ("Catcher", 2), ("Catcher", 1)])
def test_send_then_recv_gives_what_step_gives(game, num_envs):
    """ale-py's native vector env and the subprocess envs step between send and recv; the
    serial env steps in recv: all three give exactly what step gives."""
    stepped = make_vec_env(game, num_envs, mode="train", max_episode_steps=50)
    split = make_vec_env(game, num_envs, mode="train", max_episode_steps=50)
    assert split.steps_in_background == (game == "Breakout" or num_envs > 1)
    stepped.reset(seed=4)
    split.reset(seed=4)
    actions = np.random.default_rng(0).integers(0, stepped.single_action_space.n, size=(150, num_envs))
    for action in actions:
        expected = stepped.step(action)
        split.send(action)
        got = split.recv()
        for want, have in zip(expected[:4], got[:4]):
            np.testing.assert_array_equal(want, have)
        for key in ("first", "episode_done", "episode_score"):
            np.testing.assert_array_equal(expected[4][key], got[4][key])
    split.send(actions[0])
    with pytest.raises(RuntimeError, match="twice"):
        split.send(actions[0])
    split.reset(seed=0)  # a step in flight ends first
    with pytest.raises(RuntimeError, match="without send"):
        split.recv()
    stepped.close()
    split.send(actions[1])
    split.close()  # with a step in flight (an error between send and recv): collected, then closed


@pytest.mark.parametrize(("game", "num_envs"), [("Breakout", 3), ("Catcher", 2)])
def test_the_next_step_may_be_sent_before_the_rules_of_the_last_one_run(game, num_envs):
    """recv in two halves with the next step sent between them (the trainer's overlapped
    loop): the observations first, then the episode rules; the same as step, games ending."""
    stepped = make_vec_env(game, num_envs, mode="train", max_episode_steps=50)
    split = make_vec_env(game, num_envs, mode="train", max_episode_steps=50)
    stepped.reset(seed=4)
    split.reset(seed=4)
    actions = np.random.default_rng(0).integers(0, stepped.single_action_space.n, size=(150, num_envs))
    split.send(actions[0])
    games_ended = 0
    for number, action in enumerate(actions):
        expected = stepped.step(action)
        observations, first = split.receive_observations()
        np.testing.assert_array_equal(observations, expected[0])
        np.testing.assert_array_equal(first, expected[4]["first"])
        if number + 1 < len(actions):
            split.send(actions[number + 1])  # the games step on while the rules of this one run
        got = split.finish_step()
        for want, have in zip(expected[:4], got[:4]):
            np.testing.assert_array_equal(want, have)
        for key in ("first", "episode_done", "episode_score", "episode_length"):
            np.testing.assert_array_equal(expected[4][key], got[4][key])
        games_ended += int(got[4]["episode_done"].sum())
    assert games_ended >= 2 * num_envs  # new games began on the way (150 steps, at most 50 a game)
    with pytest.raises(RuntimeError, match="without receive_observations"):
        split.finish_step()
    split.send(actions[0])
    split.receive_observations()
    split.send(actions[1])
    with pytest.raises(RuntimeError, match="finish_step"):
        split.receive_observations()
    stepped.close()
    split.close()  # a step received, unfinished, and one in flight: collected, then closed


@pytest.mark.parametrize("game", ["Pong", "Catcher"])
def test_the_games_workers_wake_without_preempting_the_training_thread(game):
    """ale-py's worker threads (Pong) and the subprocesses of the pixel games (Catcher) run as
    SCHED_BATCH; the training thread keeps the normal policy."""
    env, threads = threads_started_by(lambda: make_vec_env(game, 2, mode="train"))
    try:
        workers = threads if game == "Pong" else [process.pid for process in env.env.processes]
        assert workers
        assert {os.sched_getscheduler(worker) for worker in workers} == {os.SCHED_BATCH}
        assert os.sched_getscheduler(threading.get_native_id()) == os.SCHED_OTHER
        env.reset(seed=0)
        env.step(np.zeros(2, dtype=np.int64))  # and the games still step
    finally:
        env.close()
