"""Atomic reads and writes of the open-format artifacts (npz images, npy, JSON, CSV)."""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from privevo.io.images import ArtifactError, check_images, check_labels


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it onto ``path`` only on success.

    A crash mid-write leaves the old file (or nothing) in place, never a half-written one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=suffix or path.suffix)
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the artifact the permissions a plain open() would.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp_path, 0o666 & ~umask)
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def save_images(path: str | os.PathLike, images: np.ndarray, labels: np.ndarray | None = None, **extra: np.ndarray) -> None:
    """Write uint8 NHWC ``images`` (and int64 ``labels``) to a compressed ``.npz``, atomically."""
    check_images(images, name=str(path))
    arrays = {"images": images}
    if labels is not None:
        labels = np.asarray(labels, dtype=np.int64)
        if labels.shape != (images.shape[0],):
            raise ArtifactError(f"{path}: {labels.shape[0]} labels for {images.shape[0]} images")
        arrays["labels"] = labels
    arrays.update({k: np.asarray(v) for k, v in extra.items()})
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **arrays)


def load_images(path: str | os.PathLike, *, num_classes: int | None = None
                ) -> tuple[np.ndarray, np.ndarray | None]:
    """Read ``(images, labels)`` written by :func:`save_images` (labels may be ``None``).

    Labels are checked against ``num_classes`` where given (None: any non-negative integer; the class count
    comes from the data, never from code).
    """
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path} does not exist")
    try:
        with np.load(path, allow_pickle=False) as data:
            if "images" not in data.files:
                raise ArtifactError(f"{path}: no 'images' array (found {', '.join(data.files) or 'nothing'})")
            images = check_images(data["images"], name=str(path))
            labels = data["labels"] if "labels" in data.files else None
    except ArtifactError:
        raise
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise ArtifactError(f"{path}: not a readable .npz of images ({exc})") from exc
    if labels is not None:
        labels = check_labels(labels, num_images=len(images), num_classes=num_classes, name=str(path))
    return images, labels


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as data:
        return {k: data[k] for k in data.files}


def save_npz(path: str | os.PathLike, **arrays: np.ndarray) -> None:
    with atomic_path(path, suffix=".npz") as tmp:
        np.savez_compressed(tmp, **{k: np.asarray(v) for k, v in arrays.items()})


def save_npy(path: str | os.PathLike, array: np.ndarray) -> None:
    with atomic_path(path, suffix=".npy") as tmp:
        np.save(tmp, np.asarray(array), allow_pickle=False)


def load_npy(path: str | os.PathLike) -> np.ndarray:
    return np.load(path, allow_pickle=False)


def save_json(path: str | os.PathLike, obj: Any) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(json.dumps(obj, indent=2, sort_keys=False, default=_json_default) + "\n")


def load_json(path: str | os.PathLike) -> Any:
    return json.loads(Path(path).read_text())


def save_text(path: str | os.PathLike, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text)


def save_csv(path: str | os.PathLike, frame) -> None:
    """Write a pandas DataFrame as CSV, atomically."""
    with atomic_path(path, suffix=".csv") as tmp:
        frame.to_csv(tmp, index=False)


def _json_default(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, Path):
        return str(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
