"""The top-level API: dir() lists the public names, pesgen.train is the trainer itself."""

import inspect

import pesgen
from pesgen.training.trainer import train


def test_dir_lists_public_names():
    assert set(pesgen.__all__) <= set(dir(pesgen))
    for name in pesgen.__all__:
        assert getattr(pesgen, name) is not None


def test_train_is_a_plain_function():
    assert pesgen.train is train
    assert inspect.isfunction(pesgen.train)
    assert list(inspect.signature(pesgen.train).parameters)[:2] == ["data", "config"]
    assert "Train an ensemble" in pesgen.train.__doc__
