"""The examples in README.md and docs/*.md run verbatim.

Rules of the extractor (keep them this simple; write docs to them):

- A fenced block tagged ```bash (or ```sh) is a shell example; ```python is a Python example. They run, in
  page order, in one fresh temporary folder per page (so a later block can use an earlier block's files).
  Untagged fences and indented blocks are text (synopses, file layouts, output) and never run.
- `<!-- no-run: REASON -->` on the line right before a fence skips that block (REASON is required: real
  hardware, a flashing tool, an interactive window, ...).
- `<!-- timeout: SECONDS -->` right before a fence bounds that block (default 60 s); a block over its bound
  fails. Keep examples short: `--duration 2`, `--episodes 2`.
- `<!-- file: NAME -->` right before a fence (any tag, e.g. ```yaml) writes the block's text to NAME in the
  page's folder instead of running it: the config files the next examples pass on the command line.
- Several comments may stand on consecutive lines before one fence.

How they run: shell blocks with `bash -e -o pipefail`, Python blocks with the project's interpreter. The
folder has `.venv` linked to the project's, `.venv/bin` first on PATH (as after the README's activation step),
HOME is the folder (so `~/data/...` stays inside it), QT_QPA_PLATFORM=offscreen, no DISPLAY. A line ending in
`&` starts a background job: it is stopped when the block ends. Each block's output is shown on failure.

Pages with examples run in the default suite when they take a few seconds; the rest are marked slow here.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO

PAGES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SLOW_PAGES = {
    "README.md",
    "simulation.md",
    "recording.md",
    "replay-validate-export.md",
    "episode-format.md",
    "calibration.md",
    "sync-qa.md",
    "pose.md",
    "scale.md",
    "visual-bridge.md",
    "api.md",
}
SHELL, PYTHON = ("bash", "sh"), ("python",)
DEFAULT_TIMEOUT = 60.0
_COMMENT = re.compile(r"^<!--\s*(no-run|timeout|file)\s*:\s*(.*?)\s*-->\s*$")


@dataclass
class Block:
    page: Path
    line: int  # of the opening fence, 1-based
    lang: str
    text: str
    skip: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    file: str | None = None

    @property
    def where(self) -> str:
        return f"{self.page.relative_to(REPO)}:{self.line}"


def extract(page: Path) -> list[Block]:
    """Every fenced block of a page with the comments right before it."""
    lines = page.read_text(encoding="utf-8").split("\n")
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        m = re.match(r"^```(\S*)\s*$", lines[i])
        if not m:
            i += 1
            continue
        j = i + 1
        while j < len(lines) and not lines[j].startswith("```"):
            j += 1
        b = Block(page, i + 1, m.group(1).lower(), "\n".join(lines[i + 1 : j]) + "\n")
        k = i - 1
        while k >= 0 and (c := _COMMENT.match(lines[k].strip())):
            key, value = c.group(1), c.group(2)
            if key == "no-run":
                assert value, f"{page.name}:{k + 1}: no-run needs a reason"
                b.skip = value
            elif key == "timeout":
                b.timeout = float(value)
            else:
                b.file = value
            k -= 1
        blocks.append(b)
        i = j + 1
    return blocks


def runnable(page: Path) -> list[Block]:
    return [b for b in extract(page) if b.skip is None and (b.file or b.lang in SHELL + PYTHON)]


def _env(folder: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "VIRTUAL_ENV")}
    venv_bin = Path(sys.executable).parent
    env.update(
        HOME=str(folder),
        QT_QPA_PLATFORM="offscreen",
        PATH=f"{folder / '.venv' / 'bin'}:{venv_bin}:{env.get('PATH', '')}",
        PYTHONPATH=str(REPO),
        MPLBACKEND="Agg",
    )
    return env


def run_block(b: Block, folder: Path) -> None:
    if b.file:
        target = folder / b.file
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(b.text, encoding="utf-8")
        return
    if b.lang in SHELL:
        argv = ["bash", "-e", "-o", "pipefail", "-c", b.text + "\nkill $(jobs -p) 2>/dev/null || true\nwait || true\n"]
    else:
        argv = [sys.executable, "-c", b.text]
    p = subprocess.Popen(
        argv,
        cwd=folder,
        env=_env(folder),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        out, _ = p.communicate(timeout=b.timeout)
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        out, _ = p.communicate()
        pytest.fail(
            f"{b.where}: still running after {b.timeout:g} s (add `<!-- timeout: S -->` or shorten it)\n{out[-3000:]}"
        )
    finally:
        try:
            os.killpg(p.pid, signal.SIGKILL)  # whatever the block left behind
        except ProcessLookupError:
            pass
    assert p.returncode == 0, f"{b.where}: exit {p.returncode}\n--- block:\n{b.text}--- output:\n{out[-3000:]}"


def _pages():
    out = []
    for page in PAGES:
        if not runnable(page):
            continue
        marks = [pytest.mark.slow] if page.name in SLOW_PAGES else []
        out.append(pytest.param(page, id=page.name, marks=marks))
    return out


@pytest.mark.parametrize("page", _pages())
def test_page_examples_run_verbatim(page, tmp_path):
    (tmp_path / ".venv").symlink_to(Path(sys.executable).parent.parent)
    for b in runnable(page):
        run_block(b, tmp_path)


def test_every_shell_and_python_block_is_run_or_says_why_not():
    """A tagged example is either run or carries a `no-run` reason; untagged fences hold no `dexumi` command
    lines that look like examples (they would escape the test)."""
    loose = []
    for page in PAGES:
        for b in extract(page):
            if (
                b.lang == ""
                and re.search(r"^(\$ )?(dexumi|\.venv/bin/dexumi) [a-z-]+ [^\[]*$", b.text, re.M)
                and "[" not in b.text.split("\n")[0]
            ):
                loose.append(b.where)
    assert not loose, f"untagged blocks with runnable-looking commands (tag them bash, or no-run): {loose}"


def test_extractor_rules(tmp_path):
    page = tmp_path / "p.md"
    page.write_text(
        "text\n<!-- no-run: needs a board -->\n```bash\nexit 1\n```\n<!-- timeout: 5 -->\n```python\n"
        "print(1)\n```\n<!-- file: c.yaml -->\n```yaml\na: 1\n```\n```\nnot run\n```\n"
    )
    blocks = extract(page)
    assert [b.lang for b in blocks] == ["bash", "python", "yaml", ""]
    assert blocks[0].skip == "needs a board" and blocks[1].timeout == 5 and blocks[2].file == "c.yaml"
    assert [b.lang for b in runnable(page)] == ["python", "yaml"]
