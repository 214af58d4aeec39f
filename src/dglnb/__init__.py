"""dglnb: the executable companion of DGL (Wei, Luo & Luo, ICCV 2025).

Layers, each importing only from those below it (checked by ``tests/test_layers.py``)::

    cli                        the dglnb command
    analysis                   tables, checks, dynamics, eq. 8, figures: what the book reads from runs
    train                      the loop, a run from its config, the run cache, sweeps
    methods                    one training step per method (DGL and the comparison methods)
    models                     encoders, fusions, classifiers, segmenters
    data                       datasets and their preparation
    config                     TrainConfig and the profiles
    errors registry paths      foundations (theory imports nothing of dglnb's)
    progress figure_style
    metrics paper theory

The public API, importable from ``dglnb`` itself: :func:`~dglnb.methods.routing.dgl_loss` (DGL as a
loss for any model, in any training loop), :class:`~dglnb.config.train_config.TrainConfig`,
:func:`~dglnb.train.run.check_settings`, :func:`~dglnb.train.cache.train_seeds`,
:func:`~dglnb.train.run.load_trained`, :func:`~dglnb.train.run.resolve`,
:func:`~dglnb.train.cache.summarize`; one run is ``dglnb.train.train(config)`` (``dglnb.train`` is
the training layer).
"""

from importlib import import_module
from typing import Any

__version__ = "0.2.0"

_PUBLIC = {
    "dgl_loss": "dglnb.methods.routing",
    "TrainConfig": "dglnb.config",
    "check_settings": "dglnb.train",
    "load_trained": "dglnb.train",
    "resolve": "dglnb.train",
    "summarize": "dglnb.train",
    "train_seeds": "dglnb.train",
}
__all__ = ["__version__", *_PUBLIC]


def __getattr__(name: str) -> Any:
    """The public API, imported on first use (so ``import dglnb.theory`` does not load the training stack)."""
    if name in _PUBLIC:
        return getattr(import_module(_PUBLIC[name]), name)
    raise AttributeError(f"module 'dglnb' has no attribute {name!r}")
