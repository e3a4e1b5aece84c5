"""The privacy odometer's store: an append-only, fsynced, locked JSON-lines file of every charge on one private data set.

One file per private data source, named by the source's resolved path (public), never by its bytes. Each line is
one record: a charge (``"type": "charge"``), written and fsynced before the noise it pays for is drawn, or the
completion of a charge (``"type": "complete"``, naming it), written once the draw reached disk. A charge without its
completion is a draw that was paid for and killed before it was stored: the same draw may then be made again under
that charge (over-counting is safe; under-counting is not). Nothing is ever rewritten or removed.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import time
import uuid
from pathlib import Path
from typing import Iterator

FORMAT = 1


class OdometerError(RuntimeError):
    """The odometer's file cannot be read as written (a torn or foreign line); the message names the file."""


def odometer_file(store_dir: str | os.PathLike, source: str) -> Path:
    """The odometer of ``source`` (e.g. ``image_folder:/abs/path``): a readable slug and a hash of the source string."""
    slug = re.sub(r"[^A-Za-z0-9]+", "-", source)[-60:].strip("-") or "source"
    return Path(store_dir) / f"{slug}-{hashlib.sha256(source.encode()).hexdigest()[:12]}.jsonl"


class Odometer:
    """The charges of one private data source, in the order they were made."""

    def __init__(self, path: str | os.PathLike, *, source: str):
        self.path = Path(path)
        self.source = source

    @classmethod
    def of(cls, store_dir: str | os.PathLike, source: str) -> "Odometer":
        return cls(odometer_file(store_dir, source), source=source)

    def records(self) -> list[dict]:
        """Every line, in order; a missing file holds none."""
        if not self.path.exists():
            return []
        records = []
        with open(self.path, encoding="utf-8") as handle:
            for number, line in enumerate(handle, 1):
                if not line.strip():
                    continue
                try:
                    records.append(json.loads(line))
                except json.JSONDecodeError:
                    raise OdometerError(f"{self.path}: line {number} is not a complete record; the odometer is "
                                        "append-only, so repair it by hand only by removing a torn last line") from None
        return records

    def charges(self) -> list[dict]:
        """Every charge, each with ``completed`` (whether its draw reached disk)."""
        records = self.records()
        completed = {r["charge"] for r in records if r.get("type") == "complete"}
        return [{**r, "completed": r["id"] in completed} for r in records if r.get("type") == "charge"]

    @contextlib.contextmanager
    def locked(self) -> Iterator["Odometer"]:
        """An exclusive lock on this odometer across processes (two workflows side by side charge one at a time)."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_suffix(".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield self
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def _append(self, record: dict) -> None:
        """One line, written in one call, flushed and fsynced (and the folder too when the file is new)."""
        line = (json.dumps(record, sort_keys=True) + "\n").encode()
        new = not self.path.exists()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            os.write(fd, line)
            os.fsync(fd)
        finally:
            os.close(fd)
        if new:
            directory = os.open(self.path.parent, os.O_RDONLY)
            try:
                os.fsync(directory)
            finally:
                os.close(directory)

    def charge(self, entry: dict) -> dict:
        """Append a charge (call under :meth:`locked`); returns it with its ``id``, ``time`` and ``source``."""
        record = {"type": "charge", "format": FORMAT, "id": uuid.uuid4().hex[:16], "source": self.source,
                  "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **entry}
        self._append(record)
        return record

    def complete(self, charge_id: str, **facts) -> None:
        """Append the completion of ``charge_id``: its draw is on disk (``facts``: e.g. the draw's file)."""
        self._append({"type": "complete", "format": FORMAT, "charge": charge_id,
                      "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **facts})
