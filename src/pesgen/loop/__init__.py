"""Config schema, run directory, the iteration state machine, convergence."""
