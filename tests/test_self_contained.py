"""The repository stands alone: its code and documents cite only what ships with it.

Users get the repository, not the notes it was written from. Every source and document outside
``tests/`` must therefore cite the protocol and the learners through ``docs/protocol.md`` and
``docs/learners.md`` (or the papers themselves), never through files that only existed beside
the repository; and every ``docs/protocol.md §N`` or ``docs/learners.md §N`` it cites, and every
link into those documents, must name a section that exists.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCS = {"protocol.md": ROOT / "docs" / "protocol.md", "learners.md": ROOT / "docs" / "learners.md"}
#: what users get: the harness, the built-in plugins, the documents and the example package
SHIPPED = ("seqbench/", "tasks/", "plugins/", "docs/", "examples/", "README.md")
#: names of files that are not part of the repository
FOREIGN = ("PAPER.md", "LEARNERS.md", "DESIGN.md", "shared/spec", "../shared", "/work/shared")
TEXT_SUFFIXES = {".py", ".md", ".toml", ".txt", ".cfg", ".ini", ".yaml", ".yml", ".json", ".rst"}

#: ``docs/protocol.md §3.4``, ``docs/learners.md §1, §3 and §4``, ``docs/protocol.md §4-§7``
NUMBER = r"\d+(?:\.\d+)*"
CITATION = re.compile(
    r"docs/(protocol|learners)\.md"
    rf"((?:\s*(?:,|and)?\s*§\s*{NUMBER}(?:\s*[-–]\s*§?\s*{NUMBER})?)+)")
HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
LINK = re.compile(r"\[([^\]]*)\]\(([^)\s]+)\)")


def repository_files() -> list[Path]:
    """Files in the repository (tracked, plus new files not ignored), skipping ``tests/``."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    out = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT, capture_output=True, text=True, check=True).stdout
    paths = sorted({line.strip() for line in out.splitlines() if line.strip()})
    return [ROOT / p for p in paths
            if (p == "README.md" or p.startswith(SHIPPED)) and (ROOT / p).is_file()
            and Path(p).suffix in TEXT_SUFFIXES]


def sections(doc: Path) -> set[str]:
    """The numbers of a document's numbered headings: ``## 3. ...`` gives 3, ``### 3.4 ...``
    gives 3.4."""
    found = set()
    for line in doc.read_text(encoding="utf-8").splitlines():
        m = HEADING.match(line)
        if m:
            number = re.match(rf"({NUMBER})\.?\s", m.group(2))
            if number:
                found.add(number.group(1))
    return found


def anchors(doc: Path) -> dict[str, str]:
    """GitHub's anchor of every heading of ``doc`` -> the heading's section number (or "")."""
    found: dict[str, str] = {}
    seen: dict[str, int] = {}
    in_code = False
    for line in doc.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else HEADING.match(line)
        if not m:
            continue
        title = m.group(2)
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        seen[slug] = seen.get(slug, -1) + 1
        if seen[slug]:  # GitHub numbers repeated headings: slug, slug-1, slug-2, ...
            slug = f"{slug}-{seen[slug]}"
        number = re.match(rf"({NUMBER})\.?\s", title)
        found[slug] = number.group(1) if number else ""
    return found


def citations(text: str):
    """``(document, section number)`` for every number in every ``docs/*.md §...`` citation."""
    for m in CITATION.finditer(text):
        for number in re.findall(NUMBER, m.group(2)):
            yield f"{m.group(1)}.md", number


def test_the_two_documents_exist_with_numbered_sections():
    for name, doc in DOCS.items():
        assert doc.is_file(), f"docs/{name} is missing"
        numbers = sections(doc)
        assert {"1", "2", "3"} <= numbers, f"docs/{name} has no numbered sections 1-3"


def test_no_file_cites_files_outside_the_repository():
    offenders = []
    for path in repository_files():
        text = path.read_text(encoding="utf-8", errors="replace")
        for lineno, line in enumerate(text.splitlines(), start=1):
            for name in FOREIGN:
                if name in line:
                    offenders.append(f"{path.relative_to(ROOT)}:{lineno}: {name}")
    assert not offenders, ("cite docs/protocol.md or docs/learners.md instead:\n"
                           + "\n".join(offenders))


def test_every_cited_section_exists():
    known = {name: sections(doc) for name, doc in DOCS.items()}
    files = repository_files() + sorted(p for p in (ROOT / "tests").glob("*.py")
                                        if p.name != Path(__file__).name)
    missing = []
    for path in files:
        text = path.read_text(encoding="utf-8", errors="replace")
        for doc, number in citations(text):
            if number not in known[doc]:
                missing.append(f"{path.relative_to(ROOT)}: docs/{doc} §{number}")
    assert not missing, "no such section:\n" + "\n".join(sorted(set(missing)))


def test_links_into_the_documents_reach_the_section_they_name():
    """A link ``[... §2.4](learners.md#24-...)`` must reach a heading, and the heading's number
    must be the one the link text names."""
    targets = {doc.resolve(): anchors(doc) for doc in DOCS.values()}
    problems = []
    for path in [p for p in repository_files() if p.suffix == ".md"]:
        text = path.read_text(encoding="utf-8")
        for m in LINK.finditer(text):
            label, href = m.groups()
            if "://" in href or "#" not in href:
                continue
            file, anchor = href.split("#", 1)
            doc = (path.parent / file).resolve() if file else path.resolve()
            if doc not in targets:
                continue
            where = f"{path.relative_to(ROOT)}: [{label}]({href})"
            if anchor not in targets[doc]:
                problems.append(f"{where}: no such heading")
                continue
            named = re.findall(rf"§\s*({NUMBER})", label)
            if named and named[-1] != targets[doc][anchor]:
                problems.append(f"{where}: the heading is §{targets[doc][anchor]}")
    assert not problems, "\n".join(problems)


def test_bare_section_references_inside_the_documents_exist():
    """Inside protocol.md and learners.md, a bare ``§N`` (not in a link, not after another
    document's name) is a section of the same document."""
    problems = []
    for name, doc in DOCS.items():
        own = sections(doc)
        text = LINK.sub("", doc.read_text(encoding="utf-8"))
        for m in re.finditer(rf"(\S*)\s*§\s*({NUMBER})", text):
            before, number = m.groups()
            if before.endswith(".md"):  # another document's section
                continue
            if number not in own:
                problems.append(f"docs/{name}: §{number}")
    assert not problems, "no such section:\n" + "\n".join(problems)


def test_builtin_tasks_point_to_the_protocol():
    """``seqbench list tasks`` shows each task's ``paper_section``: for a built-in task it names
    the section of docs/protocol.md that describes it."""
    from seqbench.plugins import load_registry

    registry = load_registry()
    builtin = {name for record in registry.plugins if record.source == "built-in"
               for name in record.tasks}
    known = sections(DOCS["protocol.md"])
    problems = []
    for name in sorted(builtin):
        cited = [number for doc, number in citations(registry.tasks[name].paper_section)
                 if doc == "protocol.md"]
        if not cited:
            problems.append(f"{name}: {registry.tasks[name].paper_section!r} cites no section of "
                            "docs/protocol.md")
        problems += [f"{name}: docs/protocol.md §{n} does not exist" for n in cited
                     if n not in known]
    assert not problems, "\n".join(problems)
