"""EMT labels equal a direct ASE evaluation."""

from __future__ import annotations

import numpy as np
import pytest
from ase.build import bulk
from ase.calculators.emt import EMT

from pesgen.label import EMTLabeler, InvalidStructure, make_labeler


def test_emt_label_equals_direct_ase(al32):
    result = EMTLabeler().label(al32)
    ref = al32.copy()
    ref.calc = EMT()
    assert result.energy == pytest.approx(ref.get_potential_energy(), abs=1e-10)
    np.testing.assert_allclose(result.forces, ref.get_forces(), atol=1e-10)
    np.testing.assert_allclose(result.stress, ref.get_stress(), atol=1e-12)
    assert result.wall_time > 0
    # a rattled cell has real forces, summing to zero (Newton's third law)
    assert np.abs(result.forces).max() > 0.05
    np.testing.assert_allclose(result.forces.sum(axis=0), 0.0, atol=1e-10)


def test_emt_leaves_input_untouched(al32):
    before = al32.positions.copy()
    EMTLabeler().label(al32)
    assert al32.calc is None
    np.testing.assert_array_equal(al32.positions, before)


def test_emt_rejects_unknown_element():
    with pytest.raises(InvalidStructure, match="Mg"):
        EMTLabeler().label(bulk("Mg"))


def test_emt_non_periodic_has_no_stress():
    cluster = bulk("Al", "fcc", a=4.05, cubic=True)
    cluster.pbc = False
    cluster.center(vacuum=4.0)
    assert EMTLabeler().label(cluster).stress is None
    with pytest.raises(InvalidStructure, match="Si"):
        EMTLabeler().label(bulk("Si"))


def test_settings_hash_tracks_settings():
    a, b = EMTLabeler(), make_labeler({"kind": "emt"})
    assert a.settings_hash() == b.settings_hash()
    assert EMTLabeler(asap_cutoff=True).settings_hash() != a.settings_hash()
