"""Value domains of config fields, declared on the fields themselves as `Annotated` hints.

Every field of an agent's static config and hyperparameters (and every loop key in
rlscale.config.LoopKeys) is annotated with one of the aliases here, or one built from them: a
`Domain` (what the field takes, in words, for error messages) plus the pydantic constraints that
enforce it. `rlscale.config.resolve` validates a user's value against its field's hint; a test
checks that no field lacks a `Domain`.

Numbers refuse bools (`utd: true` is not 1) and floats refuse nan, inf and magnitudes beyond
float32 (hyperparameters are float32 leaves: 1e39 would be inf); an int field refuses 2.5. A
subclass that re-declares a field with a plain type of the same kind, only to change its default,
keeps the domain of the class that first declared it (`field_hints`).
"""

from __future__ import annotations

import dataclasses
import math
import typing
from typing import Annotated, Any, Literal

import pydantic
from pydantic import Field

RUN_LENGTH = -1.0  # lr_decay_updates: decay over the run's own number of updates
FLOAT32_MAX = 3.4028234663852886e38  # hyperparameters become float32 array leaves


@dataclasses.dataclass(frozen=True)
class Domain:
    """What values a field takes, in words (the constraints beside it in the hint enforce it)."""

    text: str


def _not_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("a bool is not a number")
    return value


NOT_BOOL = pydantic.BeforeValidator(_not_bool)


def integer(text: str, **bounds: Any) -> Any:
    """An int field: a bool or a fractional number is refused; `bounds` are pydantic's gt/ge/..."""
    return Annotated[int, Domain(text), NOT_BOOL, Field(**bounds)]


def _float32(value: float) -> float:
    if abs(value) > FLOAT32_MAX:
        raise ValueError(f"beyond float32 (|x| <= {FLOAT32_MAX:.4g}): it would become inf")
    return value


def number(text: str, **bounds: Any) -> Any:
    """A finite float field (nan, inf, bools and values float32 would make inf refused)."""
    return Annotated[
        float,
        Domain(text),
        NOT_BOOL,
        Field(allow_inf_nan=False, **bounds),
        pydantic.AfterValidator(_float32),
    ]


def one_of(*names: str) -> Any:
    """A string field taking one of `names` (listed in the error)."""
    return Annotated[Literal[names], Domain(f"one of {', '.join(map(repr, names))}")]


PositiveInt = integer("an integer > 0", gt=0)
NonNegativeInt = integer("an integer >= 0", ge=0)
PositiveFloat = number("a finite number > 0", gt=0)
NonNegativeFloat = number("a finite number >= 0", ge=0)
FiniteFloat = number("a finite number")
Discount = number("a discount in [0, 1)", ge=0, lt=1)
PolyakRate = number("a rate in (0, 1]", gt=0, le=1)
AdamBeta = number("a decay rate in [0, 1)", ge=0, lt=1)
Flag = Annotated[bool, Domain("true or false"), pydantic.Strict()]


def _decay_updates(value: float) -> float:
    if value not in (0.0, RUN_LENGTH) and value <= 0:
        raise ValueError("must be 0, -1 or > 0")
    return value


DecayUpdates = Annotated[
    float,
    Domain("0 (constant learning rate), -1 (decay over the run's own updates) or a count > 0"),
    NOT_BOOL,
    Field(allow_inf_nan=False),
    pydantic.AfterValidator(_float32),
    pydantic.AfterValidator(_decay_updates),
]
EnvSteps = Annotated[
    tuple[Annotated[int, NOT_BOOL, Field(gt=0)], ...], Domain("a list of env steps > 0")
]


def between(low: float, high: float, text: str) -> Any:
    """A finite float in the open interval (low, high)."""
    return number(f"{text} in ({low:.3g}, {high:.3g})", gt=low, lt=high)


def exp_between(low: float, high: float, text: str) -> Any:
    """A finite float in (e^low, e^high)."""
    return number(
        f"{text} in (e^{low:g}, e^{high:g}) = ({math.exp(low):.3g}, {math.exp(high):.3g})",
        gt=math.exp(low),
        lt=math.exp(high),
    )


def domain_of(hint: Any) -> Domain | None:
    """The `Domain` in an `Annotated` hint, or None."""
    if typing.get_origin(hint) is not Annotated:
        return None
    return next((m for m in hint.__metadata__ if isinstance(m, Domain)), None)


def _plain(hint: Any) -> Any:
    """The plain type under an `Annotated` hint (str for a Literal of strings)."""
    hint = hint.__origin__
    return type(typing.get_args(hint)[0]) if typing.get_origin(hint) is Literal else hint


def field_hints(cls: type) -> dict[str, Any]:
    """Field name -> its `Annotated` hint (domain included) for a dataclass or NamedTuple.

    A field re-declared in a subclass with the plain type of its base's hint (to change the
    default only) keeps the base's hint.
    """
    hints = typing.get_type_hints(cls, include_extras=True)
    for name, hint in hints.items():
        if domain_of(hint) is not None:
            continue
        for base in cls.__mro__[1:]:
            inherited = typing.get_type_hints(base, include_extras=True).get(name)
            if domain_of(inherited) is not None and _plain(inherited) == hint:
                hints[name] = inherited
                break
    return hints
