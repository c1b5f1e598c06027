"""Structure builders shared by exploration and validation (all lengths in Å).

``crystals`` (lattices, lattice constants, unit cells), ``orient`` (cells oriented to a plane),
``surfaces`` (slabs, distinct Miller indices), ``alloys`` (random and ordered alloys),
``perturb`` (scaling, random strain and displacement), ``displace`` (rigidly displaced halves).
"""
