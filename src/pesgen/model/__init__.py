"""Deep Potential (DeepPot-SE, se_e2_a): descriptor, networks, statistics, ensembles, file format.

Pure torch. Knows nothing of files other than its own model format.
"""
