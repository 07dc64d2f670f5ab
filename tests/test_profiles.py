"""Loss profiles (divergences.plot, `divergences plot`): values and gradients against hand derivations."""

import mpmath as mp
import numpy as np
import pytest

from divergences.cli import main
from divergences.profiles import profile

pytest.importorskip("matplotlib")


def _q0(t, classes):
    return np.exp(t) / (np.exp(t) + classes - 1)


@pytest.mark.parametrize("classes", [2, 3])
def test_kl_to_a_one_hot_target_is_cross_entropy_with_its_gradient(classes):
    pr = profile("kl", classes=classes, points=41)
    q0 = _q0(pr["t"], classes)
    np.testing.assert_allclose(pr["loss"], -np.log(q0), rtol=1e-12)
    np.testing.assert_allclose(pr["ce"], -np.log(q0), rtol=1e-12)
    np.testing.assert_allclose(pr["grad"], q0 - 1, atol=1e-8)
    np.testing.assert_allclose(pr["ce_grad"], q0 - 1, atol=1e-15)


def test_hellinger_profile_matches_its_hand_derivative():
    # P = (1, 0), Q = (q, 1 - q): H = 2 sqrt(1 - sqrt(q)), dq/dt = q (1 - q)
    pr = profile("hellinger", points=33, span=6.0)
    q = _q0(pr["t"], 2)
    np.testing.assert_allclose(pr["loss"], 2 * np.sqrt(1 - np.sqrt(q)), rtol=1e-12)
    want = -np.sqrt(q) * (1 - q) / (2 * np.sqrt(1 - np.sqrt(q)))
    np.testing.assert_allclose(pr["grad"], want, rtol=1e-6, atol=1e-9)


def test_jensen_shannon_gradient_with_smoothing_against_mpmath():
    mp.mp.dps = 40
    s, classes = 0.1, 3
    P = [mp.mpf(1 - s) + mp.mpf(s) / 3, mp.mpf(s) / 3, mp.mpf(s) / 3]

    def js(t):
        e = [mp.exp(t), mp.mpf(1), mp.mpf(1)]
        Q = [v / sum(e) for v in e]
        return sum(
            (p * mp.log(2 * p / (p + q)) + q * mp.log(2 * q / (p + q))) / 2 for p, q in zip(P, Q)
        )

    pr = profile("jensen_shannon", classes=classes, smoothing=s, points=9, span=4.0)
    for t, v, g in zip(pr["t"], pr["loss"], pr["grad"]):
        assert v == pytest.approx(float(js(mp.mpf(t))), rel=1e-12)
        assert g == pytest.approx(float(mp.diff(js, mp.mpf(t))), rel=1e-6, abs=1e-10)


def test_a_similarity_is_turned_into_a_loss_that_vanishes_at_the_target():
    pr = profile("fidelity", points=21)  # fidelity: larger is closer
    assert (np.diff(pr["loss"]) < 0).all()  # the loss falls as the prediction improves
    q = _q0(pr["t"], 2)
    np.testing.assert_allclose(pr["loss"], 1 - np.sqrt(q), rtol=1e-12)


def test_one_hot_infinities_are_left_out_not_drawn_as_numbers():
    pr = profile("neyman")  # divides by P_i: inf with a zero in the target
    assert np.isinf(pr["loss"]).all()
    assert np.isfinite(profile("neyman", smoothing=0.1)["loss"]).all()


def test_cli_plot_writes_a_png_and_rejects_foreign_parameters(tmp_path, capsys):
    out = tmp_path / "h.png"
    assert main(["plot", "hellinger", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (
        main(
            ["plot", "minkowski", "--param", "p=3", "--classes", "3", "-o", str(tmp_path / "m.svg")]
        )
        == 0
    )
    assert (tmp_path / "m.svg").read_text().count("<svg") == 1
    capsys.readouterr()
    assert main(["plot", "hellinger", "--param", "p=3", "-o", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert "hellinger: --param 'p=3' is not one of its parameters" in err
    assert err.count("\n") == 1 and not (tmp_path / "x.png").exists()
    (tmp_path / "f").write_text("")
    assert main(["plot", "kl", "-o", str(tmp_path / "f" / "x.png")]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f", "h.png", "m.svg"]


def test_plot_replaces_a_file_all_or_nothing_keeping_its_mode(tmp_path, capsys, monkeypatch):
    """`plot -o` writes through divergences.atomic.replacing (one implementation of the
    atomic write): the format follows the extension, a replaced file keeps its mode, and a
    failed drawing leaves the earlier file and no temporary file."""
    import os

    import divergences.profiles

    out = tmp_path / "kl.png"
    out.write_bytes(b"old")
    os.chmod(out, 0o600)
    assert main(["plot", "kl", "--classes", "2", "-o", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert os.stat(out).st_mode & 0o777 == 0o600

    def broken(*args, output, **kwargs):
        with open(output, "wb") as f:
            f.write(b"partial")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(divergences.profiles, "plot", broken)
    before = out.read_bytes()
    capsys.readouterr()
    assert main(["plot", "kl", "--classes", "2", "-o", str(out)]) == 2
    assert "cannot write" in capsys.readouterr().err
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["kl.png"]
