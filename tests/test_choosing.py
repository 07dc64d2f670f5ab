"""The generated "Choosing a divergence" page and the README's figures."""

from pathlib import Path

import divergences as dv
from divergences import choosing
from divergences.cli import main

ROOT = Path(__file__).resolve().parent.parent


def test_page_is_up_to_date_with_the_registry():
    assert choosing.check(ROOT), "docs/choosing.md is stale: run `python -m divergences docs`"


def test_each_question_lists_what_select_returns():
    page = (ROOT / choosing.PAGE).read_text()
    for _, _, kwargs in choosing.QUESTIONS:
        names = [m.name for m in dv.select(**kwargs)]
        call = choosing._call(kwargs)
        after = page.split(call, 1)[1].split("## ", 1)[0]
        assert f"{len(names)} of {len(dv.measures())}: " in after
        for n in names:
            assert f"`{n}`" in after


def test_figures_exist_are_png_and_small():
    text = (ROOT / choosing.PAGE).read_text() + (ROOT / "README.md").read_text()
    figures = ["analysis_digits_dendrogram.png", "loss_profiles.png", "noisy_labels.png"]
    for name in figures:
        assert f"figures/{name}" in text
        data = (ROOT / choosing.FIGURES / name).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n"
        assert len(data) < 300_000


def test_docs_check_exit_codes(tmp_path, capsys):
    assert main(["docs", "--root", str(tmp_path)]) == 0
    assert main(["docs", "--check", "--root", str(tmp_path)]) == 0
    page = tmp_path / choosing.PAGE
    page.write_text(page.read_text() + "edited\n")
    assert main(["docs", "--check", "--root", str(tmp_path)]) == 1
    assert "stale" in capsys.readouterr().err
