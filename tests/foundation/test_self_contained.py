"""The repository explains itself: nothing a reader opens sends them outside it."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
OUTSIDE = re.compile(r"\.\./shared|SPEC\.md|SPEC §|\bSPEC\b")


def _texts():
    yield ROOT / "README.md"
    yield from (ROOT / "docs").rglob("*.md")
    for folder in ("portal", "worker", "migrations", "bench", "tests"):
        yield from (p for p in (ROOT / folder).rglob("*.py") if p.name != Path(__file__).name)
    yield from (ROOT / name for name in ("config.py", "celery_app.py", "wsgi.py", "Makefile"))


def test_no_file_points_to_the_team_folder_or_cites_the_spec():
    offenders = [f"{path.relative_to(ROOT)}:{number}"
                 for path in _texts()
                 for number, line in enumerate(path.read_text().splitlines(), start=1)
                 if OUTSIDE.search(line)]
    assert offenders == []


def test_every_docs_link_resolves_inside_the_repository():
    broken = []
    for page in [ROOT / "README.md", *(ROOT / "docs").rglob("*.md")]:
        for target in re.findall(r"\]\(([^)#\s]+)", page.read_text()):
            if "://" not in target and not (page.parent / target).resolve().exists():
                broken.append(f"{page.relative_to(ROOT)} → {target}")
    assert broken == []
