"""The docs check (issue 22): the Markdown says what the code does, and stays navigable.

- every relative link in README.md and in the packages' Markdown files reaches a file, and
  every ``#anchor`` one of the target's headings (as GitHub makes them);
- the examples marked runnable run (a fenced block whose info string is ``python runnable`` or
  ``sh runnable``), each in a fresh process in an empty directory;
- README's test command is the one ``.ci/run`` runs;
- every generated block names a command that exists, and rewriting the blocks from a fake
  result is idempotent and touches nothing outside them;
- the frames posixbackend/ARCHITECTURE.md lists are on the path of the calls it follows, and
  the files and objects the docs name exist.

(The layering rule the docs state is tests/test_import_graph.py's and tests/compat/test_api.py's.)
"""

from __future__ import annotations

import importlib
import inspect
import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from benchmarks import docblocks, runner
from benchmarks.harness import Outcome, Row, Spread, Target

ROOT = Path(__file__).resolve().parent.parent
DOC_DIRS = ("posixbackend", "vfs", "compat", "tests", "benchmarks")
FENCE = re.compile(r"^(```+|~~~+)(.*)$")
LINK = re.compile(r"(?<!!)\[(?:[^\]\[]|\[[^\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")
INLINE_CODE = re.compile(r"`+[^`]*`+")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def markdown_files() -> list[Path]:
    found = [ROOT / "README.md"]
    for top in DOC_DIRS:
        for path in sorted((ROOT / top).rglob("*.md")):
            if not any(part.startswith(".") or part == "__pycache__" for part in path.parts):
                found.append(path)
    return found


def relative(path: Path) -> str:
    return str(path.relative_to(ROOT))


def prose_lines(text: str) -> Iterator[tuple[int, str]]:
    """The lines outside fenced code blocks, numbered from 1."""
    fence = None
    for number, line in enumerate(text.splitlines(), 1):
        match = FENCE.match(line)
        if match and (fence is None or match[1].startswith(fence)):
            fence = match[1][:3] if fence is None else None
            continue
        if fence is None and not line.startswith("    "):  # an indented block is code too
            yield number, line


def fenced_blocks(text: str) -> Iterator[tuple[str, str]]:
    """(info string, body) of each fenced code block."""
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = FENCE.match(lines[index])
        if match is None:
            index += 1
            continue
        body = []
        index += 1
        while index < len(lines) and not lines[index].startswith(match[1]):
            body.append(lines[index])
            index += 1
        yield match[2].strip(), "\n".join(body) + "\n"
        index += 1


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, inline markup and punctuation dropped
    (hyphens and underscores kept), spaces made hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading)  # a link's text
    text = text.replace("`", "").lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def anchors(path: Path) -> set[str]:
    seen: dict[str, int] = {}
    found = set()
    for _, line in prose_lines(path.read_text(encoding="utf-8")):
        match = HEADING.match(line)
        if match is None:
            continue
        base = slug(match[2])
        count = seen.get(base, 0)
        seen[base] = count + 1
        found.add(base if not count else f"{base}-{count}")
    return found


def links(path: Path) -> Iterator[tuple[int, str]]:
    for number, line in prose_lines(path.read_text(encoding="utf-8")):
        for match in LINK.finditer(INLINE_CODE.sub("``", line)):
            yield number, match[1]


# -- links -------------------------------------------------------------------------------------


def test_the_docs_are_found() -> None:
    names = {relative(path) for path in markdown_files()}
    assert {
        "README.md", "posixbackend/README.md", "posixbackend/ARCHITECTURE.md",
        "posixbackend/permissions/README.md", "posixbackend/isolation/README.md",
        "posixbackend/testing/README.md", "vfs/README.md", "compat/README.md",
        "tests/README.md", "benchmarks/README.md",
    } <= names  # fmt: skip


@pytest.mark.parametrize("path", markdown_files(), ids=relative)
def test_every_link_resolves(path: Path) -> None:
    broken = []
    for number, target in links(path):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto:...: not ours to check
            continue
        file_part, _, anchor = target.partition("#")
        destination = (path.parent / file_part).resolve() if file_part else path
        if not destination.exists():
            broken.append(f"{relative(path)}:{number}: {target}: no such file")
        elif anchor and destination.suffix == ".md" and anchor not in anchors(destination):
            broken.append(f"{relative(path)}:{number}: {target}: no such heading")
    assert not broken, "\n".join(broken)


def test_the_link_checker_sees_a_broken_link(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "# A `title`: here\n\n[ok](#a-title-here) [bad](#nowhere) `[code](missing.md)`\n"
        "[gone](missing.md)\n\n```\n[in a fence](missing.md)\n```\n",
        encoding="utf-8",
    )
    assert anchors(page) == {"a-title-here"}
    assert [target for _, target in links(page)] == ["#a-title-here", "#nowhere", "missing.md"]


# -- names of files and objects ----------------------------------------------------------------

REPO_FILE = re.compile(r"`((?:[\w.-]+/)+[\w.-]+\.(?:py|pyi|c|h|md|toml|json))`")
OUR_NAME = re.compile(r"(?<!gap )`((?:posixbackend|vfs|compat)(?:\.[A-Za-z_][\w<>]*)+)")
"""A dotted name of ours in backticks; one after the word "gap" is a compat gap's id."""


@pytest.mark.parametrize("path", markdown_files(), ids=relative)
def test_every_repository_file_named_exists(path: Path) -> None:
    named = set(REPO_FILE.findall(path.read_text("utf-8")))
    missing = sorted(name for name in named if not (ROOT / name).exists())
    assert not missing, f"{relative(path)} names files that do not exist: {missing}"


def resolves(dotted: str) -> bool:
    """Whether ``dotted`` is a module of ours, or an object reached from one by attributes."""
    parts = dotted.split(".")
    for cut in range(len(parts), 0, -1):
        try:
            found: object = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        for name in parts[cut:]:
            if name == "<locals>":  # a nested function: its outer one must exist
                return True
            try:
                # a module's names may be imported on first use (PEP 562 __getattr__)
                lookup = getattr if inspect.ismodule(found) else inspect.getattr_static
                found = lookup(found, name)
            except AttributeError:
                return False
        return True
    return False


def test_every_object_the_architecture_page_names_exists() -> None:
    text = (ROOT / "posixbackend" / "ARCHITECTURE.md").read_text("utf-8")
    names = set(OUR_NAME.findall(text)) | {
        name for info, body in fenced_blocks(text) if info.startswith("text trace:")
        for name in body.split()
    }  # fmt: skip
    assert len(names) > 40
    missing = sorted(name for name in names if not resolves(name))
    assert not missing, f"ARCHITECTURE.md names what does not exist: {missing}"


# -- runnable examples -------------------------------------------------------------------------


def runnable_examples() -> list[tuple[str, str, str]]:
    found = []
    for path in markdown_files():
        for info, body in fenced_blocks(path.read_text(encoding="utf-8")):
            words = info.split()
            if "runnable" in words[1:]:
                found.append((relative(path), words[0], body))
    return found


def test_readme_has_runnable_examples_of_each_way_in() -> None:
    kinds = [(language, body) for name, language, body in runnable_examples()
             if name == "README.md"]  # fmt: skip
    assert any(lang == "python" and "with backend(" in body for lang, body in kinds)
    assert any(lang == "python" and "run_isolated(" in body for lang, body in kinds)
    assert any(lang == "sh" and "-m posixbackend" in body for lang, body in kinds)


@pytest.mark.parametrize(
    ("name", "language", "body"),
    runnable_examples(),
    ids=[f"{name}-{index}" for index, (name, _, _) in enumerate(runnable_examples())],
)
def test_runnable_example_runs(name: str, language: str, body: str, tmp_path: Path) -> None:
    environment = {**os.environ, "PYTHONPATH": str(ROOT)}
    environment.pop("POSIXBACKEND_OPTIONS", None)
    if language == "python":
        commands = [[sys.executable, "-c", body]]
    else:
        assert language == "sh", f"{name}: runnable blocks are python or sh"
        commands = []
        for line in body.splitlines():
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            argv = shlex.split(line, comments=True)
            assert argv[0] == "python", f"{name}: a runnable sh line starts with python: {line}"
            commands.append([sys.executable, *argv[1:]])
    for argv in commands:
        done = subprocess.run(
            argv, cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=60,
            check=False,
        )  # fmt: skip
        assert done.returncode == 0, f"{name}: {argv[1:]}\n{done.stdout}\n{done.stderr}"
    assert not list(tmp_path.iterdir()), "a managed example changed the real directory"


def test_readme_test_command_is_the_one_ci_runs() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    commands = [body.strip() for info, body in fenced_blocks(readme) if info == "sh"]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    run = ci[ci.index("# README: tests") + 1]
    assert f"python3 -m venv .venv && . .venv/bin/activate && {run}" in commands


# -- generated blocks --------------------------------------------------------------------------


def fake_results() -> docblocks.Results:
    spread = Spread(1.5, 1.25, 2.0, 1.25, 1.75)
    rows = [
        Row(group, "os.stat | fake", "ns", {"native": Spread(10, 9, 11, 9, 11), "managed": spread},
            {"managed": spread}, Target(1.0), missing={"pyfakefs": "n/a (not installed)"})
        for group in runner.GROUPS
    ]  # fmt: skip
    outcomes = {row.group: Outcome(row.group, [row], ["a note", f"the {row.group} process ran 3 s"])
                for row in rows}  # fmt: skip
    meta = {"python": "3.99.0", "cpus": 64, "kernel": "fake", "date": "2000-01-01T00:00:00",
            "settings": {"rounds": 5, "size_scale": 1.0}}  # fmt: skip
    counts = {"run": 10, "passed": 8, "failed": 1, "errors": 0, "skipped": 1}
    conformance = {
        "runs": [{"module": "test_fake", "mode": mode, "counts": counts}
                 for mode in ("native", "host", "memory")],
        "comparisons": {mode: {"native_passing": 8, "java_passing": 7, "percent": 87.5,
                               "target_percent": 95.0, "target_met": False}
                        for mode in ("host", "memory")},
    }  # fmt: skip
    return docblocks.Results(outcomes, meta, conformance)


def generated_docs() -> list[Path]:
    return [path for path in markdown_files() if docblocks.blocks(path.read_text("utf-8"))]


def test_the_numbers_live_in_generated_blocks() -> None:
    names = {relative(path) for path in generated_docs()}
    assert {"benchmarks/README.md", "tests/README.md"} <= names
    commands = {block.command for path in generated_docs()
                for block in docblocks.blocks(path.read_text("utf-8"))}  # fmt: skip
    assert "python -m posixbackend.conformance" in commands
    assert {"python -m benchmarks ops", "python -m benchmarks scale"} <= commands


@pytest.mark.parametrize("path", markdown_files(), ids=relative)
def test_each_generated_block_names_a_command_that_exists(path: Path) -> None:
    docblocks.check(path.read_text("utf-8"), relative(path))


@pytest.mark.parametrize(
    "command",
    ["python -m benchmarks nosuchgroup", "python -m benchmarks ops --nosuchoption",
     "python -m posixbackend.conformance --fs", "python -m somethingelse", "make numbers"],
)  # fmt: skip
def test_an_unknown_command_is_refused(command: str) -> None:
    assert docblocks.command_problem(command) is not None
    text = f"a\n<!-- generated by: {command} -->\nold\n{docblocks.END}\n"
    with pytest.raises(docblocks.DocBlockError, match=r"page\.md"):
        docblocks.check(text, "page.md")


def outside(text: str, blocks: list[docblocks.Block]) -> list[str]:
    """The pieces of ``text`` around its blocks' bodies."""
    ends = [0, *(block.end for block in blocks)]
    starts = [*(block.start for block in blocks), len(text)]
    return [text[end:start] for end, start in zip(ends, starts, strict=True)]


@pytest.mark.parametrize("path", generated_docs(), ids=relative)
def test_rewriting_from_a_fake_result_is_idempotent(path: Path) -> None:
    text = path.read_text("utf-8")
    render = docblocks.renderer(fake_results())
    once = docblocks.rewrite(text, render)
    assert docblocks.rewrite(once, render) == once
    before, after = docblocks.blocks(text), docblocks.blocks(once)
    assert [block.command for block in before] == [block.command for block in after]
    assert outside(text, before) == outside(once, after)
    for block in after:
        body = block.body(once)
        assert "3.99.0" in body or "test_fake" in body, block.command
        assert "process ran" not in body


def test_rendered_tables() -> None:
    results = fake_results()
    table = docblocks.benchmark_table(results.benchmarks["ops"], results.benchmark_meta)
    assert "_Python 3.99.0, 64 CPUs, kernel fake, 5 rounds, sizes x1.0, taken 2000-01-01._" in table
    assert "| os.stat \\| fake | 10 ns [9 ns-11 ns] | 1.50x [1.25-2.00] | n/a (not installed) |" \
        in table  # fmt: skip
    assert "| <= 1x | not met |" in table and "- a note" in table
    conformance = docblocks.conformance_table(results.conformance or {})
    assert "| test_fake | 10 / 8 / 1 / 0 / 1 | 10 / 8 / 1 / 0 / 1 | 10 / 8 / 1 / 0 / 1 |" \
        in conformance  # fmt: skip
    assert "7 of the 8 tests that pass natively pass on java (87.5%; target 95%: NOT met)" \
        in conformance  # fmt: skip


def test_a_block_keeps_its_body_without_results() -> None:
    text = f"x\n<!-- generated by: python -m benchmarks ops -->\nkept\n{docblocks.END}\ny\n"
    assert docblocks.rewrite(text, docblocks.renderer(docblocks.Results())) == text


@pytest.mark.parametrize(
    "text",
    ["<!-- generated by: python -m benchmarks ops -->\nno end\n",
     f"<!-- generated by: python -m benchmarks ops -->\n<!-- generated by: python -m benchmarks "
     f"scale -->\n{docblocks.END}\n"],
)  # fmt: skip
def test_malformed_blocks_are_refused(text: str) -> None:
    with pytest.raises(docblocks.DocBlockError):
        docblocks.blocks(text)


def test_the_command_line_rewrites_files(tmp_path: Path) -> None:
    results = fake_results()
    saved = tmp_path / "results.json"
    saved.write_text(json.dumps({
        "meta": dict(results.benchmark_meta),
        "groups": {group: outcome.to_json() for group, outcome in results.benchmarks.items()},
    }))  # fmt: skip
    conformance = tmp_path / "conformance.json"
    conformance.write_text(json.dumps(results.conformance))
    page = tmp_path / "page.md"
    page.write_text(
        f"# t\n<!-- generated by: python -m benchmarks blocks -->\nold\n{docblocks.END}\n"
        f"<!-- generated by: python -m posixbackend.conformance -->\nold\n{docblocks.END}\n"
    )
    argv = ["--benchmarks", str(saved), "--conformance", str(conformance), str(page)]
    assert docblocks.main(argv) == 0
    text = page.read_text()
    assert "old" not in text and "3.99.0" in text and "test_fake" in text
    assert docblocks.main(argv) == 0
    assert page.read_text() == text
    assert docblocks.main(["--check", str(page)]) == 0


def test_the_runner_refuses_bad_docs_before_measuring(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text(f"<!-- generated by: python -m benchmarks nosuch -->\n{docblocks.END}\n")
    with pytest.raises(SystemExit) as raised:
        runner.main(["ops", "--update-docs", str(page), "--json", str(tmp_path / "r.json")])
    assert raised.value.code == 2
    assert not (tmp_path / "r.json").exists()


# -- the architecture page ---------------------------------------------------------------------

TRACER = r"""
import os, sys
from posixbackend import backend
from vfs import MemoryFileSystem

ROOT = sys.argv[1]
fs = MemoryFileSystem()
fs.mkdir("/tmp", 0o777)
with fs.open("/tmp/x", os.O_CREAT | os.O_WRONLY, 0o644) as handle:
    handle.pwrite(b"hi", 0)
calls = []

def profile(frame, event, arg):
    if event == "call":  # (no os call in here: it would come back to the backend)
        calls.append((frame.f_code.co_filename, frame.f_code.co_qualname))

with backend("managed", file_system=fs):
    os.chdir("/tmp")
    sys.setprofile(profile)
    if sys.argv[2] == "stat":
        os.stat("x")
    else:
        open("x").read()
    sys.setprofile(None)
for filename, qualname in calls:
    if filename.startswith(ROOT) and filename.endswith(".py"):
        module = filename[len(ROOT):-3].replace("/", ".").removesuffix(".__init__")
        print(f"{module}.{qualname}")
"""


def traced(call: str) -> list[str]:
    """The library's frames, in call order, on the path of ``call`` (pure Python)."""
    environment = {**os.environ, "POSIXBACKEND_PURE_PYTHON": "1", "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", TRACER, str(ROOT) + "/", call],
        capture_output=True, text=True, timeout=60, env=environment, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.split()


def architecture_traces() -> dict[str, list[str]]:
    text = (ROOT / "posixbackend" / "ARCHITECTURE.md").read_text("utf-8")
    return {
        info.removeprefix("text trace:").strip(): body.split()
        for info, body in fenced_blocks(text)
        if info.startswith("text trace:")
    }


def test_architecture_page_lists_both_calls() -> None:
    assert set(architecture_traces()) == {'os.stat("x")', 'open("x").read()'}


@pytest.mark.parametrize(("call", "kind"), [('os.stat("x")', "stat"), ('open("x").read()', "open")])
def test_architecture_frames_are_on_the_path(call: str, kind: str) -> None:
    frames = traced(kind)
    # each listed frame, in the order the page gives (other frames may come between)
    position, missing = 0, []
    for name in architecture_traces()[call]:
        try:
            position = frames.index(name, position) + 1
        except ValueError:
            missing.append(name)
    assert not missing, f"{call}: not on the path (in this order): {missing}"
