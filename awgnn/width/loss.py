"""The ELBO-style objective that trains weights and widths jointly (METHOD.md section 4)."""
from __future__ import annotations

import math
from collections.abc import Callable
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from awgnn.width.adaptive_width import AdaptiveWidth
from awgnn.width.training import adaptive_widths
from awgnn.width.validation import check_finite_positive, check_int_at_least


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

    The weight prior covers every parameter of the model except the raw rates
    (biases, norms, GIN's eps and readouts included). The rate prior is active
    only when ``rate_prior_std`` is set; lowering it during training pulls the
    rates towards ``rate_prior_mean`` ("online compression").

    Args:
        n_observations: the real number of training observations :math:`N`
            (e.g. ``len(train_dataset)``); it sets the priors' strength.
        weight_prior_std: :math:`\sigma_\theta` (default 10, the AWN graph setting).
        rate_prior_mean: :math:`\mu_\lambda`, required with ``rate_prior_std``.
        rate_prior_std: :math:`\sigma_\lambda`, or ``None`` for no width prior.
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
        data_loss: Callable[[Tensor, Tensor], Tensor] = F.cross_entropy,
    ) -> None:
        self.n_observations = check_int_at_least("n_observations", n_observations, 1)
        self.weight_prior_std = check_finite_positive("weight_prior_std", weight_prior_std)
        if (rate_prior_mean is None) != (rate_prior_std is None):
            raise ValueError("rate_prior_mean and rate_prior_std must be given together")
        self.rate_prior_mean = None if rate_prior_mean is None else check_finite_positive(
            "rate_prior_mean", rate_prior_mean)
        self.rate_prior_std = rate_prior_std
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
        data = self.data_loss(prediction, target)
        parameters, widths = self._parts(model)
        # Frozen parameters are not trained, so they carry no prior; read per call, as it may be toggled.
        weights = [p for p in parameters if p.requires_grad]
        # One concatenation instead of a square and a sum per parameter: fewer, larger kernels.
        squares = torch.cat([p.reshape(-1) for p in weights]).square().sum() if weights else data.new_zeros(())
        weight_prior = squares / (2 * self.weight_prior_std**2 * self.n_observations)
        rate_prior = self._rate_prior([w.rate for w in widths], data)
        return ELBOTerms(data + weight_prior + rate_prior, data, weight_prior, rate_prior)

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

    def _rate_prior(self, rates: list[Tensor], like: Tensor) -> Tensor:
        if self.rate_prior_std is None or not rates:
            return like.new_zeros(())
        sigma, mu = self.rate_prior_std, self.rate_prior_mean
        log_density = torch.stack([math.log(sigma) + (r - mu) ** 2 / (2 * sigma**2) for r in rates]).sum()
        return log_density / self.n_observations

    def __repr__(self) -> str:
        prior = "" if self.rate_prior_std is None else (
            f", rate_prior_mean={self.rate_prior_mean:g}, rate_prior_std={self.rate_prior_std:g}")
        return (f"{type(self).__name__}(n_observations={self.n_observations}, "
                f"weight_prior_std={self.weight_prior_std:g}{prior})")
