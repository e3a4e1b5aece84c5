"""Every repository path a tracked Markdown file names exists.

A path is named in an inline code span, a fenced code block or a Markdown link. A code token counts as a path
when it starts with one of the repository's top-level entries (``src/``, ``tests/``, ``benchmarks/``,
``config/``, ``Snakefile``, ``params.yaml``, ...); a link's target counts when it is not a URL or an anchor, and
is resolved from the Markdown file's own folder. Skipped: generated outputs (``results/``, ``data/``,
``.venv/``), globs and placeholders (``*``, ``<``, ``{``) and elisions (``...``). A campaign's outputs under a
nested ``results/`` folder (``benchmarks/findings/results/comparison.md``) are committed as the campaign runs, so
for those only the campaign's folder must exist. A link into a Markdown file with an ``#anchor`` must also name
one of that file's headings (GitHub's slugs).
"""

from __future__ import annotations

import posixpath
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GENERATED = ("results", "data", ".venv")
PLACEHOLDER_CHARACTERS = ("*", "<", "{", "...")

FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
INLINE_CODE = re.compile(r"(`+)(.+?)\1", re.DOTALL)
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\]]*\])*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
STRIP = "`'\",.;:()[]"


def _git_files() -> list[str]:
    try:
        out = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
    except (OSError, subprocess.CalledProcessError):
        pytest.skip("not a git checkout: the tracked Markdown files are unknown")
    return [name for name in out.decode().split("\0") if name]


@pytest.fixture(scope="module")
def tracked() -> dict:
    files = _git_files()
    present = {name for name in files if (ROOT / name).exists()}
    folders = {str(parent) for name in present for parent in Path(name).parents if str(parent) != "."}
    top_level = {name.split("/", 1)[0] for name in files}
    markdown = sorted(name for name in present if name.endswith(".md"))
    return {"paths": present | folders, "top_level": top_level, "markdown": markdown}


def _code_tokens(text: str):
    """Whitespace-separated tokens of fenced blocks and inline code spans, with the rest of the text."""
    for block in FENCE.finditer(text):
        yield from block.group(0).split()
    for span in INLINE_CODE.finditer(FENCE.sub("", text)):
        yield from span.group(2).split()


def _candidate(token: str) -> str:
    token = token.strip(STRIP)
    if "=" in token:                                 # params_file=config/smoke.yaml, --params=...
        token = token.rsplit("=", 1)[1].strip(STRIP)
    return token.split("#", 1)[0].split("::", 1)[0]  # a file's anchor or a test's node id


def _is_skipped(path: str) -> bool:
    if any(mark in path for mark in PLACEHOLDER_CHARACTERS):
        return True
    first = path.lstrip("./").split("/", 1)[0]
    return first in GENERATED


def named_paths(markdown: str, text: str, top_level: set[str]):
    """(path relative to the repository root, as written) for every repository path ``markdown`` names."""
    for token in _code_tokens(text):
        path = _candidate(token)
        if not path or _is_skipped(path):
            continue
        first = path.split("/", 1)[0]
        if first in top_level and (path == first or path.startswith(first + "/")):
            yield path.rstrip("/"), token
    here = posixpath.dirname(markdown)
    for link in LINK.finditer(FENCE.sub("", text)):
        target = link.group(1)
        if re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE) or target.startswith("#"):
            continue                                 # URLs, mailto:, and anchors in the same file
        path = target.split("#", 1)[0].split("?", 1)[0]
        if not path or _is_skipped(path):
            continue
        yield posixpath.normpath(posixpath.join(here, path)), target


def github_slugs(text: str) -> set[str]:
    """The anchors GitHub gives a Markdown file's headings."""
    slugs: set[str] = set()
    seen: dict[str, int] = {}
    for line in FENCE.sub("", text).splitlines():
        heading = re.match(r"^#{1,6}\s+(.*?)\s*#*\s*$", line)
        if not heading:
            continue
        title = re.sub(r"`|\*\*|__", "", heading.group(1))
        title = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", title)
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        slugs.add(slug if count == 0 else f"{slug}-{count}")
    return slugs


def exists(path: str, paths: set[str]) -> bool:
    """Tracked, or a generated output under a nested results/ folder of a producer that is tracked."""
    if path in paths:
        return True
    parts = path.split("/")
    if "results" in parts[1:]:
        return "/".join(parts[:parts.index("results", 1)]) in paths
    return False


def test_markdown_names_only_existing_paths(tracked):
    missing = []
    for markdown in tracked["markdown"]:
        text = (ROOT / markdown).read_text(encoding="utf-8")
        for path, written in named_paths(markdown, text, tracked["top_level"]):
            if not exists(path, tracked["paths"]):
                missing.append(f"{markdown}: {path}" + (f"  (written `{written}`)" if written != path else ""))
    assert not missing, ("Markdown files name repository paths that do not exist (or are not tracked):\n"
                         + "\n".join(sorted(set(missing))))


def test_markdown_links_to_existing_headings(tracked):
    broken = []
    slugs_of: dict[str, set[str]] = {}
    for markdown in tracked["markdown"]:
        text = (ROOT / markdown).read_text(encoding="utf-8")
        for link in LINK.finditer(FENCE.sub("", text)):
            target = link.group(1)
            if "#" not in target or re.match(r"^[a-z][a-z0-9+.-]*:", target, re.IGNORECASE):
                continue
            path, anchor = target.split("#", 1)
            into = posixpath.normpath(posixpath.join(posixpath.dirname(markdown), path)) if path else markdown
            file = ROOT / into
            if not file.is_file() or file.suffix != ".md":
                continue
            key = str(file)
            if key not in slugs_of:
                slugs_of[key] = github_slugs(file.read_text(encoding="utf-8"))
            if anchor not in slugs_of[key]:
                broken.append(f"{markdown}: {target}")
    assert not broken, "Markdown links to headings that do not exist:\n" + "\n".join(sorted(set(broken)))


def test_the_checker_finds_paths_it_should():
    text = "\n".join([
        "Run `python benchmarks/bench_pipeline.py`, `params_file=config/smoke.yaml`, `src/privevo/`.",
        "Not `results/summary.md`, `data/prepared/<key>/x.npz`, `config/*.yaml`, `privevo.core`, `core/`.",
        "See [the settings](docs/settings.md#privacy) and ![a figure](figures/synthetic.png), not [a site](https://x.org).",
        "```bash", "snakemake --cores all --config params_file=config/compare.yaml", "```",
    ])
    top = {"benchmarks", "config", "src", "docs", "results", "data"}
    found = {path for path, _ in named_paths("docs/guide.md", text, top)}
    assert found == {"benchmarks/bench_pipeline.py", "config/smoke.yaml", "src/privevo", "docs/docs/settings.md",
                     "docs/figures/synthetic.png", "config/compare.yaml"}
    paths = {"benchmarks", "benchmarks/findings", "benchmarks/ablation", "benchmarks/ablation/results",
             "benchmarks/ablation/results/ablation.md"}
    assert exists("benchmarks/findings/results/comparison.md", paths)
    assert exists("benchmarks/ablation/results/ablation.md", paths)
    assert not exists("benchmarks/finding/results/comparison.md", paths)
    assert not exists("benchmarks/ablation/results.md", paths)
    assert github_slugs("# A `title`: here\n## Issue 11's ablation (validation split)\n## A `title`: here") == {
        "a-title-here", "issue-11s-ablation-validation-split", "a-title-here-1"}
