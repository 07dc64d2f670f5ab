"""The noisy-label experiment: noise model, losses, and reproducibility of --quick from the seed."""

import json

import numpy as np
import pytest

from divergences.cli import main
from divergences.experiments import make_loss, symmetric_noise, train_once

torch = pytest.importorskip("torch")
pytest.importorskip("sklearn")


def test_symmetric_noise_flips_the_rate_to_other_classes_uniformly():
    rng = np.random.default_rng(0)
    y = rng.integers(0, 10, size=200_000)
    z = symmetric_noise(y, 0.4, 10, rng)
    flipped = z != y
    assert flipped.mean() == pytest.approx(0.4, abs=0.005)
    # a flipped label is any of the 9 other classes with probability 1/9
    shift = (z[flipped] - y[flipped]) % 10
    counts = np.bincount(shift, minlength=10)
    assert counts[0] == 0
    np.testing.assert_allclose(counts[1:] / counts.sum(), 1 / 9, atol=0.005)


def test_mae_loss_is_twice_one_minus_the_true_probability_with_its_gradient():
    fn, _ = make_loss("mae")
    torch.manual_seed(0)
    z = torch.randn(6, 10, dtype=torch.float64, requires_grad=True)
    y = torch.tensor([0, 3, 9, 2, 2, 5])
    value = fn(z, y)
    q = torch.softmax(z.detach(), 1)
    qy = q[torch.arange(6), y]
    assert float(value.detach()) == pytest.approx(float((2 * (1 - qy)).mean()), rel=1e-12)
    value.backward()
    # d/dz_k of -2 q_y / B is -2 q_y (1[k = y] - q_k) / B
    onehot = torch.nn.functional.one_hot(y, 10).double()
    want = -2 * qy[:, None] * (onehot - q) / 6
    torch.testing.assert_close(z.grad, want, rtol=1e-10, atol=1e-12)


def test_a_similarity_is_negated_and_an_infinite_loss_is_refused():
    fn, _ = make_loss("fidelity")
    z = torch.zeros(2, 4, dtype=torch.float64)
    # fidelity(e_y, uniform) = sqrt(1/4): the loss is its negation
    assert float(fn(z, torch.tensor([0, 1]))) == pytest.approx(-0.5)
    with pytest.raises(ValueError, match="neyman: the loss is not finite"):
        train_once("neyman", 0.0, 0, epochs=1)


def test_quick_mode_numbers_are_reproducible_from_the_seed(tmp_path, capsys):
    out = tmp_path / "q.json"
    assert (
        main(
            [
                "experiment",
                "noisy-labels",
                "--quick",
                "--json",
                str(out),
                "-o",
                str(tmp_path / "q.png"),
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    assert "| ce |" in text and "| mae |" in text
    rec = json.loads(out.read_text())
    assert rec["noise"] == [0.0, 0.6] and rec["seeds"] == 1
    for loss in ("ce", "mae"):
        for eta in ("0", "0.6"):
            acc = rec["accuracy"][loss][eta]
            assert len(acc) == 1 and 0.0 <= acc[0] <= 1.0
    torch.set_num_threads(1)
    again = train_once("mae", 0.6, 0, epochs=rec["epochs"], batch=rec["batch"])
    assert again == rec["accuracy"]["mae"]["0.6"][0]
    assert (tmp_path / "q.png").read_bytes()[:4] == b"\x89PNG"


def test_bad_noise_and_unknown_losses_exit_2(capsys):
    assert main(["experiment", "noisy-labels", "--noise", "0,0.95", "--quick"]) == 2
    assert "outside [0, 0.9)" in capsys.readouterr().err
    assert main(["experiment", "noisy-labels", "--losses", "ce,nosuch", "--quick"]) == 2
    assert "unknown measure 'nosuch'" in capsys.readouterr().err
