"""Clear Snakemake's lock when the run that held it is gone (kill -9, power loss), so that the README's
command alone resumes. A live Snakemake process in this directory keeps its lock.

    python workflow/scripts/unlock_if_stale.py [snakemake options, e.g. --config params_file=...]
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def snakemake_running_in(directory: Path) -> list[int]:
    """PIDs of Snakemake processes (other than this one) whose working directory is ``directory``."""
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        if int(proc.name) == os.getpid():
            continue
        try:
            argv = (proc / "cmdline").read_bytes().split(b"\0")[:3]
            cwd = Path(os.readlink(proc / "cwd")).resolve()
        except OSError:
            continue
        names = {Path(arg.decode(errors="replace")).name for arg in argv}
        if "snakemake" in names and cwd == directory:
            found.append(int(proc.name))
    return found


def main(options: list[str]) -> int:
    here = Path.cwd().resolve()
    locks = here / ".snakemake" / "locks"
    if not locks.is_dir() or not any(locks.iterdir()):
        return 0
    running = snakemake_running_in(here)
    if running:
        print(f"Snakemake is running here (pid {', '.join(map(str, running))}); leaving its lock", file=sys.stderr)
        return 0
    print("clearing the lock of an interrupted Snakemake run (no Snakemake process is alive here)", file=sys.stderr)
    return subprocess.run([sys.executable, "-m", "snakemake", "--unlock", *options], check=False,
                          stdout=subprocess.DEVNULL).returncode


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
