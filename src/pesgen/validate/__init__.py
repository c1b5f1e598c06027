"""Materials-property tests of a model against a reference (the paper's section III).

Public API::

    from pesgen.validate import run_validation, load_config, report_section
    from pesgen.validate import LabelerCalculator, parse_reference, make_reference_calculator
    results = run_validation(PesgenCalculator(model), make_reference_calculator(parse_reference("meam", ["Al"])),
                             load_config("test.toml"), elements=["Al"])
    html = report_section(results)

The command line is ``pesgen test MODEL --reference REF`` (:mod:`pesgen.validate.commands`).
Names are imported lazily so that the CLI does not pay for ASE/phonopy at start-up.
"""

from __future__ import annotations

import importlib

_LAZY = {
    "LabelerCalculator": "calculators", "load_model_calculator": "calculators",
    "make_reference_calculator": "calculators", "parse_reference": "calculators",
    "ValidateConfig": "config", "load_config": "config", "parse_config": "config",
    "RelaxationError": "errors", "ValidationConfigError": "errors", "ValidationError": "errors",
    "ValidationInputError": "errors", "report_section": "report", "run_validation": "runner",
    "print_results": "table", "write_json": "table",
}
__all__ = sorted(_LAZY)


def __getattr__(name: str):
    if name in _LAZY:
        value = getattr(importlib.import_module(f"pesgen.validate.{_LAZY[name]}"), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'pesgen.validate' has no attribute {name!r}")
