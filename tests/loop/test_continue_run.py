"""``pesgen run NEW.toml --from RUN``: a new run from a finished one's labels and ensemble, with
more stages, and with a new element (the ensemble grows to it); edited configs are refused with
the way forward."""

from __future__ import annotations

import pytest
from loop_testkit import write_tiny

from pesgen.data.store import Store
from pesgen.loop.errors import RunDirError
from pesgen.loop.rundir import RunDir
from pesgen.loop.runner import run_loop
from pesgen.loop.summaries import ContinuedSummary, InitialSummary, TrainSummary
from pesgen.model.io import load


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    folder = tmp_path_factory.mktemp("base")
    config = write_tiny(folder, numb_steps=80, warm_steps=40, md_steps=30)
    result = run_loop(config, folder / "run", quiet=True)
    assert result.finished
    return folder, config, result.run_dir


def _edited(config, folder, name, *changes):
    text = config.read_text()
    for old, new in changes:
        assert old in text
        text = text.replace(old, new, 1)
    path = folder / name
    path.write_text(text)
    return path


@pytest.mark.slow
def test_more_stages_from_a_finished_run(finished, tmp_path):
    folder, config, old = finished
    new = _edited(config, tmp_path, "more.toml", ("temperatures = [600.0]", "temperatures = [600.0]\n\n"
                                                 "[[exploration.stages]]\ntemperatures = [1200.0]"),
                  ("max_iterations = 2", "max_iterations = 3"))
    old_store = Store(old / "store.db", readonly=True)
    result = run_loop(new, tmp_path / "more", quiet=True, from_run=old)
    run = RunDir(result.run_dir)
    cont = run.read_summary(ContinuedSummary)
    assert cont.imported == len(old_store) and cont.source_iteration == max(RunDir(old).load_state().iterations())
    store = Store(run.store_path, readonly=True)
    imported = store.frames(origin="imported")
    assert len(imported) == len(old_store)
    assert {a.info["provenance"].task_id for a in imported} == old_store.task_ids()
    initial = run.read_summary(InitialSummary)
    assert initial.labeled.n_labeled == 0 and initial.labeled.n_skipped > 0   # the old labels serve
    t0 = run.read_summary(TrainSummary, 0)
    assert t0.warm_start and t0.numb_steps == 40
    assert result.iterations == 3
    # resuming the finished new run needs no --from, and takes the same one
    assert run_loop(result.run_dir, quiet=True).finished
    assert run_loop(new, tmp_path / "more", quiet=True, from_run=old).finished


@pytest.mark.slow
def test_adding_an_element(finished, tmp_path):
    folder, config, old = finished
    new = _edited(config, tmp_path, "alcu.toml", ('elements = ["Al"]', 'elements = ["Al", "Cu"]'),
                  ('{ element = "Al", lattices = ["sc"], size = [2, 2, 2] }]',
                   '{ element = "Al", lattices = ["sc"], size = [2, 2, 2] },\n'
                   '            { element = "Cu", lattices = ["fcc"], size = [2, 2, 2] }]'))
    result = run_loop(new, tmp_path / "alcu", quiet=True, from_run=old)
    run = RunDir(result.run_dir)
    assert run.read_summary(ContinuedSummary).added_elements == ["Cu"]
    initial = run.read_summary(InitialSummary)
    assert initial.labeled.n_labeled == 4 and initial.labeled.n_skipped == 8   # only the Cu structures
    ens = load(run.model_path(0))
    assert ens.type_map == ["Al", "Cu"] and ens.metadata["type_map_history"][-1]["added"] == ["Cu"]
    # the old species kept their slots; Cu got slots from the data
    old_sel = load(RunDir(old).latest_model()).module.hyper.sel
    assert ens.module.hyper.sel[0] == old_sel[0] and ens.module.hyper.sel[1] > 0
    explored = Store(run.store_path, readonly=True).frames(origin="explored")
    assert any("Cu" in a.get_chemical_symbols() for a in explored)    # the new element is explored


@pytest.mark.slow
def test_edited_config_and_self_source_refused(finished, tmp_path):
    folder, config, old = finished
    with pytest.raises(RunDirError, match="--from names the run directory itself"):
        run_loop(config, old, quiet=True, from_run=old)
    with pytest.raises(RunDirError, match=r"--from .* --dir NEWRUN"):
        run_loop(_edited(config, tmp_path, "x.toml", ("max_iterations = 2", "max_iterations = 4")), old, quiet=True)
    text = (old / "config.toml").read_text()
    try:
        (old / "config.toml").write_text(text.replace("max_iterations = 2", "max_iterations = 4"))
        with pytest.raises(RunDirError, match="was edited after the run finished.*--from"):
            run_loop(old, quiet=True)
    finally:
        (old / "config.toml").write_text(text)
    with pytest.raises(RunDirError, match=r"lack \['Al'\]"):
        run_loop(_edited(config, tmp_path, "cu.toml", ('elements = ["Al"]', 'elements = ["Cu"]'),
                         ('element = "Al", lattices = ["fcc"]', 'element = "Cu", lattices = ["fcc"]'),
                         ('element = "Al", lattices = ["sc"]', 'element = "Cu", lattices = ["sc"]')),
                 tmp_path / "cu", quiet=True, from_run=old)
