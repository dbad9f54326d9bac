"""The ELBO-style objective that trains weights and widths jointly (AWN, Errica et al. 2025)."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from awgnn.width.adaptive_width import AdaptiveWidth, stacked_rates
from awgnn.width.training import adaptive_widths
from awgnn.width.validation import check_finite_positive, check_int_at_least

# Where the width prior pulls unless told otherwise (neurons a layer); the width-convergence study chose it.
DEFAULT_WIDTH_PRIOR_CENTRE = 16


class ELBOTerms(NamedTuple):
    """The minibatch loss and its parts (all scalar tensors)."""

    total: Tensor
    data: Tensor
    weight_prior: Tensor
    rate_prior: Tensor


class ELBOLoss:
    r"""Negative ELBO per training observation, for one minibatch.

    .. math::
        \mathcal L_B = \frac{1}{M}\sum_{i\in B} \ell(\hat y_i, y_i)
            + \frac{1}{N}\sum_\theta \frac{\theta^2}{2\sigma_\theta^2}
            + \frac{1}{N}\sum_l \Big[\ln\sigma_\lambda
              + \frac{(\lambda_l-\mu_\lambda)^2}{2\sigma_\lambda^2}\Big]
            + \frac{1}{N}\sum_l \Big[\ln s
              + \frac{(\ln\lambda_l-\ln\lambda_c)^2}{2 s^2}\Big]

    The weight prior covers every parameter of the model except the raw rates
    (biases, norms, GIN's eps and readouts included). The rate prior (the AWN
    paper's, on :math:`\lambda`) is active only when ``rate_prior_std`` is set;
    lowering it during training pulls the rates towards ``rate_prior_mean``
    ("online compression").

    The width prior is a normal prior on :math:`\ln\lambda_l`, active only
    when ``width_prior_std`` is set. Since the width is about
    :math:`-\ln(1-k)/\lambda`, it is a log-normal prior on the width itself,
    centred on ``width_prior_centre`` neurons (:math:`\lambda_c` is the rate of
    that width for each layer's ``k``) with ``width_prior_std`` :math:`s` in
    natural-log units (1 means "within a factor e"). Unlike the prior on
    :math:`\lambda`, whose pull on a wide layer vanishes with :math:`\lambda`,
    it pulls with the same strength per factor of width from both sides, so
    narrow and wide starts meet where the data's push balances it. Both priors
    are divided by :math:`N` like the weight prior: the more data, the further
    the data can move a width from the centre.

    Args:
        n_observations: the real number of training observations :math:`N`
            (e.g. ``len(train_dataset)``); it sets the priors' strength.
        weight_prior_std: :math:`\sigma_\theta` (default 10, the AWN graph setting).
        rate_prior_mean: :math:`\mu_\lambda`, required with ``rate_prior_std``.
        rate_prior_std: :math:`\sigma_\lambda`, or ``None`` for no prior on the rate.
        width_prior_centre: the width (neurons a layer) the width prior pulls
            towards; default :data:`DEFAULT_WIDTH_PRIOR_CENTRE` (16), a small
            layer, so that a layer grows past it only where the data asks.
        width_prior_std: :math:`s`, or ``None`` for no width prior.
        data_loss: per-batch mean loss ``(prediction, target) -> scalar``
            (default cross-entropy).
    """

    def __init__(
        self,
        n_observations: int,
        *,
        weight_prior_std: float = 10.0,
        rate_prior_mean: float | None = None,
        rate_prior_std: float | None = None,
        width_prior_centre: int = DEFAULT_WIDTH_PRIOR_CENTRE,
        width_prior_std: float | None = None,
        data_loss: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    ) -> None:
        self.n_observations = check_int_at_least("n_observations", n_observations, 1)
        self.weight_prior_std = check_finite_positive("weight_prior_std", weight_prior_std)
        if (rate_prior_mean is None) != (rate_prior_std is None):
            raise ValueError("rate_prior_mean and rate_prior_std must be given together")
        self.rate_prior_mean = (
            None if rate_prior_mean is None else check_finite_positive("rate_prior_mean", rate_prior_mean)
        )
        self.rate_prior_std = rate_prior_std
        self.width_prior_centre = check_int_at_least("width_prior_centre", width_prior_centre, 2)
        self.width_prior_std = (
            None if width_prior_std is None else check_finite_positive("width_prior_std", width_prior_std)
        )
        self.data_loss = data_loss

    @property
    def rate_prior_std(self) -> float | None:
        return self._rate_prior_std

    @rate_prior_std.setter
    def rate_prior_std(self, value: float | None) -> None:
        if value is not None:
            value = check_finite_positive("rate_prior_std", value)
            if self.rate_prior_mean is None:
                raise ValueError("set rate_prior_mean before rate_prior_std")
        self._rate_prior_std = value

    def __call__(self, model: nn.Module, prediction: Tensor, target: Tensor) -> ELBOTerms:
        if prediction.numel() == 0:  # the mean loss of no observations is NaN, which would train on silently
            raise ValueError(
                f"ELBOLoss got an empty batch: prediction of shape {tuple(prediction.shape)}; "
                "skip empty batches or check the loader's indices, masks and batch_size"
            )
        data = self.data_loss(prediction, target)
        parameters, widths = self._parts(model)
        # Frozen parameters are not trained, so they carry no prior; read per call, as it may be toggled.
        weights = [p for p in parameters if p.requires_grad]
        squares = _SumOfSquares.apply(*weights) if weights else data.new_zeros(())
        weight_prior = squares / (2 * self.weight_prior_std**2 * self.n_observations)
        total = data + weight_prior
        priors = self._rate_priors(widths)
        rate_prior = sum(priors[1:], priors[0]) if priors else data.new_zeros(())
        return ELBOTerms(total + rate_prior if priors else total, data, weight_prior, rate_prior)

    @staticmethod
    def _parts(model: nn.Module) -> tuple[list[Tensor], list[AdaptiveWidth]]:
        """The parameters under the weight prior (all but the rates) and the widths.

        Looked up on every call, never cached: ``load_state_dict(assign=True)``
        and parameters added after the first call replace or extend the
        model's tensors, and the prior must cover the ones the model holds now.
        """
        widths = [w for _, w in adaptive_widths(model)]
        rate_ids = {id(w.raw_rate) for w in widths}
        return [p for p in model.parameters() if id(p) not in rate_ids], widths

    def _rate_priors(self, widths: list[AdaptiveWidth]) -> list[Tensor]:
        """The active priors on the rates (none, one or both); inactive ones cost no operator."""
        if not widths or (self.rate_prior_std is None and self.width_prior_std is None):
            return []
        rates = stacked_rates(widths)
        priors = []
        if self.rate_prior_std is not None:
            sigma, mu = self.rate_prior_std, self.rate_prior_mean
            priors.append((rates - mu).square().sum() / (2 * sigma**2) + len(rates) * math.log(sigma))
        if self.width_prior_std is not None:
            s = self.width_prior_std
            centres = rates.new_tensor(
                [math.log(w.distribution.rate_for_width(self.width_prior_centre, w.k)) for w in widths]
            )
            priors.append((rates.log() - centres).square().sum() / (2 * s**2) + len(widths) * math.log(s))
        return [prior / self.n_observations for prior in priors]

    def __repr__(self) -> str:
        prior = (
            ""
            if self.rate_prior_std is None
            else (f", rate_prior_mean={self.rate_prior_mean:g}, rate_prior_std={self.rate_prior_std:g}")
        )
        if self.width_prior_std is not None:
            prior += f", width_prior_centre={self.width_prior_centre}, width_prior_std={self.width_prior_std:g}"
        return (
            f"{type(self).__name__}(n_observations={self.n_observations}, "
            f"weight_prior_std={self.weight_prior_std:g}{prior})"
        )


class _SumOfSquares(torch.autograd.Function):
    r""":math:`\sum_\theta \theta^2` over tensors, with the gradient :math:`2\theta` of each in one operator.

    Through autograd's own operators the weight prior costs a reshape, a slice
    and a view per parameter (about a hundred operators a step on a small
    GIN); here it is a handful whatever the number of parameters.
    """

    @staticmethod
    def forward(ctx: Any, *tensors: Tensor) -> Tensor:
        ctx.save_for_backward(*tensors)
        return torch.stack(torch._foreach_norm(tensors)).square().sum()

    @staticmethod
    def backward(ctx: Any, grad: Tensor) -> tuple[Tensor, ...]:
        return tuple(torch._foreach_mul(ctx.saved_tensors, 2 * grad))
