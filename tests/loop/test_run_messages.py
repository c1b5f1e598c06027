"""What `pesgen run` says when labels fail or nothing is left to learn: the initial line counts the
failed labels, and a run whose frames are all beyond the upper trust level (every walker
exploding looks so) ends with the "raise the upper trust level" hint on the console and in
`pesgen status`, not only in state.json."""

from __future__ import annotations

from loop_testkit import write_tiny
from typer.testing import CliRunner

from pesgen.cli import app

# the 8 initial structures' largest force components are 0.066-0.157 eV/Å and 0.165 eV/Å (EMT):
# a bound of 0.16 eV/Å fails exactly one label
LABEL = 'kind = "emt"\n\n[label_policy]\nmax_force = 0.16\n\n[audit]\nenabled = false'


def test_failed_initial_labels_and_the_no_candidates_hint_are_shown(tmp_path):
    config = write_tiny(tmp_path, label=LABEL)
    text = config.read_text().replace("max_iterations = 2", "max_iterations = 1")
    config.write_text(text.replace("f_lo = 0.02\nf_hi = 0.8", "f_lo = 0.0001\nf_hi = 0.0002"))
    run = tmp_path / "run"
    result = CliRunner().invoke(app, ["run", str(config), "--dir", str(run), "--quiet"])
    assert result.exit_code == 3, result.output
    out = " ".join(result.output.split())
    assert "initial data: 7 labeled, 1 failed" in out
    assert "note: iteration 0: not converged but no candidates" in out
    assert "run ended: not converged: stopped at max_iterations=1" in out and "raise the upper trust level" in out
    status = CliRunner().invoke(app, ["status", str(run)])
    assert status.exit_code == 0 and "raise the upper trust level" in " ".join(status.output.split())

    missing = tmp_path / "no" / "such" / "dir" / "x.pt"
    export = CliRunner().invoke(app, ["export", str(run), "--model", str(missing)])
    assert export.exit_code == 1 and str(missing.parent) in export.output and len(export.output.splitlines()) == 1
    assert not (tmp_path / "no").exists()
