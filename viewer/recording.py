"""MP4 and GIF recorders.

Both write to ``NAME.partial.mp4`` (or ``.gif``) beside the target and rename it into place only once the
file is complete, so an interrupted recording leaves a playable file (the MP4 is finalised
on Ctrl-C) or none, never a broken file under the asked-for name.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

VIDEO_SUFFIXES = {".mp4": "MP4 (H.264)", ".gif": "GIF"}


class RecordingError(Exception):
    """A recording cannot be made; the message says what to do."""


def check_output_path(path: Path, suffix: str) -> Path:
    """Fails early (before any play) when the path has the wrong format or cannot be written."""
    path = Path(path)
    if path.suffix.lower() != suffix:
        raise RecordingError(
            f"{path}: unknown video format {path.suffix or '(none)'!r} for this option; "
            f"give a file ending in {suffix} ({VIDEO_SUFFIXES[suffix]})"
        )
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        probe = path.with_name(f".{path.name}.write-test")
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise RecordingError(f"cannot write {path}: {error.strerror or error}; choose another output path") from None
    return path


def partial_path(path: Path) -> Path:
    """Where a recording is written until it is complete (the suffix tells imageio the format)."""
    return path.with_name(f"{path.stem}.partial{path.suffix}")


def scale_frame(frame: np.ndarray, scale: int) -> np.ndarray:
    """Nearest-neighbour upscaling (crisp pixels)."""
    if scale == 1:
        return frame
    return frame.repeat(scale, axis=0).repeat(scale, axis=1)


def even_size(frame: np.ndarray) -> np.ndarray:
    """H.264 with yuv420p needs even width and height: pad one black row/column if needed."""
    height, width = frame.shape[:2]
    if height % 2 == 0 and width % 2 == 0:
        return frame
    return np.pad(frame, ((0, height % 2), (0, width % 2), (0, 0)))


class Mp4Recorder:
    """H.264 MP4 through imageio's ffmpeg plugin (the ffmpeg binary comes with imageio-ffmpeg)."""

    def __init__(self, path: Path, frames_per_second: float, scale: int = 1) -> None:
        import imageio.v2 as imageio

        self.path = Path(path)
        self.partial = partial_path(self.path)
        self.scale = scale
        self.frames_written = 0
        self._writer = imageio.get_writer(
            self.partial,
            format="FFMPEG",
            fps=frames_per_second,
            codec="libx264",
            pixelformat="yuv420p",
            macro_block_size=1,
            quality=8,
            ffmpeg_log_level="error",
        )

    def add(self, frame: np.ndarray) -> None:
        self._writer.append_data(even_size(scale_frame(frame, self.scale)))
        self.frames_written += 1

    def close(self) -> Path | None:
        """Finalises the file; returns its path, or ``None`` when nothing playable was made."""
        try:
            self._writer.close()
        except Exception:  # noqa: BLE001 -- whatever the encoder raised, no half-written file is left
            self.partial.unlink(missing_ok=True)
            return None
        if self.frames_written == 0:
            self.partial.unlink(missing_ok=True)
            return None
        os.replace(self.partial, self.path)
        return self.path


class GifRecorder:
    """An animated GIF kept small: every ``frame_step``-th frame, scaled, at most ``max_seconds``."""

    def __init__(
        self, path: Path, frames_per_second: float, *, frame_step: int = 2, scale: int = 1, max_seconds: float = 30.0
    ) -> None:
        if frame_step < 1 or scale < 1 or max_seconds <= 0:
            raise RecordingError("--gif-every and --gif-scale must be at least 1 and --gif-seconds positive")
        self.path = Path(path)
        self.frame_step = frame_step
        self.scale = scale
        self.frame_seconds = frame_step / frames_per_second
        self.max_frames = max(1, int(max_seconds / self.frame_seconds))
        self.frames: list[np.ndarray] = []
        self._seen = 0

    @property
    def full(self) -> bool:
        return len(self.frames) >= self.max_frames

    def add(self, frame: np.ndarray) -> None:
        if self._seen % self.frame_step == 0 and not self.full:
            self.frames.append(scale_frame(frame, self.scale))
        self._seen += 1

    def close(self) -> Path | None:
        if not self.frames:
            return None
        import imageio.v3 as iio

        partial = partial_path(self.path)
        try:
            iio.imwrite(
                partial, np.stack(self.frames), extension=".gif", duration=round(self.frame_seconds * 1000), loop=0
            )
            os.replace(partial, self.path)
        finally:
            partial.unlink(missing_ok=True)
        return self.path
