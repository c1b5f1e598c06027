"""Model vs itself (every difference zero, every property runs), config errors, the CLI, the report."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
from validate_testkit import fast_config, random_al_model  # noqa: E402

from pesgen.calculator import PesgenCalculator  # noqa: E402
from pesgen.validate.config import load_config, parse_config  # noqa: E402
from pesgen.validate.errors import ValidationConfigError  # noqa: E402
from pesgen.validate.report import report_section  # noqa: E402
from pesgen.validate.runner import run_validation  # noqa: E402


@pytest.fixture(scope="module")
def self_results():
    model = random_al_model()
    config = fast_config(properties=["equilibrium", "eos", "elastic", "defects", "stacking", "surfaces",
                                     "phonons", "liquid", "melting"])
    return run_validation(PesgenCalculator(model), PesgenCalculator(model), config, model_name="random",
                          reference_name="random")


@pytest.mark.slow
def test_model_against_itself_gives_zero_differences(self_results):
    assert self_results["errors"] == []
    groups = {row["group"] for row in self_results["rows"]}
    assert groups == {"equilibrium", "eos", "elastic", "defects", "stacking", "surfaces", "phonons", "liquid",
                      "melting"}
    for row in self_results["rows"]:
        assert row["difference"] is not None and math.isfinite(row["difference"]), row
        assert abs(row["difference"]) < 1e-8, row
    # and the numbers are not trivially zero: a random model still has energies and moduli
    e0 = next(r for r in self_results["rows"] if r["quantity"] == "E0 fcc")
    assert e0["model"] != 0.0


def test_report_section_holds_the_table_and_plots(self_results):
    html = report_section(self_results)
    assert html.startswith("<section") and html.count("<tr>") == len(self_results["rows"]) + 1  # + the header
    assert "data:image/png;base64," in html
    assert "T_m" in html   # the melting rows and the coexistence plot


def test_config_errors_name_the_key(tmp_path):
    with pytest.raises(ValidationConfigError, match="defects.supercel"):
        parse_config({"defects": {"supercel": 3}})
    with pytest.raises(ValidationConfigError, match="properties"):
        parse_config({"properties": ["melting_point"]})
    with pytest.raises(ValidationConfigError, match="structures"):
        parse_config({"structures": ["fcc", "wurtzite"]})
    bad = tmp_path / "bad.toml"
    bad.write_text("[surfaces]\nmiller_max = 'three'\n")
    with pytest.raises(ValidationConfigError, match=r"bad.toml: key 'surfaces.miller_max"):
        load_config(bad)
    with pytest.raises(ValidationConfigError, match="does not exist"):
        load_config(tmp_path / "missing.toml")


def test_cli_runs_model_against_itself_and_writes_outputs(tmp_path):
    from pesgen.cli import app

    model_path = random_al_model(seed=3).save(tmp_path / "m.pt")
    config = tmp_path / "t.toml"
    config.write_text('properties = ["equilibrium", "stacking"]\nstructures = ["fcc", "hcp"]\n'
                      '[stacking]\nlayers = 6\ngsf_points = 3\n[relax]\nfmax = 0.002\n')
    out = tmp_path / "out"
    result = CliRunner().invoke(app, ["test", str(model_path), "--reference", str(model_path),
                                      "--config", str(config), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "γ_sf (111)" in result.output
    data = json.loads((out / "results.json").read_text())
    assert data["rows"] and all(abs(r["difference"]) < 1e-8 for r in data["rows"])
    assert (out / "gsf.png").stat().st_size > 1000


def test_cli_rejects_a_bad_reference(tmp_path):
    from pesgen.cli import app

    model_path = random_al_model().save(tmp_path / "m.pt")
    result = CliRunner().invoke(app, ["test", str(model_path), "--reference", "vasp-by-magic"])
    assert result.exit_code == 1
    assert "vasp-by-magic" in result.output
