"""The version of the meterr package."""

__version__ = "0.1.0"
