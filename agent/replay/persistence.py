"""A replay memory on disk: a folder whose save costs what changed since the last one.

The folder holds, beside one ``manifest.json``:

* the frames, in fixed chunks of each stream's ring (``chunk_slots`` slots each), every chunk a
  zlib-compressed file of its raw bytes. A save rewrites only the chunks that a frame was
  written into since the save (or load) this memory last made of this folder: after 100k new
  transitions in a full memory of 1M, a tenth of the chunks. The chunks are compressed on a
  few threads (zlib lets go of the GIL);
* the bookkeeping (actions, rewards, episode flags, frames written, the per-slot priorities),
  small enough to be written whole at each save, as an uncompressed ``.npz``.

A save writes its new files under names of their own (tagged with the save's number), then
renames the new manifest into place, and only then deletes the files no manifest names: a
crash at any moment (a ``kill -9`` mid-save) leaves the previous save whole and loadable. The
manifest gives each file's size and CRC-32, so a foreign, older or torn folder is refused in
one line before the long read (sizes), or when its bytes are read (checksums).

The file is the same for both memories (``ReplayMemory`` on the host, ``DeviceReplayMemory``
on a GPU): a run may resume with its replay placed elsewhere. Priorities are saved as the
per-slot ``priority^alpha`` both sample from, and each memory's random state is carried
through the other kind (see ``ReplayMemory.rng_states``), so a memory loaded from its own
kind's save samples exactly what it would have without the round trip.

``.npz`` files written by the earlier whole-memory format still load (``load_memory``).
"""

from __future__ import annotations

import io
import json
import os
import zipfile
import zlib
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from agent.checkpoint import CheckpointError, atomic_write

if TYPE_CHECKING:
    from agent.replay.memory import ReplayMemory

FOLDER_FORMAT = "arcade-dqn-replay/2"
MANIFEST = "manifest.json"
BOOKKEEPING_ARRAYS = ("actions", "rewards", "terminated", "truncated", "has_transition", "frames_written")
CHUNK_BYTES = 8 * 1024 * 1024  # raw bytes of frames per chunk file, about
COMPRESSION_LEVEL = 1  # zlib's fastest: game frames are mostly background and shrink well even so
COMPRESSION_THREADS = max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class SaveMark:
    """What a memory last saved to (or loaded from) a folder: which save, and how many frames
    each stream had written then; a chunk no frame was written into since is on disk as it is."""

    folder: str
    save_number: int
    frames_written: tuple[int, ...]


def chunk_slots_for(memory: ReplayMemory, chunk_bytes: int = CHUNK_BYTES) -> int:
    """Slots per chunk file: about ``chunk_bytes`` of frames, at most a stream's ring."""
    frame_bytes = memory.frames.element_size() * int(np.prod(memory.frame_shape))
    return max(1, min(memory.slots_per_stream, chunk_bytes // max(frame_bytes, 1)))


def layout_of(memory: ReplayMemory) -> dict[str, Any]:
    """What a folder must match to load into ``memory``."""
    return {
        "num_streams": memory.num_streams,
        "slots_per_stream": memory.slots_per_stream,
        "frame_shape": list(memory.frame_shape),
        "dtype": str(memory.frames.dtype).removeprefix("torch."),
        "prioritized": memory.prioritized,
    }


def chunks_written_since(
    memory: ReplayMemory, chunk_slots: int, before: tuple[int, ...] | None
) -> list[tuple[int, int]]:
    """(stream, chunk) pairs that a frame was written into since each stream had written
    ``before`` frames (``None``: every chunk)."""
    chunks_per_stream = -(-memory.slots_per_stream // chunk_slots)
    changed = []
    for stream in range(memory.num_streams):
        written = int(memory.frames_written[stream])
        start = 0 if before is None else min(before[stream], written)
        if before is None or written - start >= memory.slots_per_stream:
            chunks = range(chunks_per_stream)
        else:
            chunks = np.unique((np.arange(start, written) % memory.slots_per_stream) // chunk_slots).tolist()
        changed += [(stream, int(chunk)) for chunk in chunks]
    return changed


def _chunk_rows(memory: ReplayMemory, chunk_slots: int, chunk: int) -> slice:
    return slice(chunk * chunk_slots, min((chunk + 1) * chunk_slots, memory.slots_per_stream))


def _write_new_file(path: Path, data: bytes) -> dict[str, Any]:
    with open(path, "wb") as file:
        file.write(data)
        file.flush()
        os.fsync(file.fileno())
    return {"file": path.name, "bytes": len(data), "crc32": zlib.crc32(data)}


def read_manifest(folder: Path) -> dict[str, Any] | None:
    """The folder's manifest, or ``None`` where there is none that parses as one."""
    try:
        manifest = json.loads((Path(folder) / MANIFEST).read_text())
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FOLDER_FORMAT else None


def save_memory(memory: ReplayMemory, folder: Path, *, chunk_bytes: int = CHUNK_BYTES, **metadata: Any) -> None:
    """Saves everything needed to resume sampling exactly into ``folder``, writing only the
    chunks (of about ``chunk_bytes`` of frames) changed since this memory's last save there;
    ``metadata`` (plain values) is kept beside it and returned by ``load_memory``."""
    folder = Path(folder)
    chunk_slots = chunk_slots_for(memory, chunk_bytes)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        previous = read_manifest(folder)
        mark = memory.save_mark
        reusable = (
            previous is not None
            and mark is not None
            and mark.folder == str(folder.resolve())
            and mark.save_number == previous.get("save_number")
            and previous.get("layout") == layout_of(memory)
            and previous.get("chunk_slots") == chunk_slots
        )
        number = (previous.get("save_number", 0) if previous else 0) + 1
        chunks: dict[str, Any] = dict(previous["chunks"]) if reusable else {}
        changed = chunks_written_since(memory, chunk_slots, mark.frames_written if reusable else None)

        def write_chunk(stream_and_chunk: tuple[int, int]) -> tuple[str, dict[str, Any]]:
            stream, chunk = stream_and_chunk
            rows = memory.frames[stream, _chunk_rows(memory, chunk_slots, chunk)].cpu().numpy()
            data = zlib.compress(np.ascontiguousarray(rows).tobytes(), COMPRESSION_LEVEL)
            return f"{stream}/{chunk}", _write_new_file(folder / f"frames-{stream}-{chunk}.{number}.zlib", data)

        with ThreadPoolExecutor(COMPRESSION_THREADS) as pool:
            chunks.update(pool.map(write_chunk, changed))
        bookkeeping = _write_new_file(folder / f"bookkeeping.{number}.npz", _bookkeeping_bytes(memory))
        manifest = {
            "format": FOLDER_FORMAT,
            "save_number": number,
            "layout": layout_of(memory),
            "chunk_slots": chunk_slots,
            "chunks": chunks,
            "bookkeeping": bookkeeping,
            "rng": memory.rng_states(),
            "max_priority": float(memory.max_priority),
            "metadata": metadata,
        }
        atomic_write(folder / MANIFEST, lambda file: file.write(json.dumps(manifest).encode()))
    except OSError as error:
        raise CheckpointError(
            f"could not save the replay memory in {folder}: {error.strerror or error}; the previous save is intact"
        ) from error
    memory.save_mark = SaveMark(str(folder.resolve()), number, tuple(int(n) for n in memory.frames_written))
    named = {record["file"] for record in chunks.values()} | {bookkeeping["file"], MANIFEST}
    for path in folder.iterdir():  # older saves' files, and any a crash left half-written
        if path.name not in named and path.is_file():
            path.unlink(missing_ok=True)


def _bookkeeping_bytes(memory: ReplayMemory) -> bytes:
    arrays = {name: getattr(memory, name) for name in BOOKKEEPING_ARRAYS}
    leaves = memory.priority_leaves()
    if leaves is not None:
        arrays["priorities"] = leaves
    buffer = io.BytesIO()
    np.savez(buffer, **arrays)
    return buffer.getvalue()


def _read_checked(folder: Path, record: dict[str, Any]) -> bytes:
    data = (folder / record["file"]).read_bytes()
    if len(data) != record["bytes"] or zlib.crc32(data) != record["crc32"]:
        raise CheckpointError(
            f"{folder / record['file']} is torn or was changed (its size or checksum is not the one saved); "
            "resume without --save-replay to start with an empty replay memory"
        )
    return data


def check_loadable(memory: ReplayMemory, folder: Path) -> dict[str, Any]:
    """The folder's manifest, once it is known to fit ``memory`` and every file it names is
    there at its saved size; else a one-line ``CheckpointError`` (before any long read)."""
    folder = Path(folder)
    hint = "resume without --save-replay to start with an empty replay memory"
    manifest = read_manifest(folder)
    if manifest is None:
        raise CheckpointError(f"{folder} holds no arcade-dqn replay memory (no readable {MANIFEST}); {hint}")
    if manifest.get("layout") != layout_of(memory):
        raise CheckpointError(
            f"{folder} holds a replay memory laid out as {manifest.get('layout')}, this run's is {layout_of(memory)}; "
            f"{hint}"
        )
    chunk_slots = manifest.get("chunk_slots")
    if not isinstance(chunk_slots, int) or chunk_slots < 1:
        raise CheckpointError(f"{folder / MANIFEST} gives no chunk size; {hint}")
    expected_chunks = {f"{stream}/{chunk}" for stream, chunk in chunks_written_since(memory, chunk_slots, None)}
    if set(manifest["chunks"]) != expected_chunks:
        raise CheckpointError(f"{folder} lacks some of its replay memory's frames; {hint}")
    for record in [*manifest["chunks"].values(), manifest["bookkeeping"]]:
        path = folder / record["file"]
        if not path.is_file() or path.stat().st_size != record["bytes"]:
            raise CheckpointError(f"{path} is missing or torn (not the size saved); {hint}")
    return manifest


def load_memory(memory: ReplayMemory, path: Path) -> dict[str, Any]:
    """Restores a memory saved by ``save_memory`` into a folder (or an earlier format's
    ``.npz`` file) into either kind of memory, without reading pickles; returns its metadata."""
    path = Path(path)
    if path.is_file():
        return _load_whole_npz(memory, path)
    manifest = check_loadable(memory, path)
    try:
        stored = np.load(io.BytesIO(_read_checked(path, manifest["bookkeeping"])), allow_pickle=False)
        for name in BOOKKEEPING_ARRAYS:
            getattr(memory, name)[...] = stored[name]
        if memory.prioritized:
            memory.restore_priority_leaves(stored["priorities"])
        for key, record in manifest["chunks"].items():
            stream, chunk = (int(part) for part in key.split("/"))
            target = memory.frames[stream, _chunk_rows(memory, manifest["chunk_slots"], chunk)]
            raw = zlib.decompress(_read_checked(path, record))
            target.copy_(torch.frombuffer(bytearray(raw), dtype=memory.frames.dtype).view(target.shape))
    except (OSError, ValueError, KeyError, zlib.error) as error:
        raise CheckpointError(
            f"{path} is not a readable replay memory ({type(error).__name__}); "
            "resume without --save-replay to start with an empty one"
        ) from error
    memory.restore_rng_states(manifest["rng"])
    memory.max_priority = float(manifest["max_priority"])
    memory.after_load()
    memory.save_mark = SaveMark(
        str(path.resolve()), int(manifest["save_number"]), tuple(int(n) for n in memory.frames_written)
    )
    return dict(manifest["metadata"])


def _load_whole_npz(memory: ReplayMemory, path: Path) -> dict[str, Any]:
    """The earlier format: one compressed ``.npz`` of the whole memory, as either kind saved it
    (the host's sum tree or the device's per-slot priorities; a NumPy or a torch random state)."""
    try:
        with np.load(path, allow_pickle=False) as saved:
            if tuple(saved["frames"].shape) != tuple(memory.frames.shape):
                raise CheckpointError(
                    f"{path} holds a replay memory of shape {tuple(saved['frames'].shape)}, "
                    f"this run's is {tuple(memory.frames.shape)}"
                )
            info = json.loads(str(saved["metadata"]))
            memory.frames.copy_(torch.from_numpy(saved["frames"]))
            for name in BOOKKEEPING_ARRAYS:
                getattr(memory, name)[...] = saved[name]
            if memory.prioritized and "priority_tree" in saved:
                tree = saved["priority_tree"]
                memory.restore_priority_leaves(tree[tree.shape[0] // 2 :][: memory.capacity])
            elif memory.prioritized and "device_priorities" in saved:
                memory.restore_priority_leaves(saved["device_priorities"])
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise CheckpointError(
            f"{path} is not a readable replay memory ({type(error).__name__}); "
            "resume without --save-replay to start with an empty one"
        ) from error
    rng = info.pop("rng_state")
    memory.restore_rng_states({"device": rng} if isinstance(rng, list) else {"host": rng})
    memory.max_priority = float(info.pop("max_priority"))
    memory.after_load()
    return info
