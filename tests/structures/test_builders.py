"""Structure builders produce the structures they claim (measured, not assumed)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ase.neighborlist import neighbor_list

from pesgen.structures.alloys import composition_counts, random_alloy
from pesgen.structures.crystals import COORDINATION, LATTICES, crystal, lattice_constants
from pesgen.structures.displace import displace_halves, displaced_crystals
from pesgen.structures.errors import StructureSpecError
from pesgen.structures.orient import atomic_layers, oriented_crystal, parse_plane
from pesgen.structures.perturb import perturb, random_strain, scale, scaled_and_perturbed
from pesgen.structures.surfaces import slab


def _coordination(atoms, cutoff):
    return np.bincount(neighbor_list("i", atoms, cutoff), minlength=len(atoms))


@pytest.mark.parametrize("lattice", LATTICES)
def test_crystal_coordination_distance_and_volume(lattice):
    atoms = crystal("Al", lattice, (2, 2, 2))
    lc = lattice_constants("Al", lattice)
    d = lc.nearest_neighbour_distance
    cn = _coordination(atoms, 1.05 * d)
    assert set(cn) == {COORDINATION[lattice]}
    dist = neighbor_list("d", atoms, 1.05 * d)
    np.testing.assert_allclose(dist, d, rtol=1e-9)
    assert atoms.get_volume() / len(atoms) == pytest.approx(lc.atomic_volume, rel=1e-12)
    assert atoms.info["system"] == f"Al-{lattice}-2x2x2"
    assert atoms.pbc.all()


def test_crystal_size_and_given_constants():
    atoms = crystal("Cu", "fcc", (2, 3, 1), a=3.6)
    assert len(atoms) == 4 * 6
    np.testing.assert_allclose(atoms.cell.lengths(), [7.2, 10.8, 3.6])
    prim = crystal("Cu", "fcc", (1, 1, 1), a=3.6, cell="primitive")
    assert len(prim) == 1 and prim.info["system"] == "Cu-fcc-1x1x1-prim"
    orth = crystal("Mg", "hcp", (1, 1, 1), cell="orthogonal")
    assert len(orth) == 4
    np.testing.assert_allclose(orth.cell.angles(), [90, 90, 90], atol=1e-9)


def test_derived_lattice_constants_follow_documented_rules():
    al_fcc = lattice_constants("Al", "fcc")
    assert al_fcc.a == pytest.approx(4.05) and al_fcc.source == "reference"
    # close-packed-like from close-packed reference: equal atomic volume
    for lat in ("hcp", "dhcp", "bcc"):
        lc = lattice_constants("Al", lat)
        assert lc.source == "equal-volume"
        assert lc.atomic_volume == pytest.approx(al_fcc.atomic_volume, rel=1e-12)
    mg = lattice_constants("Mg", "hcp")
    assert mg.c / mg.a == pytest.approx(1.624)
    assert lattice_constants("Mg", "dhcp").c == pytest.approx(2 * mg.c)
    # open lattices: Pauling's rule d = d_ref + 0.6 log10(Z/Z_ref)
    sc = lattice_constants("Al", "sc")
    assert sc.source == "pauling"
    assert sc.nearest_neighbour_distance == pytest.approx(
        al_fcc.nearest_neighbour_distance + 0.6 * math.log10(6 / 12)
    )
    assert 2.6 < sc.a < 2.8  # PBE relaxes sc Al near 2.7 Å
    dia = lattice_constants("Al", "diamond")
    assert 5.8 < dia.a < 6.1
    # diamond reference (Si): fcc from Pauling, bond longer than in diamond
    si_fcc = lattice_constants("Si", "fcc")
    assert si_fcc.nearest_neighbour_distance > lattice_constants("Si", "diamond").a * 3**0.5 / 4


def test_crystal_errors_name_the_problem():
    with pytest.raises(StructureSpecError, match="Mn"):
        lattice_constants("Mn", "fcc")
    with pytest.raises(StructureSpecError, match="unknown lattice"):
        crystal("Al", "bct")
    with pytest.raises(StructureSpecError, match="unknown chemical element"):
        crystal("Qq", "fcc")
    with pytest.raises(StructureSpecError, match="size"):
        crystal("Al", "fcc", (2, 0, 1))
    assert lattice_constants("Mn", "fcc", a=3.6).a == 3.6


def test_dhcp_has_half_fcc_like_half_hcp_like_sites():
    atoms = crystal("Al", "dhcp", (3, 3, 1), a=2.86, c=2 * 2.86 * math.sqrt(8 / 3))
    d = 2.86
    i, dist = neighbor_list("id", atoms, 1.7 * d)
    # ideal hcp-like sites have 2 neighbours at sqrt(8/3) d = 1.633 d, fcc-like sites none
    n_1633 = np.bincount(i[np.abs(dist - math.sqrt(8 / 3) * d) < 0.01], minlength=len(atoms))
    assert sorted(set(n_1633)) == [0, 2]
    assert np.sum(n_1633 == 2) == np.sum(n_1633 == 0) == len(atoms) // 2
    hcp = crystal("Al", "hcp", (3, 3, 2), a=2.86, c=2.86 * math.sqrt(8 / 3))
    i, dist = neighbor_list("id", hcp, 1.7 * d)
    n_hcp = np.bincount(i[np.abs(dist - math.sqrt(8 / 3) * d) < 0.01], minlength=len(hcp))
    assert set(n_hcp) == {2}


def test_scale_changes_lengths_by_alpha():
    atoms = crystal("Al", "fcc", (2, 2, 2))
    s = scale(atoms, 0.96)
    assert s.get_volume() == pytest.approx(atoms.get_volume() * 0.96**3)
    np.testing.assert_allclose(s.get_scaled_positions(), atoms.get_scaled_positions(), atol=1e-12)
    assert s.info["system"] == "Al-fcc-2x2x2:alpha=0.9600"
    assert s.info["alpha"] == pytest.approx(0.96)


def test_atom_perturbation_rms_is_sigma_a():
    atoms = crystal("Al", "fcc", (3, 3, 3))
    rng = np.random.default_rng(0)
    disp = np.concatenate(
        [perturb(atoms, rng, sigma_a=0.05, sigma_c=0.0).positions - atoms.positions
         for _ in range(100)]
    )
    rms = np.sqrt(np.mean(np.sum(disp**2, axis=1)))
    assert rms == pytest.approx(0.05, rel=0.02)  # 10800 samples: stat. error ~0.5 %
    assert np.abs(disp.mean(axis=0)).max() < 3 * 0.05 / np.sqrt(3 * len(disp))
    comp_std = disp.std(axis=0)  # isotropic
    np.testing.assert_allclose(comp_std, 0.05 / np.sqrt(3), rtol=0.03)


def test_cell_perturbation_rms_is_sigma_c_and_has_no_rotation():
    atoms = crystal("Mg", "hcp", (2, 2, 2))
    rng = np.random.default_rng(1)
    rel = []
    for _ in range(1500):
        p = perturb(atoms, rng, sigma_a=0.0, sigma_c=0.03)
        dv = p.cell.array - atoms.cell.array
        rel.append(np.linalg.norm(dv, axis=1) / atoms.cell.lengths())
        deform = np.linalg.solve(atoms.cell.array, p.cell.array)  # I + E
        np.testing.assert_allclose(deform, deform.T, atol=1e-12)
        np.testing.assert_allclose(p.get_scaled_positions(wrap=False),
                                   atoms.get_scaled_positions(wrap=False), atol=1e-9)
    rms = np.sqrt(np.mean(np.square(rel), axis=0))
    np.testing.assert_allclose(rms, 0.03, rtol=0.05)  # each cell vector separately
    strain = random_strain(np.random.default_rng(2), 0.0)
    assert not strain.any()


def test_scaled_and_perturbed_counts_and_ids():
    atoms = crystal("Al", "fcc", (1, 1, 1))
    out = scaled_and_perturbed([atoms], np.random.default_rng(0), [0.96, 1.0, 1.04], 3,
                               keep_unperturbed=True)
    assert len(out) == 3 * 4
    assert len({a.info["system"] for a in out}) == 3
    assert [a.info["perturbation"] for a in out[:4]] == [0, 1, 2, 3]
    assert np.allclose(out[0].positions, scale(atoms, 0.96).positions)


def test_composition_counts_largest_remainder():
    assert composition_counts(32, {"Al": 0.75, "Mg": 0.25}) == {"Al": 24, "Mg": 8}
    c = composition_counts(10, {"Al": 1, "Mg": 1, "Si": 1})
    assert sum(c.values()) == 10 and max(c.values()) - min(c.values()) <= 1
    with pytest.raises(StructureSpecError, match="Zz"):
        composition_counts(4, {"Zz": 1.0})
    with pytest.raises(StructureSpecError, match=">= 0"):
        composition_counts(4, {"Al": -0.5, "Mg": 1.0})


def test_random_alloy_exact_composition_and_uniform_sites():
    host = crystal("Al", "fcc", (2, 2, 2))
    rng = np.random.default_rng(3)
    n_real = 800
    mg = np.zeros(len(host))
    for _ in range(n_real):
        alloy = random_alloy(host, {"Al": 0.75, "Mg": 0.25}, rng)
        syms = np.array(alloy.get_chemical_symbols())
        assert np.sum(syms == "Mg") == 8 and np.sum(syms == "Al") == 24
        mg += syms == "Mg"
        np.testing.assert_array_equal(alloy.positions, host.positions)
    assert alloy.info["system"] == "Al-fcc-2x2x2:Al24Mg8"
    # every site is Mg with probability 1/4: chi-square over 32 sites
    expected = n_real * 0.25
    chi2 = np.sum((mg - expected) ** 2 / (expected * 0.75))
    assert chi2 < 70  # 31 dof: P(chi2 > 70) < 1e-4
    assert abs(alloy.get_masses()[syms == "Mg"][0] - 24.305) < 0.01


def test_parse_plane_forms():
    assert parse_plane("111", "fcc") == (1, 1, 1)
    assert parse_plane("(2 2 0)", "fcc") == (1, 1, 0)
    assert parse_plane("10-10", "hcp") == (1, 0, 0)
    assert parse_plane("11-20", "hcp") == (1, 1, 0)
    assert parse_plane((0, 0, 0, 1), "hcp") == (0, 0, 1)
    for bad, lat in (("10-10", "fcc"), ("1-100x", "hcp"), ("000", "fcc"), ("11-10", "hcp")):
        with pytest.raises(StructureSpecError):
            parse_plane(bad, lat)


@pytest.mark.parametrize(
    ("lattice", "plane", "n_per_layer_cell"),
    [("fcc", "100", 2), ("fcc", "110", 2), ("fcc", "111", 1),
     ("hcp", "0001", 2), ("hcp", "10-10", 2), ("hcp", "11-20", 1), ("bcc", "110", 1)],
)
def test_oriented_crystal_is_the_perfect_crystal(lattice, plane, n_per_layer_cell):
    atoms = oriented_crystal("Al", lattice, plane, layers=3, size=(2, 2))
    lc = lattice_constants("Al", lattice)
    cn = _coordination(atoms, 1.05 * lc.nearest_neighbour_distance)
    assert set(cn) == {COORDINATION[lattice]}
    assert atoms.get_volume() / len(atoms) == pytest.approx(lc.atomic_volume, rel=1e-9)
    # the plane normal is z and the plane's lattice vectors lie in xy
    assert abs(atoms.cell[0, 2]) < 1e-9 and abs(atoms.cell[1, 2]) < 1e-9
    assert len(atomic_layers(atoms)) == 3 * n_per_layer_cell


def _layer_heights(atoms):
    return np.array([atoms.positions[layer[0], 2] for layer in atomic_layers(atoms)])


@pytest.mark.parametrize(("lattice", "plane"), [("fcc", "100"), ("fcc", "110"), ("fcc", "111"),
                                                ("hcp", "0001"), ("hcp", "10-10"),
                                                ("hcp", "11-20")])
def test_separation_opens_one_interface_by_d(lattice, plane):
    el = "Al" if lattice == "fcc" else "Mg"
    ref, moved = displaced_crystals(el, lattice, [plane], [0.0, 1.7], layers=4)
    z0 = np.sort(np.unique(np.round(ref.positions[:, 2], 6)))
    z1 = np.sort(np.unique(np.round(moved.positions[:, 2], 6)))
    gaps0 = np.append(np.diff(z0), ref.cell[2, 2] - z0[-1] + z0[0])
    gaps1 = np.append(np.diff(z1), moved.cell[2, 2] - z1[-1] + z1[0])
    changed = np.flatnonzero(np.abs(gaps1 - gaps0) > 1e-6)
    assert len(changed) == 1
    assert gaps1[changed[0]] - gaps0[changed[0]] == pytest.approx(1.7, abs=1e-9)
    assert gaps0[changed[0]] == pytest.approx(gaps0.max())  # cut in a widest gap
    assert moved.info["system"] == f"{el}-{lattice}({plane})-2x2x4:sep"
    assert len(moved) == len(ref) and moved.get_volume() > ref.get_volume()


def test_slide_shifts_upper_half_in_plane_and_keeps_periodic_interface():
    base = oriented_crystal("Al", "fcc", "111", layers=6, size=(2, 2))
    d_nn = lattice_constants("Al", "fcc").nearest_neighbour_distance
    a1_unit = base.cell[0] / 2  # a[1-10]-type vector of the cubic cell: 2 d_nn long
    assert np.linalg.norm(a1_unit) == pytest.approx(2 * d_nn)
    half = displace_halves(base, d_nn / 2, mode="slide")  # half a nearest-neighbour vector
    u = np.array(half.info["displacement"])
    assert abs(u[2]) < 1e-12 and np.linalg.norm(u) == pytest.approx(d_nn / 2)
    np.testing.assert_allclose(np.cross(u, a1_unit), 0, atol=1e-12)
    # heights unchanged; exactly the upper layers moved by u
    np.testing.assert_allclose(np.sort(_layer_heights(half)), np.sort(_layer_heights(base)),
                               atol=1e-9)
    layers = atomic_layers(base)
    cut = half.info["cut_layer"]
    lower, upper = np.concatenate(layers[:cut]), np.concatenate(layers[cut:])
    cn = _coordination(half, 1.05 * d_nn)
    # atoms of the two layers at the cut lose neighbours (atop-like stacking fault path),
    # all others keep the perfect 12: the periodic-boundary interface is intact
    at_cut = np.concatenate([layers[cut - 1], layers[cut]])
    others = np.setdiff1d(np.arange(len(half)), at_cut)
    assert set(cn[others]) == {12}
    assert (cn[at_cut] < 12).all()
    assert len(lower) + len(upper) == len(half)
    np.testing.assert_allclose(half.positions[upper] - base.positions[upper] - u, 0, atol=1e-9)
    np.testing.assert_allclose(half.positions[lower], base.positions[lower], atol=1e-9)
    # a lattice vector of the plane restores the perfect crystal everywhere
    full = displace_halves(base, d_nn, mode="slide")
    assert set(_coordination(full, 1.05 * d_nn)) == {12}


def test_displacement_errors():
    base = oriented_crystal("Al", "fcc", "111", layers=1, size=(1, 1))
    with pytest.raises(StructureSpecError, match="at least two atomic layers"):
        displace_halves(base, 1.0)
    base = oriented_crystal("Al", "fcc", "111", layers=2)
    with pytest.raises(StructureSpecError, match="mode"):
        displace_halves(base, 1.0, mode="twist")
    with pytest.raises(StructureSpecError, match="direction"):
        displace_halves(base, 1.0, mode="slide", direction=(0, 0))


def test_slab_vacuum_and_surface_coordination():
    s = slab(oriented_crystal("Al", "fcc", "111", layers=5, size=(2, 2)), vacuum=9.0)
    z = s.positions[:, 2]
    assert s.cell[2, 2] - (z.max() - z.min()) == pytest.approx(9.0)
    assert s.pbc.all() and s.info["system"] == "Al-fcc(111)-2x2x5:slab"
    d_nn = lattice_constants("Al", "fcc").nearest_neighbour_distance
    cn = _coordination(s, 1.05 * d_nn)
    layers = atomic_layers(s)
    assert set(cn[layers[0]]) == {9} and set(cn[layers[-1]]) == {9}  # fcc(111) surface
    assert set(cn[np.concatenate(layers[1:-1])]) == {12}
