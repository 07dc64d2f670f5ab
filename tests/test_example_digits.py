"""The worked example (examples/digits_losses.py) in a tiny version: every loss trains the
softmax classifier far above chance (10 classes: 0.1)."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("sklearn")

EXAMPLE = Path(__file__).parents[1] / "examples" / "digits_losses.py"


def test_every_loss_learns_the_digits():
    spec = importlib.util.spec_from_file_location("digits_losses", EXAMPLE)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    acc = mod.main(["--steps", "25"])
    assert set(acc) == set(mod.LOSSES)
    for name, a in acc.items():
        assert a > 0.75, (name, a)
