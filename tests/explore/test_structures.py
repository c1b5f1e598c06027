"""The initial-structure pipeline: counts, system ids, determinism, and errors naming the key."""

from __future__ import annotations

import numpy as np
import pytest

from pesgen.explore.structures import InitialStructureSpec, generate_initial_structures
from pesgen.structures.errors import StructureSpecError


def _paper_like_spec(seed=1):
    return {
        "seed": seed,
        "crystals": [{"element": "Al", "lattices": ["fcc", "sc"], "size": [2, 2, 2]},
                     {"element": "Mg", "lattices": ["hcp"], "size": [2, 2, 2]}],
        "displacements": [{"element": "Al", "lattice": "fcc", "planes": ["111"], "n": 2,
                           "layers": 4, "size": [1, 1]}],
        "surfaces": [{"element": "Al", "lattice": "fcc", "planes": ["100"], "vacuum": 8}],
        "alloys": {"compositions": [{"Al": 0.5, "Mg": 0.5}], "n": 2},
        "scale": {"alpha_min": 0.96, "alpha_max": 1.04, "n": 3},
        "perturb": {"n": 2, "sigma_a": 0.01, "sigma_c": 0.03},
    }


def test_pipeline_counts_ids_and_determinism():
    spec = InitialStructureSpec.from_dict(_paper_like_spec())
    out = generate_initial_structures(spec)
    n_bases = 3 + 2 + 1
    assert len(out) == n_bases * (1 + 2) * 3 * 2
    assert all("system" in a.info for a in out)
    assert len({a.info["system"] for a in out}) < len(out)  # perturbed copies share a system
    again = generate_initial_structures(_paper_like_spec())
    assert all(np.array_equal(a.positions, b.positions) for a, b in zip(out, again, strict=True))
    other = generate_initial_structures(_paper_like_spec(seed=2))
    assert not np.array_equal(out[0].positions, other[0].positions)
    alloys = [a for a in out if "Al" in a.info["system"] and ":Al" in a.info["system"]]
    assert alloys and all(set(a.get_chemical_symbols()) == {"Al", "Mg"} for a in alloys)


@pytest.mark.parametrize(
    ("patch", "message"),
    [({"crystals": [{"element": "Al", "lattice": ["fcc"]}]}, r"crystals\[0\].*'lattice'"),
     ({"crystals": [{"lattices": ["fcc"]}]}, r"crystals\[0\].*missing.*element"),
     ({"scale": {"alpha_min": 1.1, "alpha_max": 0.9}}, "scale"),
     ({"perturb": {"sigma_a": -1}}, "perturb.*sigma_a"),
     ({"alloys": {"compositions": [{"Al": 1, "Xy": 1}]}}, "alloys.*Xy"),
     ({"displacements": [{"element": "Al", "lattice": "fcc", "planes": ["0001"]}]},
      r"displacements\[0\]"),
     ({"colour": "red"}, "unknown key.*colour"),
     ({"seed": "one"}, "seed")],
)
def test_spec_errors_name_the_key(patch, message):
    data = {"crystals": [{"element": "Al", "lattices": ["fcc"]}]}
    data.update(patch)
    with pytest.raises(StructureSpecError, match=message):
        InitialStructureSpec.from_dict(data)


def test_spec_without_structures_is_an_error():
    with pytest.raises(StructureSpecError, match="no structures"):
        InitialStructureSpec.from_dict({"seed": 3})
