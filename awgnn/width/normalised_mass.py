r"""Importances of several widths of one distribution family, with the rates' gradient in closed form.

The importance of neuron :math:`j` of a width with rate
:math:`\lambda = \mathrm{softplus}(w)` and support :math:`S` is the normalised
mass :math:`f(j) = m(j) / Z`, :math:`Z = \sum_{i<S} m(i)`. Its derivative is

.. math::
    \frac{\partial f(j)}{\partial \lambda} = \frac{m'(j) - f(j) \sum_{i<S} m'(i)}{Z},
    \qquad m' = \partial m / \partial \lambda,

so the rate's gradient is one dot product of the incoming gradient with that
slope. Through autograd's own operators the same gradient takes a dozen small
operators per width in the backward pass (and on a GPU every one is a kernel
launch); here it takes six for all the widths of a family together. The
entries of all widths lie in one flat vector (:class:`SupportLayout`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor

from awgnn.width.distributions import WidthDistribution

# torch.nn.functional.softplus' defaults; its exact backward needs them.
_SOFTPLUS_BETA, _SOFTPLUS_THRESHOLD = 1.0, 20.0


class SupportLayout(NamedTuple):
    """Where each width's support lies in the flat vector of all entries.

    Attributes:
        supports: the support :math:`S_l` of each width, in order.
        index: ``[sum(supports)]``, the neuron index :math:`j < S_l` of each entry.
        segment: ``[sum(supports)]`` (long), the width :math:`l` each entry belongs to.
    """

    supports: tuple[int, ...]
    index: Tensor
    segment: Tensor


def support_layout(supports: Sequence[int], like: Tensor) -> SupportLayout:
    """The flat layout of ``supports``, on ``like``'s device; ``index`` has ``like``'s dtype."""
    device = like.device
    if len(supports) > 1 and not torch.compiler.is_compiling():
        # A few operators whatever the number of widths (Python lists of every entry cost more).
        sizes = torch.tensor(supports, device=device)
        total = sum(supports)
        segment = torch.repeat_interleave(sizes, output_size=total)
        starts = (sizes.cumsum(0) - sizes).to(like.dtype)
        index = torch.arange(total, dtype=like.dtype, device=device) - starts.index_select(0, segment)
        return SupportLayout(tuple(supports), index, segment)
    # Sizes stay symbolic under torch.compile, so a resize does not force a recompilation.
    indices = [torch.arange(support, dtype=like.dtype, device=device) for support in supports]
    segments = [torch.full((support,), row, device=device) for row, support in enumerate(supports)]
    return SupportLayout(tuple(supports), _joined(indices), _joined(segments))


def _joined(parts: list[Tensor]) -> Tensor:
    return parts[0] if len(parts) == 1 else torch.cat(parts)


def normalised_masses(
    distribution: WidthDistribution, layout: SupportLayout, widths: Sequence[int], raw_rates: Sequence[Tensor]
) -> tuple[Tensor, ...]:
    r"""The importances :math:`f_l(0..D_l-1)` of widths that share ``distribution``, one vector per width.

    ``raw_rates`` are the raw rates :math:`w_l` (0-dim tensors, rate
    :math:`\mathrm{softplus}(w_l)`); ``widths`` the :math:`D_l \le S_l`. The
    vectors are views of one tensor. Values and derivatives equal those of
    autograd through :meth:`WidthDistribution.unnormalised_mass`; a backward
    pass with ``create_graph=True`` (second derivatives) goes through
    autograd's own operators.
    """
    return _NormalisedMasses.apply(distribution, layout, tuple(widths), *raw_rates)


def _segment_sums(values: Tensor, segment: Tensor, rows: int) -> Tensor:
    return values.new_zeros(rows).index_add_(0, segment, values)


def _flat_importances(
    distribution: WidthDistribution, layout: SupportLayout, raw: Tensor
) -> tuple[Tensor, Tensor, Tensor]:
    """The importances of every entry of ``layout``, the mass's rate derivative and each entry's total mass.

    ``raw`` holds the raw rates, one per width.
    """
    rate = F.softplus(raw).index_select(0, layout.segment)
    mass, derivative = distribution.mass_and_rate_derivative(layout.index, rate)
    total = _segment_sums(mass, layout.segment, len(raw)).index_select(0, layout.segment)
    return mass / total, derivative, total


class _NormalisedMasses(torch.autograd.Function):
    @staticmethod
    def forward(
        ctx: Any, distribution: WidthDistribution, layout: SupportLayout, widths: tuple[int, ...], *raw_rates: Tensor
    ) -> tuple[Tensor, ...]:
        raw = torch.stack(raw_rates)
        importances, derivative, total = _flat_importances(distribution, layout, raw)
        if any(ctx.needs_input_grad[3:]):
            spread = _segment_sums(derivative, layout.segment, len(raw)).index_select(0, layout.segment)
            ctx.save_for_backward((derivative - importances * spread) / total, raw, *raw_rates)
            ctx.distribution, ctx.layout, ctx.widths = distribution, layout, widths
        rows = importances.split(layout.supports)
        return tuple(
            row if width == support else row[:width] for row, width, support in zip(rows, widths, layout.supports)
        )

    @staticmethod
    def backward(ctx: Any, *grads: Tensor) -> tuple[Tensor | None, ...]:
        slope, raw, *raw_rates = ctx.saved_tensors
        layout = ctx.layout
        # A width below its support (after a truncation) has no gradient on its tail.
        grad = torch.cat(
            [
                grad if width == support else F.pad(grad, (0, support - width))
                for grad, width, support in zip(grads, ctx.widths, layout.supports)
            ]
        )
        if torch.is_grad_enabled():
            # create_graph: a gradient that can be differentiated again, through autograd's own operators.
            importances = _flat_importances(ctx.distribution, layout, torch.stack(raw_rates))[0]
            learned = [rate for rate in raw_rates if rate.requires_grad]
            grad_learned = iter(torch.autograd.grad(importances, learned, grad, create_graph=True))
            return (None, None, None, *(next(grad_learned) if r.requires_grad else None for r in raw_rates))
        grad_rate = _segment_sums(grad * slope, layout.segment, len(raw_rates))
        grad_raw = torch.ops.aten.softplus_backward(grad_rate, raw, _SOFTPLUS_BETA, _SOFTPLUS_THRESHOLD)
        return (None, None, None, *grad_raw.unbind(0))
