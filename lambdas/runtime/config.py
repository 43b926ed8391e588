"""Reading a step's configuration from environment variables, with errors people understand."""

from __future__ import annotations

from collections.abc import Mapping

from lambdas.domain.errors import ConfigurationError


def required_env(environ: Mapping[str, str], name: str) -> str:
    """The variable's value; a ConfigurationError naming it when it is missing or empty."""
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigurationError(f"environment variable {name} is not set; this function needs it")
    return value


def number_env(
    environ: Mapping[str, str], name: str, default: float, low: float, high: float
) -> float:
    """A number within [low, high] from the variable, or ``default`` when it is unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise ConfigurationError(
            f"environment variable {name}={raw!r} is not a number (expected {low:g} to {high:g})"
        ) from None
    if not low <= value <= high:
        raise ConfigurationError(
            f"environment variable {name}={raw!r} is out of range (expected {low:g} to {high:g})"
        )
    return value


def choice_env(
    environ: Mapping[str, str], name: str, default: str, allowed: tuple[str, ...]
) -> str:
    """One of ``allowed`` (case-insensitive) from the variable, or ``default`` when unset."""
    raw = environ.get(name, "").strip()
    if not raw:
        return default
    if raw.upper() not in allowed:
        raise ConfigurationError(
            f"environment variable {name}={raw!r} must be one of {', '.join(allowed)}"
        )
    return raw.upper()
