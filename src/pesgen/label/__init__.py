"""Labelers: ASE calculators, LAMMPS and EMT oracles, GPAW; failure types."""
