"""DP-GEN interoperability: its run parameters (param.json, machine.json) as a pesgen config
(``pesgen import-dpgen``). Reading DP-GEN's data is :mod:`pesgen.data.dpgen_run`."""
