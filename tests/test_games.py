"""Our pygame games: gymnasium's env checker, real rendering, and rewards that mean
something (a simple scripted policy scores far above a random one over the same seeds)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from envs import make_env
from envs.catalog import PIXEL_GAME_CLASSES
from envs.games import (
    PYGAME_GAMES,
    Catcher,
    FlappyBird,
    Pixelcopter,
    PLEPong,
    Snake,
    catcher,
    flappy_bird,
    pixelcopter,
    pong,
    snake,
)
from envs.games.base import DISPLAY_SCALE


@pytest.mark.parametrize("name", list(PIXEL_GAME_CLASSES))
def test_game_passes_gymnasium_env_checker(name):
    check_env(PIXEL_GAME_CLASSES[name](), skip_render_check=False)


@pytest.mark.parametrize("name", list(PYGAME_GAMES))
def test_frames_are_not_blank_and_change(name):
    game = PYGAME_GAMES[name](render_mode="rgb_array")
    first, _ = game.reset(seed=0)
    assert first.shape == (game.height, game.width, 3) and first.dtype == np.uint8
    assert len(np.unique(first.reshape(-1, 3), axis=0)) >= 2  # not blank: the background and the player
    frames = [first]
    for step in range(30):
        frame, _, terminated, _, _ = game.step(step % game.action_space.n)
        frames.append(frame)
        if terminated:
            break
    assert any(not np.array_equal(frames[0], frame) for frame in frames[1:])


@pytest.mark.parametrize("name", list(PIXEL_GAME_CLASSES))
def test_pipeline_gives_stacked_84x84_frames(name):
    env = make_env(name)
    obs, _ = env.reset(seed=0)
    for _ in range(5):
        obs, *_ = env.step(0)
    assert obs.shape == (4, 84, 84) and obs.dtype == np.uint8 and obs[-1].std() > 0


@pytest.mark.parametrize("name", list(PYGAME_GAMES))
def test_same_seed_same_episode(name):
    def frames(seed: int) -> np.ndarray:
        game = PYGAME_GAMES[name]()
        obs, _ = game.reset(seed=seed)
        out = [obs]
        for action in np.random.default_rng(1).integers(0, game.action_space.n, size=50):
            obs, _, terminated, _, _ = game.step(action)
            out.append(obs)
            if terminated:
                break
        return np.stack(out)

    np.testing.assert_array_equal(frames(3), frames(3))
    assert not np.array_equal(frames(3)[:20], frames(4)[:20])


def test_human_window_opens_under_the_dummy_driver():
    game = Catcher(render_mode="human")
    game.reset(seed=0)
    game.step(0)
    import pygame

    assert pygame.display.get_surface() is not None
    game.close()


# -- scripted players that read the game's state ---------------------------------------
def catcher_policy(game: Catcher) -> int:
    centre = game.paddle_x + catcher.PADDLE_WIDTH / 2
    target = game.fruit_x + catcher.FRUIT_SIZE / 2
    return 2 if abs(centre - target) < 2 else (0 if target < centre else 1)


def flappy_policy(game: FlappyBird) -> int:
    pipe = game.next_pipe()
    gap_bottom = pipe[1] + flappy_bird.PIPE_GAP
    return 0 if game.bird_y + flappy_bird.BIRD_SIZE + 6 > gap_bottom and game.bird_velocity >= 0 else 1


def copter_policy(game: Pixelcopter) -> int:
    block = game.next_block()
    middle = game.height / 2
    if block[0] < 40:  # pass the block on the side with more room
        above = block[1] - pixelcopter.CAVE_MARGIN
        below = game.height - pixelcopter.CAVE_MARGIN - (block[1] + pixelcopter.BLOCK_HEIGHT)
        middle = (
            (pixelcopter.CAVE_MARGIN + block[1]) / 2
            if above > below
            else (block[1] + pixelcopter.BLOCK_HEIGHT + game.height - pixelcopter.CAVE_MARGIN) / 2
        )
    predicted = game.copter_y + pixelcopter.COPTER_SIZE / 2 + 3 * game.copter_velocity
    return 0 if predicted > middle else 1


def pong_policy(game: PLEPong) -> int:
    """Hits the ball with the paddle's edge, away from the CPU paddle: a steep return the
    slower CPU paddle cannot follow (a centred hit only rallies forever)."""
    centre = game.agent_y + pong.PADDLE_HEIGHT / 2
    away_from_cpu = 6 if game.cpu_y + pong.PADDLE_HEIGHT / 2 < game.height / 2 else -6
    target = game.ball_y + pong.BALL_SIZE / 2 + away_from_cpu
    return 2 if abs(centre - target) < 1.5 else (0 if target < centre else 1)


def snake_policy(game: Snake) -> int:
    head = game.body[0]
    body = set(game.body[:-1])
    options = []
    for action, (dx, dy) in enumerate(snake.DIRECTIONS):
        cell = (head[0] + dx, head[1] + dy)
        if (dx + game.direction[0], dy + game.direction[1]) == (0, 0):
            continue
        if not (0 <= cell[0] < snake.GRID_CELLS and 0 <= cell[1] < snake.GRID_CELLS) or cell in body:
            continue
        options.append((abs(cell[0] - game.food[0]) + abs(cell[1] - game.food[1]), action))
    return min(options)[1] if options else 4


SCRIPTED = {
    "Catcher": catcher_policy,
    "FlappyBird": flappy_policy,
    "Pixelcopter": copter_policy,
    "PLEPong": pong_policy,
    "Snake": snake_policy,
}
MARGIN = {"Catcher": 20, "FlappyBird": 5, "Pixelcopter": 5, "PLEPong": 12, "Snake": 8}


def mean_score(name: str, policy, seeds: range, max_frames: int = 3000) -> float:
    scores = []
    for seed in seeds:
        game = PYGAME_GAMES[name]()
        game.reset(seed=seed)
        rng = np.random.default_rng(seed)
        total = 0.0
        for _ in range(max_frames):
            action = policy(game) if policy else int(rng.integers(game.action_space.n))
            _, reward, terminated, _, _ = game.step(action)
            total += reward
            if terminated:
                break
        scores.append(total)
    return float(np.mean(scores))


@pytest.mark.parametrize("name", list(SCRIPTED))
def test_scripted_policy_scores_far_above_random(name):
    seeds = range(5)
    scripted = mean_score(name, SCRIPTED[name], seeds)
    random = mean_score(name, None, seeds)
    assert scripted >= random + MARGIN[name], (scripted, random)


def test_plepong_can_be_won():
    for seed in range(3):
        game = PLEPong()
        game.reset(seed=seed)
        terminated = False
        for _ in range(3000):
            _, _, terminated, _, _ = game.step(pong_policy(game))
            if terminated:
                break
        assert terminated and game.agent_points == pong.POINTS_TO_WIN > game.cpu_points, seed


@pytest.mark.parametrize("name", list(PYGAME_GAMES))
def test_display_is_drawn_bigger_and_richer_than_the_agents_view(name):
    game = PYGAME_GAMES[name](render_mode="rgb_array")
    observation, _ = game.reset(seed=0)
    for _ in range(3):
        observation, *_ = game.step(game.action_space.n - 1)
    display = game.render()
    assert display.shape == (game.height * DISPLAY_SCALE, game.width * DISPLAY_SCALE, 3)
    display_colours = len(np.unique(display.reshape(-1, 3), axis=0))
    observation_colours = len(np.unique(observation.reshape(-1, 3), axis=0))
    assert display_colours >= 6 and display_colours > observation_colours, (display_colours, observation_colours)
    # the display shows this state: the same game a step later looks different
    game.step(game.action_space.n - 1)
    assert not np.array_equal(game.render(), display)


def object_centres(name: str, game) -> dict[str, tuple[float, float]]:
    """Where each kind of object is, in game pixels (x, y), read from the game's state."""
    if name == "Catcher":
        return {
            "fruit": (game.fruit_x + catcher.FRUIT_SIZE / 2, game.fruit_y + catcher.FRUIT_SIZE / 2),
            "paddle": (game.paddle_x + catcher.PADDLE_WIDTH / 2, game.height - catcher.PADDLE_HEIGHT / 2),
        }
    if name == "FlappyBird":
        x, gap_top, _ = game.pipes[0]
        return {
            "bird": (flappy_bird.BIRD_X + flappy_bird.BIRD_SIZE / 2, game.bird_y + flappy_bird.BIRD_SIZE / 2),
            "pipe": (x + flappy_bird.PIPE_WIDTH / 2, gap_top / 2),
        }
    if name == "Pixelcopter":
        x, top, _ = game.blocks[0]
        size = pixelcopter.COPTER_SIZE
        return {
            "copter": (pixelcopter.COPTER_X + size / 2, game.copter_y + size / 2),
            "block and cave": (x + pixelcopter.BLOCK_WIDTH / 2, top + pixelcopter.BLOCK_HEIGHT / 2),
        }
    if name == "PLEPong":
        return {
            "computer's paddle": (2 + pong.PADDLE_WIDTH / 2, game.cpu_y + pong.PADDLE_HEIGHT / 2),
            "agent's paddle": (game.width - 2 - pong.PADDLE_WIDTH / 2, game.agent_y + pong.PADDLE_HEIGHT / 2),
            "ball": (int(game.ball_x) + pong.BALL_SIZE / 2, int(game.ball_y) + pong.BALL_SIZE / 2),
            "net": (game.width // 2 + 0.5, 1),
        }
    half = snake.CELL_PIXELS / 2
    return {
        part: (cell[0] * snake.CELL_PIXELS + half, cell[1] * snake.CELL_PIXELS + half)
        for part, cell in (("food", game.food), ("head", game.body[0]), ("body", game.body[1]))
    }


@pytest.mark.parametrize("name", list(PYGAME_GAMES))
def test_every_object_has_its_own_gray_level_in_the_agents_view(name):
    env = make_env(name, mode="eval")
    frames, _ = env.reset(seed=0)
    for _ in range(3):
        frames, *_ = env.step(env.action_space.n - 1)
    game = env.unwrapped
    screen = frames[-1]  # the newest 84x84 grayscale frame, what the agent sees
    scale_x, scale_y = screen.shape[1] / game.width, screen.shape[0] / game.height
    levels = {
        part: int(screen[int(y * scale_y), int(x * scale_x)]) for part, (x, y) in object_centres(name, game).items()
    }
    levels["background"] = int(np.bincount(screen.ravel()).argmax())
    env.close()
    values = sorted(levels.values())
    assert min(b - a for a, b in itertools.pairwise(values)) >= 30, levels


def test_snake_food_head_and_body_stand_apart_in_the_agents_grayscale_view():
    env = make_env("Snake", mode="eval")
    frames, _ = env.reset(seed=0)
    game = env.unwrapped
    screen = frames[-1]  # the newest 84x84 grayscale frame

    def level(cell: tuple[int, int]) -> int:
        scale = screen.shape[0] / game.height
        centre = (np.array(cell) * snake.CELL_PIXELS + snake.CELL_PIXELS / 2) * scale
        return int(screen[int(centre[1]), int(centre[0])])

    empty = next((x, 0) for x in range(snake.GRID_CELLS) if (x, 0) not in game.body and (x, 0) != game.food)
    levels = {
        "background": level(empty),
        "body": level(game.body[1]),
        "head": level(game.body[0]),
        "food": level(game.food),
    }
    env.close()
    values = sorted(levels.values())
    assert min(b - a for a, b in itertools.pairwise(values)) >= 40, levels


def test_snake_starves_after_the_hunger_limit_and_eating_resets_it():
    game = Snake()
    game.reset(seed=0)
    game.food = (0, 0)  # out of the way of a snake circling in the middle
    circle = [1, 2, 0, 3]  # down, left, up, right: a 2x2 loop that never meets the food
    for move in range(snake.HUNGER_LIMIT - 1):
        _, reward, terminated, _, _ = game.step(circle[move % 4])
        assert (reward, terminated) == (0.0, False), move
    _, reward, terminated, _, _ = game.step(circle[(snake.HUNGER_LIMIT - 1) % 4])
    assert (reward, terminated) == (-1.0, True)

    game.reset(seed=0)
    head = game.body[0]
    game.food = (head[0] + 1, head[1])  # straight ahead
    _, reward, terminated, _, _ = game.step(4)
    assert (reward, terminated, game.moves_since_food) == (1.0, False, 0)
