"""dglnb: the executable companion of DGL (Wei, Luo & Luo, ICCV 2025)."""

__version__ = "0.1.0"
