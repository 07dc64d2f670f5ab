"""CATALOG.md: rendered from the registry, complete, deterministic, and up to date."""

from __future__ import annotations

import functools
import json
import re
import shutil
from pathlib import Path

import pytest

import divergences as dv
from divergences import catalog
from divergences.cli import main
from divergences.spec import CLAIM_MEANING, FAMILIES, NAMESPACE_DEFAULTS

REPO = Path(__file__).resolve().parents[1]
COMMITTED = REPO / "CATALOG.md"


@functools.cache
def _text() -> str:
    """The rendered catalog, made on first use (rendering derives every loss property: about
    11 s that every pytest worker would otherwise spend while collecting)."""
    return catalog.render()

#: a cell separator is a `|` not escaped as `\|`
CELL = re.compile(r"(?<!\\)\|")


@functools.cache
def table_rows() -> dict[str, list[str]]:
    """Canonical name -> cells of its catalog row."""
    rows = {}
    for line in _text().splitlines():
        if line.startswith("| ") and "**`" in line:
            cells = [c.strip() for c in CELL.split(line)[1:-1]]
            name = re.match(r"\*\*`([a-z0-9_]+)`\*\*", cells[1]).group(1)
            rows[name] = cells
    return rows



def test_committed_catalog_is_up_to_date(capsys):
    assert COMMITTED.exists(), "run `python -m divergences catalog` in the repository root"
    assert catalog.check(COMMITTED)
    assert main(["catalog", "--check", "--output", str(COMMITTED)]) == 0
    assert "up to date" in capsys.readouterr().out


def test_a_stale_copy_fails_the_check(capsys, tmp_path):
    stale = tmp_path / "CATALOG.md"
    shutil.copy(COMMITTED, stale)
    assert catalog.check(stale)
    text = stale.read_text(encoding="utf-8")
    stale.write_text(text.replace("| 37 |", "| 36 |", 1), encoding="utf-8")
    assert not catalog.check(stale)
    assert main(["catalog", "--check", "--output", str(stale)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("divergences: error: ") and err.count("\n") == 1
    stale.write_text(text + "\n", encoding="utf-8")  # even a trailing blank line is drift
    assert not catalog.check(stale)
    assert not catalog.check(tmp_path / "missing.md")


def test_write_then_check(tmp_path):
    path = catalog.write(tmp_path / "C.md")
    assert path.read_bytes() == _text().encode("utf-8")
    assert b"\r\n" not in path.read_bytes()
    assert catalog.check(path)


def test_render_is_deterministic():
    assert catalog.render() == _text()
    assert _text().endswith("\n") and not _text().endswith("\n\n")


def test_every_measure_has_one_row_and_every_survey_number_appears():
    assert set(table_rows()) == {m.name for m in dv.measures()}
    assert len(
        [line for line in _text().splitlines() if "**`" in line and line.startswith("| ")]
    ) == len(dv.measures())
    numbers = {cells[0] for cells in table_rows().values()}
    assert numbers == {str(n) for n in range(1, 52)} | {"extra"}
    for m in dv.measures():
        assert table_rows()[m.name][0] == ("extra" if m.survey_number is None else str(m.survey_number))


def test_every_row_has_all_columns():
    # an unescaped `|` inside a formula or evidence would add cells
    for name, cells in table_rows().items():
        assert len(cells) == 10, name


def test_families_in_spec_order_and_rows_in_their_family():
    positions = [_text().index(f"\n## {title} (") for title in FAMILIES.values()]
    assert positions == sorted(positions)
    bounds = [*positions, _text().index("\n## Conventions")]
    for m in dv.measures():
        at = _text().index(f"**`{m.name}`**")
        k = list(FAMILIES).index(m.family)
        assert bounds[k] < at < bounds[k + 1], m.name


@pytest.mark.parametrize("m", dv.measures(), ids=lambda m: m.name)
def test_row_content(m):
    _, name, aliases, formula, kind, symmetric, metric, bounds, domain, zeros = table_rows()[m.name]
    assert m.title in name
    for alias in m.alias_names:
        assert f"`{alias}`" in aliases
    if not m.aliases:
        assert aliases == "-"
    assert formula.startswith("$" + m.latex.replace("|", r"\|") + "$")
    for p in m.params:
        assert f"`{p.name}` = {catalog.fmt_number(p.default)} ({p.domain_text()})" in formula
    assert kind == m.kind
    assert symmetric == m.properties.symmetric.holds
    claim = m.properties.metric
    assert metric.startswith(f"**{claim.holds}**")
    assert " ".join(claim.evidence.split()).replace("|", r"\|") in metric
    if claim.counterexample:
        assert "counterexample P = " + catalog.fmt_vector(claim.counterexample[0]) in metric
    if claim.condition:
        assert f"(if {claim.condition})" in metric
    assert bounds == f"[`{m.bounds.low}`, `{m.bounds.high}`]"
    assert domain == m.domain
    assert zeros.startswith(" ".join(m.zeros.split()).replace("|", r"\|") or "no zero hazard")
    assert zeros.endswith("(zero='epsilon' differs)") == (m.epsilon is not None)


def test_counterexample_formatting():
    cx = dv.get("minkowski").properties.metric
    assert catalog.fmt_counterexample(cx) == "P = (0, 0), Q = (1, 0), R = (1, 1) at p = 0.5"
    assert catalog.fmt_number(2.718281828459045) == "e"
    assert catalog.fmt_number(1e-5) == "1e-05"
    assert catalog.fmt_number(float("inf")) == "inf"


def test_conventions_section():
    conv = _text()[_text().index("\n## Conventions") : _text().index("\n## Relations")]
    for claim, meaning in CLAIM_MEANING.items():
        assert f"**{claim}**: {meaning}" in conv
    for holds in ("always", "pdf", "never"):
        assert f"- `{holds}`: " in conv
    assert "zero='strict'" in conv and "zero='epsilon'" in conv
    assert "`philentropy:NAME`" in conv and "`zero='epsilon'`" in conv
    assert NAMESPACE_DEFAULTS["philentropy"] == {"zero": "epsilon"}
    assert "`scipy:jensenshannon` is `jensen_shannon_distance` with `normalize=True`" in conv
    for m in dv.measures():
        if any(p.name == "base" for p in m.params):
            assert f"`{m.name}`" in conv[conv.index("### Logarithms") : conv.index("### Names")]
    eps = [m.name for m in dv.measures() if m.epsilon is not None]
    assert f"differs from the strict rules for {len(eps)} measures" in conv


def test_relations_section_lists_every_relation():
    start = _text().index("\n## Relations")
    end = _text().find("\n## ", start + 1)  # the next section, if any
    rel = _text()[start : end if end > 0 else None]
    count = 0
    for m in dv.measures():
        for r in m.relations:
            where = "on all inputs of its domain" if r.holds == "always" else "on pdfs"
            if r.params:
                where += ", at " + ", ".join(f"{k} = {v:g}" for k, v in r.params.items())
            assert f"- `{m.name}` (" in rel
            assert f"= `{r.expr}` ({where})" in rel
            count += 1
    assert rel.count("\n- `") == count


def test_measure_records_are_json():
    records = [catalog.measure_record(m) for m in dv.measures()]
    assert json.loads(json.dumps(records)) == records


def test_a_failed_write_leaves_the_old_catalog(tmp_path, monkeypatch):
    """catalog.write is all or nothing: text that cannot be encoded (here a lone surrogate)
    fails the write and leaves the earlier file byte for byte, with no temporary file (it
    used to open the destination for writing first and leave it empty)."""
    path = tmp_path / "CATALOG.md"
    path.write_bytes(b"old catalog\n")
    monkeypatch.setattr(catalog, "render", lambda: "new catalog\n\ud800\n")
    with pytest.raises(UnicodeEncodeError):
        catalog.write(path)
    assert path.read_bytes() == b"old catalog\n"
    assert [p.name for p in tmp_path.iterdir()] == ["CATALOG.md"]
