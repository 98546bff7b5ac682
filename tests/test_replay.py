"""The replay memory against a naive reference that stores every transition whole."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agent.replay import DeviceReplayMemory, ReplayMemory

STACK = 4


class CudaReplayMemory(DeviceReplayMemory):
    """The device memory on the CUDA GPU: every test of both backends runs on it too, under ``-m gpu``."""

    def __init__(self, *args, **settings) -> None:
        super().__init__(*args, **{**settings, "device": "cuda"})


BACKENDS = pytest.mark.parametrize(
    "Memory",
    [ReplayMemory, DeviceReplayMemory, pytest.param(CudaReplayMemory, marks=pytest.mark.gpu)],
    ids=["host", "device", "cuda"],
)
SIDE = 6  # small frames keep the test fast; the layout does not depend on the size


class NaiveReplay:
    """Stores (state, action, n-step reward, next state, terminated, truncated, discount) whole."""

    def __init__(self, n_step: int, discount: float) -> None:
        self.n_step, self.discount = n_step, discount
        self.steps: dict[int, list] = {}  # stream -> list of (state, action, reward, term, trunc, next_state, episode)

    def record(self, stream, state, action, reward, terminated, truncated, next_state, episode):
        self.steps.setdefault(stream, []).append((state, action, reward, terminated, truncated, next_state, episode))

    def transitions(self, stream: int, newest: int) -> dict[bytes, tuple[float, float]]:
        """The stream's last ``newest`` recorded steps: key -> (n-step reward, discount)."""
        steps = self.steps.get(stream, [])
        keys = {}
        for start in range(max(0, len(steps) - newest), len(steps)):
            total, factor, end = 0.0, 1.0, start
            for offset in range(self.n_step):
                index = start + offset
                if index >= len(steps) or steps[index][6] != steps[start][6]:
                    break
                total += factor * steps[index][2]
                factor *= self.discount
                end = index
                if steps[index][3] or steps[index][4]:
                    break
            if start + self.n_step - 1 >= len(steps) and not (steps[end][3] or steps[end][4]):
                continue  # the n-step look-ahead is not written yet
            state, action = steps[start][0], steps[start][1]
            terminated, truncated, next_state = steps[end][3], steps[end][4], steps[end][5]
            discount = 0.0 if terminated else self.discount ** (end - start + 1)
            keys[key(state, action, next_state, terminated, truncated)] = (total, discount)
        return keys


def key(state, action, next_state, terminated, truncated) -> bytes:
    """Frames are random noise, so a transition's frames, action and flags identify it."""
    return b"".join(
        [
            np.ascontiguousarray(state).tobytes(),
            np.ascontiguousarray(next_state).tobytes(),
            bytes([int(action), int(bool(terminated)), int(bool(truncated))]),
        ]
    )


def random_episode_streams(memory: ReplayMemory, reference: NaiveReplay, num_steps: int, seed: int) -> None:
    """Random frames, rewards and episode ends written to every stream as a vector env would."""
    rng = np.random.default_rng(seed)
    streams = memory.num_streams
    obs = np.zeros((streams, STACK, SIDE, SIDE), np.uint8)
    obs[:, -1] = rng.integers(0, 256, (streams, SIDE, SIDE))
    episode = np.arange(streams) * 1000
    for stream in range(streams):
        memory.start_episode(stream, obs[stream])
    first = np.zeros(streams, bool)
    for _ in range(num_steps):
        actions = rng.integers(0, 6, streams)
        rewards = rng.normal(size=streams).astype(np.float32)
        terminated = rng.random(streams) < 0.04
        truncated = ~terminated & (rng.random(streams) < 0.02)
        next_obs = np.concatenate([obs[:, 1:], rng.integers(0, 256, (streams, 1, SIDE, SIDE), dtype=np.uint8)], axis=1)
        for stream in range(streams):
            if first[stream]:
                # a reset step: the new game's first stack, zero padded, no transition
                next_obs[stream, :-1] = 0
                episode[stream] += 1
            else:
                reference.record(
                    stream,
                    obs[stream].copy(),
                    actions[stream],
                    rewards[stream],
                    terminated[stream],
                    truncated[stream],
                    next_obs[stream].copy(),
                    episode[stream],
                )
        memory.add_vector_step(actions, rewards, terminated & ~first, truncated & ~first, next_obs, first)
        first = (terminated | truncated) & ~first
        obs = next_obs


def sampled(memory: ReplayMemory, batches: int) -> list[tuple[bytes, float, float]]:
    """(key, reward, discount) of every sampled transition."""
    samples = []
    for _ in range(batches):
        batch = memory.sample(64)
        for i in range(64):
            samples.append(
                (
                    key(
                        batch["state"][i].cpu().numpy(),
                        batch["action"][i],
                        batch["next_state"][i].cpu().numpy(),
                        batch["terminated"][i],
                        batch["truncated"][i],
                    ),
                    float(batch["reward"][i]),
                    float(batch["discount"][i]),
                )
            )
    return samples


def union(dicts) -> dict:
    merged = {}
    for d in dicts:
        merged.update(d)
    return merged


@pytest.mark.parametrize(
    "num_streams, n_step, capacity, steps, prioritized",
    [
        (1, 1, 10_000, 300, False),  # no wrap-around
        (1, 1, 200, 900, False),  # wraps several times
        (3, 1, 300, 700, False),  # several envs side by side, wrapping
        (2, 3, 10_000, 300, False),  # n-step returns stop at episode ends
        (3, 3, 240, 700, False),  # n-step and wrap-around together
        (3, 3, 240, 700, True),  # the same, sampled by priority
        (2, 1, 10_000, 300, True),
    ],
)
@BACKENDS
def test_every_sample_is_a_stored_transition(Memory, num_streams, n_step, capacity, steps, prioritized):
    memory = Memory(
        capacity, num_streams, (STACK, SIDE, SIDE), n_step=n_step, discount=0.9, seed=1, prioritized=prioritized
    )
    reference = NaiveReplay(n_step, 0.9)
    random_episode_streams(memory, reference, steps, seed=num_streams * 10 + n_step)
    # a stream holds capacity/num_streams frames; after wrapping, older transitions are gone,
    # and some of the kept frames are episode-start padding, so the reference keeps a superset
    # of what can be sampled and the samples must all come from it
    allowed = union(reference.transitions(s, memory.slots_per_stream) for s in range(num_streams))
    samples = sampled(memory, 60)
    for sample_key, reward, discount in samples:
        assert sample_key in allowed
        assert (reward, discount) == pytest.approx(allowed[sample_key], abs=1e-5)
    keys = {sample_key for sample_key, _, _ in samples}
    if capacity < steps:
        evicted = set(union(reference.transitions(s, 10**9) for s in range(num_streams))) - set(allowed)
        assert evicted and not evicted & keys
    else:
        assert len(keys) > 0.5 * len(allowed)  # sampling reaches the whole memory


@BACKENDS
def test_stacks_never_cross_an_episode_start(Memory):
    memory = Memory(1000, 1, (STACK, SIDE, SIDE), seed=0)
    reference = NaiveReplay(1, 0.99)
    random_episode_streams(memory, reference, 500, seed=3)
    batch = memory.sample(512)
    # in a new episode's first states the padding frames are zero, never an old game's frame
    for state in batch["state"].cpu().numpy():
        blank = [not frame.any() for frame in state]
        if any(blank):
            assert blank == sorted(blank, reverse=True)  # zeros only before the real frames


@BACKENDS
def test_terminal_does_not_bootstrap_and_truncation_does(Memory):
    memory = Memory(100, 1, (STACK, SIDE, SIDE), discount=0.99, seed=0)
    first_obs = np.zeros((STACK, SIDE, SIDE), np.uint8)
    memory.start_episode(0, first_obs)
    memory.add(0, 1, 1.0, True, False, np.full((STACK, SIDE, SIDE), 1, np.uint8))
    memory.start_episode(0, first_obs)
    memory.add(0, 2, 0.5, False, True, np.full((STACK, SIDE, SIDE), 2, np.uint8))
    batch = memory.sample(200)
    by_action = {
        int(a): (float(d), bool(t), bool(u))
        for a, d, t, u in zip(batch["action"], batch["discount"], batch["terminated"], batch["truncated"])
    }
    assert by_action == {1: (0.0, True, False), 2: (pytest.approx(0.99), False, True)}


@BACKENDS
def test_no_sample_before_its_next_state_is_written(Memory):
    memory = Memory(100, 2, (STACK, SIDE, SIDE), seed=0)
    memory.start_episode(0, np.ones((STACK, SIDE, SIDE), np.uint8))
    memory.start_episode(1, np.ones((STACK, SIDE, SIDE), np.uint8))
    assert len(memory) == 0 and not memory.can_sample(1)
    with pytest.raises(RuntimeError):
        memory.sample(1)
    memory.add(1, 3, 0.0, False, False, np.full((STACK, SIDE, SIDE), 7, np.uint8))
    assert len(memory) == 1
    batch = memory.sample(8)
    assert (batch["action"] == 3).all() and (batch["next_state"][:, -1] == 7).all()


@BACKENDS
def test_vector_states_for_the_mlp(Memory):
    memory = Memory(50, 1, (4,), observation_dtype=torch.float32, seed=0)
    memory.start_episode(0, np.array([1, 2, 3, 4], np.float32))
    memory.add(0, 1, 1.0, False, False, np.array([5, 6, 7, 8], np.float32))
    batch = memory.sample(4)
    assert batch["state"].shape == (4, 4) and batch["state"].dtype == torch.float32
    assert batch["state"][0].tolist() == [1, 2, 3, 4] and batch["next_state"][0].tolist() == [5, 6, 7, 8]


@BACKENDS
def test_memory_per_transition_fits_a_million_in_about_seven_gigabytes(Memory):
    memory = Memory(100_000, 4, (4, 84, 84), seed=0)
    assert memory.bytes_per_transition <= 7_200
    assert Memory.estimate_bytes(1_000_000, (4, 84, 84)) <= 7.2e9
    naive_bytes_per_transition = 2 * 4 * 84 * 84
    assert naive_bytes_per_transition / memory.bytes_per_transition > 7.5


@pytest.mark.parametrize("prioritized", [False, True])
@BACKENDS
def test_save_and_load_resume_sampling_exactly(Memory, tmp_path, prioritized):
    memory = Memory(500, 2, (STACK, SIDE, SIDE), seed=4, prioritized=prioritized)
    random_episode_streams(memory, NaiveReplay(1, 0.99), 300, seed=4)
    memory.save(tmp_path / "replay", agent_step=300)
    restored = Memory(500, 2, (STACK, SIDE, SIDE), seed=99, prioritized=prioritized)
    assert restored.load(tmp_path / "replay") == {"agent_step": 300}
    assert_same_samples(memory, restored)


def assert_same_samples(a: ReplayMemory, b: ReplayMemory, rounds: int = 3) -> None:
    for _ in range(rounds):
        first, second = a.sample(16), b.sample(16)
        assert first.keys() == second.keys()
        for name in first:
            assert torch.equal(first[name], second[name]), name


def filled_memory(Memory, prioritized: bool, seed: int = 4) -> ReplayMemory:
    """The same writes and priority updates, whichever kind of memory takes them."""
    memory = Memory(500, 2, (STACK, SIDE, SIDE), seed=seed, prioritized=prioritized)
    random_episode_streams(memory, NaiveReplay(1, 0.99), 300, seed=seed)
    if prioritized:
        slots = np.arange(0, 500, 7)
        memory.update_priorities(slots, np.linspace(0.1, 3.0, slots.size).astype(np.float32))
    return memory


OTHER_KIND = {ReplayMemory: DeviceReplayMemory, DeviceReplayMemory: ReplayMemory, CudaReplayMemory: ReplayMemory}


@pytest.mark.parametrize("prioritized", [False, True])
@BACKENDS
def test_a_save_loads_into_the_other_placement_and_back_without_changing_what_is_sampled(Memory, tmp_path, prioritized):
    """A run resumed with its replay placed elsewhere (``replay_on_device=auto`` on another
    machine) loads the same save: one format, the priorities kept; saved again there and loaded
    back, the memory samples exactly what it would have without the round trip."""
    original = filled_memory(Memory, prioritized)
    original.save(tmp_path / "first")
    elsewhere = OTHER_KIND[Memory](500, 2, (STACK, SIDE, SIDE), seed=99, prioritized=prioritized)
    elsewhere.load(tmp_path / "first")
    np.testing.assert_array_equal(elsewhere.frames.cpu().numpy(), original.frames.cpu().numpy())
    np.testing.assert_array_equal(elsewhere.has_transition, original.has_transition)
    if prioritized:
        np.testing.assert_array_equal(elsewhere.priority_leaves(), original.priority_leaves())
        assert elsewhere.max_priority == original.max_priority
    elsewhere.save(tmp_path / "second")
    back = Memory(500, 2, (STACK, SIDE, SIDE), seed=98, prioritized=prioritized)
    back.load(tmp_path / "second")
    assert_same_samples(original, back)


@BACKENDS
def test_a_save_of_the_other_kind_samples_as_this_kind_filled_directly(Memory, tmp_path):
    """Uniform sampling: the other kind's save, loaded here, samples exactly what this kind
    samples after the same writes (its own generator starts from the same seed)."""
    filled_memory(OTHER_KIND[Memory], False).save(tmp_path / "replay")
    loaded = Memory(500, 2, (STACK, SIDE, SIDE), seed=4)
    loaded.load(tmp_path / "replay")
    assert_same_samples(filled_memory(Memory, False), loaded)


def written_files(folder, save_number: int) -> set[str]:
    return {path.name for path in folder.glob(f"frames-*.{save_number}.zlib")}


CHUNK_BYTES = 100 * SIDE * SIDE  # 100 slots a chunk: 20 chunks in each stream's ring of 2,000


@BACKENDS
def test_a_save_writes_only_the_chunks_written_since_the_last_save(Memory, tmp_path):
    folder = tmp_path / "replay"
    memory = Memory(4_000, 2, (STACK, SIDE, SIDE), seed=0, prioritized=True)
    random_episode_streams(memory, NaiveReplay(1, 0.99), 3_000, seed=0)  # each ring wrapped
    memory.save(folder, chunk_bytes=CHUNK_BYTES, agent_step=1)
    assert len(written_files(folder, 1)) == 40
    random_episode_streams(memory, NaiveReplay(1, 0.99), 250, seed=1)  # 254 frames a stream: 3 or 4 chunks
    memory.save(folder, chunk_bytes=CHUNK_BYTES, agent_step=2)
    rewritten = written_files(folder, 2)
    assert 6 <= len(rewritten) <= 8
    assert len(list(folder.glob("frames-*"))) == 40  # each rewritten chunk's older file is gone
    loaded = Memory(4_000, 2, (STACK, SIDE, SIDE), seed=5, prioritized=True)
    assert loaded.load(folder) == {"agent_step": 2}
    np.testing.assert_array_equal(loaded.frames.cpu().numpy(), memory.frames.cpu().numpy())
    for name in ("actions", "rewards", "terminated", "truncated", "has_transition", "frames_written"):
        np.testing.assert_array_equal(getattr(loaded, name), getattr(memory, name), err_msg=name)
    # a loaded memory saves what changed since the load; another memory's save there writes all
    random_episode_streams(loaded, NaiveReplay(1, 0.99), 50, seed=2)
    loaded.save(folder, chunk_bytes=CHUNK_BYTES)
    assert 2 <= len(written_files(folder, 3)) <= 4
    memory.save(folder, chunk_bytes=CHUNK_BYTES)
    assert len(written_files(folder, 4)) == 40


@BACKENDS
def test_a_foreign_or_torn_save_is_refused_in_one_line_before_the_long_read(Memory, tmp_path):
    from agent.checkpoint import CheckpointError

    folder = tmp_path / "replay"
    filled_memory(Memory, True).save(folder, chunk_bytes=CHUNK_BYTES)
    other_layout = Memory(600, 3, (STACK, SIDE, SIDE), seed=0, prioritized=True)
    with pytest.raises(CheckpointError, match="laid out as"):
        other_layout.load(folder)
    with pytest.raises(CheckpointError, match="no arcade-dqn replay memory"):
        other_layout.load(tmp_path / "nothing-here")
    chunk = sorted(folder.glob("frames-*"))[3]
    original = chunk.read_bytes()
    fresh = Memory(500, 2, (STACK, SIDE, SIDE), seed=0, prioritized=True)
    chunk.write_bytes(original[:-5])  # torn: cut short
    with pytest.raises(CheckpointError, match="missing or torn") as refused:
        fresh.load(folder)
    assert "\n" not in str(refused.value)
    assert not fresh.frames.any() and not fresh.frames_written.any()  # refused before reading anything
    chunk.write_bytes(original[:-1] + bytes([original[-1] ^ 0xFF]))  # changed: same size, other bytes
    with pytest.raises(CheckpointError, match="torn or was changed"):
        fresh.load(folder)
    (tmp_path / "bad.npz").write_bytes(b"not a zip")  # an earlier version's single file
    with pytest.raises(CheckpointError, match="not a readable replay memory"):
        fresh.load(tmp_path / "bad.npz")


def test_saved_frames_are_compressed():
    memory = ReplayMemory(20_000, 1, (4, 84, 84), seed=0)
    memory.start_episode(0, np.zeros((4, 84, 84), np.uint8))
    for step in range(2_000):  # game-like frames: mostly background
        frame = np.zeros((4, 84, 84), np.uint8)
        frame[:, step % 84, :10] = 200
        memory.add(0, 0, 0.0, False, False, frame)
    import tempfile
    from pathlib import Path

    with tempfile.TemporaryDirectory() as folder:
        memory.save(Path(folder))
        assert sum(path.stat().st_size for path in Path(folder).iterdir()) < memory.nbytes / 20


@pytest.mark.parametrize("prioritized", [False, True])
def test_an_earlier_versions_whole_memory_file_still_loads(tmp_path, prioritized):
    """Runs saved before the folder format (one replay.npz) resume with their memory."""
    import json

    from agent.checkpoint import numpy_rng_state

    memory = filled_memory(ReplayMemory, prioritized)
    arrays = {name: getattr(memory, name) for name in BOOKKEEPING}
    arrays["frames"] = memory.frames.cpu().numpy()
    if prioritized:
        arrays["priority_tree"] = memory.priorities.tree
    info = {"rng_state": numpy_rng_state(memory.rng), "max_priority": memory.max_priority, "agent_step": 7}
    arrays["metadata"] = np.array(json.dumps(info))
    np.savez_compressed(tmp_path / "replay.npz", **arrays)
    loaded = ReplayMemory(500, 2, (STACK, SIDE, SIDE), seed=1, prioritized=prioritized)
    assert loaded.load(tmp_path / "replay.npz") == {"agent_step": 7}
    assert_same_samples(memory, loaded)


BOOKKEEPING = ("actions", "rewards", "terminated", "truncated", "has_transition", "frames_written")


# A child fills a memory, saves it, writes more and saves again; it is killed (kill -9) once the
# second save has written its first file. Frames are noise, so that the save takes a while.
KILLED_SAVE = r"""
import sys
from pathlib import Path
import numpy as np
from agent.replay import ReplayMemory

def fill(memory, steps, seed):
    rng = np.random.default_rng(seed)
    memory.start_episode(0, rng.integers(0, 256, (4, 84, 84), dtype=np.uint8))
    for _ in range(steps):
        memory.add(0, 1, 0.5, False, False, rng.integers(0, 256, (4, 84, 84), dtype=np.uint8))

memory = ReplayMemory(6_000, 1, (4, 84, 84), seed=0)
fill(memory, 3_000, seed=0)
memory.save(Path(sys.argv[1]), chunk_bytes=20 * 84 * 84, agent_step=1)
fill(memory, 3_000, seed=1)
print("saving", flush=True)
memory.save(Path(sys.argv[1]), chunk_bytes=20 * 84 * 84, agent_step=2)
print("saved", flush=True)
"""


def test_a_save_killed_midway_leaves_the_previous_save_loadable(tmp_path):
    import subprocess
    import sys
    import time

    from tests.commands import ROOT

    folder = tmp_path / "replay"
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_SAVE, str(folder)], cwd=ROOT, stdout=subprocess.PIPE, text=True
    )
    assert child.stdout.readline().strip() == "saving"
    deadline = time.monotonic() + 120
    while not written_files(folder, 2):
        assert time.monotonic() < deadline and child.poll() is None, "the second save wrote nothing"
        time.sleep(0.001)
    child.kill()  # SIGKILL, mid-save
    child.wait(timeout=30)
    assert child.stdout.read() == ""  # it never finished the save
    loaded = ReplayMemory(6_000, 1, (4, 84, 84), seed=0)
    assert loaded.load(folder) == {"agent_step": 1}
    assert loaded.frames_written.tolist() == [3_004]
    rng = np.random.default_rng(0)
    first = rng.integers(0, 256, (4, 84, 84), dtype=np.uint8)
    np.testing.assert_array_equal(loaded.frames[0, :4].cpu().numpy(), first)
    newest = [rng.integers(0, 256, (4, 84, 84), dtype=np.uint8)[-1] for _ in range(3_000)][-1]
    np.testing.assert_array_equal(loaded.frames[0, 3_003].cpu().numpy(), newest)


@BACKENDS
def test_prioritized_sampling_follows_priorities_and_weights_correct_for_it(Memory):
    memory = Memory(1000, 1, (STACK, SIDE, SIDE), seed=0, prioritized=True, priority_alpha=1.0, priority_beta=0.5)
    rng = np.random.default_rng(0)
    memory.start_episode(0, np.zeros((STACK, SIDE, SIDE), np.uint8))
    for action in range(40):
        memory.add(0, action, 0.0, False, False, rng.integers(0, 256, (STACK, SIDE, SIDE), dtype=np.uint8))
    assert len(memory) == 40
    first = memory.sample(40)
    memory.update_priorities(first["index"], first["action"].float() + 1.0)  # transition k gets priority k+1
    counts = np.zeros(40)
    for _ in range(250):
        batch = memory.sample(40)
        counts += np.bincount(batch["action"].cpu().numpy(), minlength=40)
    expected = (np.arange(40) + 1) / np.sum(np.arange(40) + 1)
    np.testing.assert_allclose(counts / counts.sum(), expected, atol=0.006)
    probabilities = (batch["action"].cpu().numpy() + 1.0) / np.sum(np.arange(40) + 1)
    weights = (40 * probabilities) ** -0.5
    np.testing.assert_allclose(batch["weight"].cpu().numpy(), weights / weights.max(), rtol=1e-5)


@BACKENDS
def test_overwritten_transitions_lose_their_priority(Memory):
    memory = Memory(20, 1, (STACK, SIDE, SIDE), seed=0, prioritized=True)
    memory.start_episode(0, np.zeros((STACK, SIDE, SIDE), np.uint8))
    for step in range(100):
        memory.add(0, step % 6, 0.0, False, False, np.full((STACK, SIDE, SIDE), step, np.uint8))
    # exactly the slots holding a transition carry priority (the newest frame holds none yet)
    if isinstance(memory, DeviceReplayMemory):
        memory.sample(1)  # brings the device's copy up to date
        leaves = memory.device_priorities.cpu().numpy()
    else:
        leaves = memory.priorities.leaves(np.arange(20))
    np.testing.assert_array_equal(leaves > 0, memory.has_transition[0])


def test_n_step_returns_stop_at_an_episode_end_and_at_an_unrecorded_step():
    from agent.replay.nstep import n_step_returns

    rewards = torch.tensor([[1.0, 2.0, 4.0], [1.0, 2.0, 4.0], [1.0, 2.0, 4.0]])
    recorded = torch.tensor([[True, True, True], [True, True, True], [True, False, True]])
    ends = torch.tensor([[False, False, False], [False, True, False], [False, False, False]])
    returns, steps, last = n_step_returns(rewards, recorded, ends, 0.5)
    np.testing.assert_allclose(
        returns, [1 + 1 + 1, 1 + 1, 1]
    )  # 1 + 0.5*2 + 0.25*4; ends after step 2; step 2 unwritten
    assert steps.tolist() == [3, 2, 1] and last.tolist() == [2, 1, 0]
    # one step (its own short path): the first column alone, the same rule
    one = n_step_returns(rewards[:, :1], recorded[:, :1], ends[:, :1], 0.5)
    first_column = n_step_returns(rewards, torch.tensor([[True, False, False]] * 3), ends, 0.5)
    for mine, general in zip(one, first_column):
        assert mine.dtype == general.dtype and mine.tolist() == general.tolist()
    unrecorded = n_step_returns(rewards[:, :1], torch.tensor([[True], [False], [True]]), ends[:, :1], 0.5)
    assert unrecorded[0].tolist() == [1, 0, 1] and unrecorded[1].tolist() == [1, 0, 1]


@pytest.mark.parametrize("prioritized", [False, True])
def test_both_backends_sample_the_same_distribution_from_the_same_content(prioritized):
    host, device = (
        Memory(600, 3, (STACK, SIDE, SIDE), n_step=3, discount=0.9, seed=seed, prioritized=prioritized)
        for Memory, seed in ((ReplayMemory, 1), (DeviceReplayMemory, 2))
    )
    for memory in (host, device):
        random_episode_streams(memory, NaiveReplay(3, 0.9), 400, seed=7)  # the same content in both
    if prioritized:  # the same uneven priorities in both: priority grows with the action taken
        stored = np.flatnonzero(host.has_transition.reshape(-1))  # slots are numbered alike in both
        td_errors = host.actions.reshape(-1)[stored] * 3.0 + 1.0
        for memory in (host, device):
            memory.update_priorities(stored, td_errors)
    counts = {}
    for name, memory in (("host", host), ("device", device)):
        drawn = sampled(memory, 400)  # 25,600 transitions
        for sample_key, reward, discount in drawn:
            counts.setdefault(sample_key, {"host": 0, "device": 0, "reward": reward, "discount": discount})
            counts[sample_key][name] += 1
            assert (reward, discount) == pytest.approx((counts[sample_key]["reward"], counts[sample_key]["discount"]))
    # the same transitions, each drawn about as often: a chi-square test of the two samples
    # (dof = transitions - 1; the statistic's mean is dof and its spread sqrt(2 dof))
    table = np.array([[entry["host"], entry["device"]] for entry in counts.values()], dtype=np.float64)
    expected = table.sum(axis=1, keepdims=True) * table.sum(axis=0, keepdims=True) / table.sum()
    statistic, dof = ((table - expected) ** 2 / expected).sum(), len(table) - 1
    assert len(table) > 300 and statistic < dof + 4 * np.sqrt(2 * dof)
    if prioritized:  # and the skew toward high priorities is the same
        by_action = {name: np.zeros(6) for name in ("host", "device")}
        for sample_key, entry in counts.items():
            for name, shares in by_action.items():
                shares[sample_key[-3]] += entry[name]
        np.testing.assert_allclose(by_action["host"] / 25_600, by_action["device"] / 25_600, atol=0.02)
        assert by_action["host"][5] > 2 * by_action["host"][0]


@BACKENDS
def test_newest_states_are_the_observations_each_stream_is_at(Memory):
    memory = Memory(200, 3, (STACK, SIDE, SIDE), seed=0)
    rng = np.random.default_rng(0)
    obs = rng.integers(0, 256, (3, STACK, SIDE, SIDE), dtype=np.uint8)
    with pytest.raises(RuntimeError, match="start_episode"):
        memory.newest_states()
    for stream in range(3):
        memory.start_episode(stream, obs[stream])
    for step in range(150):  # wraps the rings; stream 1 starts a new game now and then
        new_frames = rng.integers(0, 256, (3, 1, SIDE, SIDE), dtype=np.uint8)
        next_obs = np.concatenate([obs[:, 1:], new_frames], axis=1)
        first = np.array([False, step % 40 == 39, False])
        next_obs[first, :-1] = 0
        no = np.zeros(3, bool)
        memory.add_vector_step(np.zeros(3, np.int64), np.zeros(3, np.float32), no, no, next_obs, first)
        obs = next_obs
        np.testing.assert_array_equal(memory.newest_states().cpu().numpy(), obs)


@BACKENDS
def test_the_uniform_batches_due_together_are_one_draw_split(Memory):
    memory = Memory(600, 3, (STACK, SIDE, SIDE), seed=5)
    twin = Memory(600, 3, (STACK, SIDE, SIDE), seed=5)
    random_episode_streams(memory, NaiveReplay(1, 0.99), 200, seed=5)
    random_episode_streams(twin, NaiveReplay(1, 0.99), 200, seed=5)
    batches = list(memory.sample_batches(16, 3))
    whole = twin.sample(48)
    assert len(batches) == 3
    for number, batch in enumerate(batches):
        for name, value in whole.items():
            assert torch.equal(batch[name], value[16 * number : 16 * (number + 1)]), name
    assert list(memory.sample_batches(16, 0)) == []


@BACKENDS
def test_prioritized_batches_due_together_each_see_the_priorities_set_before_them(Memory):
    memory = Memory(1000, 1, (STACK, SIDE, SIDE), seed=0, prioritized=True, priority_alpha=1.0)
    rng = np.random.default_rng(0)
    memory.start_episode(0, np.zeros((STACK, SIDE, SIDE), np.uint8))
    for action in range(40):
        memory.add(0, action, 0.0, False, False, rng.integers(0, 256, (STACK, SIDE, SIDE), dtype=np.uint8))
    everything = memory.sample(40)
    batches = memory.sample_batches(32, 2)
    first = next(batches)
    assert (first["action"] != 7).any()  # all 40 equally likely
    # as an update would: transition 7 gets nearly all the priority before the next batch is drawn
    memory.update_priorities(everything["index"], (everything["action"] == 7).float() * 1e6)
    second = next(batches)
    assert (second["action"] == 7).all()
    assert next(batches, None) is None


@pytest.mark.gpu
def test_new_frames_cross_to_the_gpu_through_pinned_buffers_unchanged():
    on_gpu = DeviceReplayMemory(600, 3, (STACK, SIDE, SIDE), device="cuda", seed=1)
    on_host = ReplayMemory(600, 3, (STACK, SIDE, SIDE), seed=1)
    assert on_gpu._frame_staging is not None
    random_episode_streams(on_gpu, NaiveReplay(1, 0.99), 400, seed=1)  # wraps: every slot rewritten
    random_episode_streams(on_host, NaiveReplay(1, 0.99), 400, seed=1)
    assert torch.equal(on_gpu.frames.cpu(), on_host.frames)


@pytest.mark.gpu
@pytest.mark.parametrize("captured", [False, True], ids=["eager", "captured"])
def test_training_steps_on_the_gpu_never_wait_for_the_device(captured):
    """200 training steps with a prioritized 3-step memory on the GPU (write a vector step,
    the states to act on, a batch, the update, its priorities) under
    ``torch.cuda.set_sync_debug_mode("error")``: anything that makes the host wait for the GPU
    (a read back, a blocking copy) raises. Acting reads its actions back, so it is left out."""
    from agent.config import make_config
    from agent.learner import DQNLearner
    from agent.network import build_q_network

    device = torch.device("cuda")
    config = make_config("atari", captured_update=captured, n_step=3, prioritized_replay=True, max_grad_norm=10.0)
    learner = DQNLearner(build_q_network(config, (4, 84, 84), 4), config, device)
    memory = CudaReplayMemory(4_000, 4, (4, 84, 84), seed=0, n_step=3, prioritized=True)
    rng = np.random.default_rng(0)
    for stream in range(4):
        memory.start_episode(stream, rng.integers(0, 256, (4, 84, 84), dtype=np.uint8))

    def training_step() -> None:
        memory.add_vector_step(
            rng.integers(0, 4, 4),
            rng.choice([-1.0, 0.0, 1.0], 4).astype(np.float32),
            rng.random(4) < 0.02,
            rng.random(4) < 0.01,
            rng.integers(0, 256, (4, 4, 84, 84), dtype=np.uint8),
            np.zeros(4, bool),
        )
        memory.newest_states()
        batch = memory.sample(32)
        metrics = learner.update(batch)
        memory.update_priorities(batch["index"], metrics["td_error"])

    for _ in range(40):  # the warm-ups and the capture synchronise by design; then none may
        training_step()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        for _ in range(200):
            training_step()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    assert learner.updates_done == 240


@pytest.mark.parametrize(("num_streams", "n_step", "batch_size"), [(1, 1, 64), (4, 3, 32), (3, 1, 32)])
@pytest.mark.parametrize("observation_shape", [(4,), (STACK, SIDE, SIDE)], ids=["state", "frames"])
def test_a_full_memory_of_the_smallest_capacity_offered_holds_a_batch(
    num_streams, n_step, batch_size, observation_shape
):
    """``train.py`` refuses a smaller ``--replay-size`` and names this one (a slow test trains at it)."""
    from agent.replay import smallest_capacity

    stack = observation_shape[0] if len(observation_shape) == 3 else 1
    capacity = smallest_capacity(num_streams, stack, n_step, batch_size)
    dtype, numpy_dtype = (torch.uint8, np.uint8) if len(observation_shape) == 3 else (torch.float32, np.float32)
    memory = ReplayMemory(capacity, num_streams, observation_shape, observation_dtype=dtype, n_step=n_step)
    for stream in range(num_streams):
        memory.start_episode(stream, np.zeros(observation_shape, numpy_dtype))
    for step in range(3 * capacity):  # wrapped three times: full
        for stream in range(num_streams):
            memory.add(stream, 0, 1.0, False, False, np.full(observation_shape, step % 200, numpy_dtype))
        if step >= capacity:
            assert memory.can_sample(batch_size)
    assert memory.sample(batch_size)["reward"].shape == (batch_size,)
