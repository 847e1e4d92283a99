"""Kubernetes memory quantities ("64Mi", "128M", "1Gi") to bytes and back, as people write them."""

from __future__ import annotations

from .errors import ConfigError

__all__ = ["format_bytes", "format_quantity", "parse_quantity"]

_SUFFIXES = {
    "Ki": 1024,
    "Mi": 1024**2,
    "Gi": 1024**3,
    "Ti": 1024**4,
    "k": 1000,
    "K": 1000,
    "M": 1000**2,
    "G": 1000**3,
    "T": 1000**4,
    "": 1,
}


def parse_quantity(value: str | int) -> int:
    """Bytes in a Kubernetes memory quantity; ``ConfigError`` naming the value if it is not one."""
    if isinstance(value, int) and not isinstance(value, bool):
        if value <= 0:
            raise ConfigError(f"memory quantity must be positive, got {value}")
        return value
    text = str(value).strip()
    for suffix in sorted(_SUFFIXES, key=len, reverse=True):
        if suffix and text.endswith(suffix):
            number, factor = text[: -len(suffix)], _SUFFIXES[suffix]
            break
    else:
        number, factor = text, 1
    try:
        amount = float(number)
    except ValueError:
        raise ConfigError(
            f"not a memory quantity: {value!r}", hint="write it as Kubernetes does, e.g. 64Mi"
        ) from None
    if amount <= 0:
        raise ConfigError(f"memory quantity must be positive, got {value!r}")
    return int(amount * factor)


def format_quantity(size: int) -> str:
    """The shortest exact binary quantity for ``size`` bytes ("64Mi"), else bytes."""
    for suffix in ("Ti", "Gi", "Mi", "Ki"):
        factor = _SUFFIXES[suffix]
        if size % factor == 0:
            return f"{size // factor}{suffix}"
    return str(size)


def format_bytes(size: float) -> str:
    """A human figure for a byte count: "63.8 MiB"."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if abs(value) < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"
