"""Materials-property tests of a potential against a reference."""
