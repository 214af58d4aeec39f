"""The one style of the book's figures, applied with a context rather than set at import::

    with style():
        fig, ax = plt.subplots()
        ...

Inside the block matplotlib draws with seaborn's ``ticks`` style in its ``paper`` context (text near
9 pt), the colour-blind palette, no top or right spine and 110 dpi; on leaving it every global
setting of matplotlib is as it was. Draw a figure and save or display it inside the block: some
parts of a figure (ticks added when it is drawn again) read the settings when they are drawn.
"""

from __future__ import annotations

from contextlib import contextmanager
from typing import Any, Iterator

SETTINGS: dict[str, Any] = {
    "axes.spines.top": False,
    "axes.spines.right": False,
    "figure.dpi": 110,
    "legend.frameon": False,
}  #: set over seaborn's style and context


def settings() -> dict[str, Any]:
    """The matplotlib settings :func:`style` applies: seaborn's ``ticks`` style, ``paper`` context and
    ``colorblind`` palette, with :data:`SETTINGS` over them."""
    import seaborn as sns
    from matplotlib.rcsetup import cycler

    return {
        **sns.axes_style("ticks"),
        **sns.plotting_context("paper"),
        "axes.prop_cycle": cycler(color=sns.color_palette("colorblind")),
        **SETTINGS,
    }


@contextmanager
def style() -> Iterator[None]:
    """Draw the figures made inside the block in the book's style (:func:`settings`); matplotlib's
    global settings are restored on leaving it, also after an error."""
    import matplotlib as mpl

    with mpl.rc_context(settings()):
        yield
