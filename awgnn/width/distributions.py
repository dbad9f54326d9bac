"""Families of decreasing distributions over neuron indices.

A width distribution assigns every neuron index ``j = 0, 1, 2, ...`` an
unnormalised mass that decreases with ``j``, parameterised by a positive rate.
It decides two things for an adaptive layer (AWN, Errica et al. 2025):

* the *truncation width* ``D``: how many neurons exist, from the ``k``-quantile;
* the *importances* ``f(0..D-1)``: the mass renormalised over the kept support.

A new family (power law, sigmoidal, ...) is one subclass of
:class:`WidthDistribution` implementing its three methods.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod

import torch
from torch import Tensor

from awgnn.width.validation import check_finite_positive, check_quantile


class WidthDistribution(ABC):
    """A decreasing distribution over neuron indices with one positive rate."""

    @abstractmethod
    def unnormalised_mass(self, index: Tensor, rate: Tensor) -> Tensor:
        """Mass of each neuron index, differentiable with respect to ``rate``."""

    def mass_and_rate_derivative(self, index: Tensor, rate: Tensor) -> tuple[Tensor, Tensor]:
        """The unnormalised mass and its derivative with respect to the rate, entry by entry.

        ``index`` and ``rate`` broadcast against each other, and each entry's
        mass depends on its own index and rate only. The default differentiates
        :meth:`unnormalised_mass` in forward mode; a family may override it with
        its closed form.
        """
        return torch.func.jvp(lambda r: self.unnormalised_mass(index, r), (rate,), (torch.ones_like(rate),))

    @abstractmethod
    def truncation_width(self, rate: float, k: float) -> int:
        """Number of neurons kept at quantile ``k`` for ``rate``."""

    @abstractmethod
    def rate_for_width(self, width: int, k: float) -> float:
        """A rate whose truncation width is exactly ``width``, well inside the rates that give it.

        A capped layer's rate is projected here, so rounding the rate (float32)
        must not change its width.
        """

    def check_max_width(self, max_width: int) -> None:  # noqa: B027 (every cap suits a family unless it says so)
        """Raise ``ValueError`` if this family cannot be capped at ``max_width``."""


class DiscretisedExponential(WidthDistribution):
    r"""Exponential distribution discretised over neuron indices (AWN).

    .. math::
        \tilde p(j) = e^{-\lambda j}\,(1 - e^{-\lambda}) + \varepsilon,
        \qquad D = \left\lfloor -\ln(1-k)/\lambda + \text{offset} \right\rfloor

    ``floor`` (:math:`\varepsilon`, default ``1e-6``) keeps every neuron's mass
    positive; ``offset`` (default 2) makes the smallest width 2. Both defaults
    are those of the AWN reference release.
    """

    def __init__(self, floor: float = 1e-6, offset: int = 2) -> None:
        if not (math.isfinite(floor) and floor >= 0):
            raise ValueError(f"floor must be a finite number >= 0, got {floor!r}")
        if not (isinstance(offset, int) and offset >= 1):
            raise ValueError(f"offset must be an integer >= 1, got {offset!r}")
        self.floor = floor
        self.offset = offset

    def unnormalised_mass(self, index: Tensor, rate: Tensor) -> Tensor:
        return self._mass(index, rate)[0]

    def mass_and_rate_derivative(self, index: Tensor, rate: Tensor) -> tuple[Tensor, Tensor]:
        mass, decay, step = self._mass(index, rate)
        # d/dlambda of e^{-lambda j} (1 - e^{-lambda}) is e^{-lambda j} (1 - (j + 1)(1 - e^{-lambda})).
        return mass, decay * (1 - (index + 1) * step)

    def _mass(self, index: Tensor, rate: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """The mass, e^{-lambda j} and 1 - e^{-lambda}."""
        negative = -rate
        decay = torch.exp(negative * index)
        step = -torch.expm1(negative)
        return decay * step + self.floor, decay, step

    def truncation_width(self, rate: float, k: float) -> int:
        check_finite_positive("rate", rate)
        check_quantile(k)
        return math.floor(-math.log1p(-k) / rate + self.offset)

    def rate_for_width(self, width: int, k: float) -> float:
        if not (isinstance(width, int) and width >= self.offset):
            raise ValueError(f"width must be an integer >= {self.offset} for {type(self).__name__}, got {width!r}")
        # Aim at the middle of the interval of rates that floor to `width`.
        return -math.log1p(-k) / (width - self.offset + 0.5)

    def check_max_width(self, max_width: int) -> None:
        if max_width <= self.offset:
            raise ValueError(
                f"max_width must be > {self.offset} for {type(self).__name__} "
                f"(its smallest width is {self.offset}), got {max_width}"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}(floor={self.floor:g}, offset={self.offset})"
