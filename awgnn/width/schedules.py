"""Schedules that change the objective during training: rate-prior annealing (AWN, Errica et al. 2025).

Annealing the rate prior is the AWN paper's "online compression": the prior
on every rate, :math:`\\lambda_l \\sim \\mathcal N(\\mu_\\lambda, \\sigma_\\lambda^2)`,
is off at first so that widths settle on what the data asks for, then its
standard deviation shrinks, which pulls the rates towards :math:`\\mu_\\lambda`.
A :math:`\\mu_\\lambda` above the learned rates means narrower layers
(:math:`\\lambda = 0.05` is about 48 neurons at ``k = 0.9``).
"""

from __future__ import annotations

from numbers import Integral

from awgnn.width.loss import ELBOLoss
from awgnn.width.validation import check_finite_positive, check_int_at_least


class RatePriorAnnealing:
    r"""Turn on, then linearly tighten, the rate prior of an :class:`~awgnn.ELBOLoss`.

    .. math::
        \sigma_\lambda(e) = \begin{cases}
            \text{off} & e < e_0 \\
            \sigma_0 + (\sigma_1 - \sigma_0)\,\frac{e - e_0}{e_1 - e_0} & e_0 \le e \le e_1 \\
            \sigma_1 & e > e_1
        \end{cases}

    Call :meth:`step` with the epoch number at the start of every epoch::

        loss = awgnn.ELBOLoss(len(train))
        annealing = RatePriorAnnealing(loss, mean=0.05, start_epoch=1000, end_epoch=2500,
                                       initial_std=0.1, final_std=0.01)
        for epoch in range(epochs):
            annealing.step(epoch)
            ...  # train one epoch with ``loss``

    The schedule is a pure function of the epoch (:meth:`std_at`), so a resumed
    run only needs to call :meth:`step` with the epoch it resumes at. While the
    prior is off the loss has no rate prior at all (mean and standard deviation
    ``None``); once on, the schedule owns both values and overwrites any the
    loss had.

    Args:
        loss: the objective whose ``rate_prior_mean`` / ``rate_prior_std`` are set.
        mean: :math:`\mu_\lambda`, the rate the prior pulls towards.
        start_epoch: :math:`e_0`, first epoch with the prior on (at ``initial_std``).
        end_epoch: :math:`e_1 > e_0`, first epoch at ``final_std``.
        initial_std: :math:`\sigma_0`, the prior's standard deviation at ``start_epoch``.
        final_std: :math:`\sigma_1 \le \sigma_0`, its standard deviation from ``end_epoch`` on
            (the AWN reference uses a tenth of :math:`\sigma_0`).
    """

    def __init__(
        self,
        loss: ELBOLoss,
        mean: float,
        start_epoch: int,
        end_epoch: int,
        initial_std: float,
        final_std: float,
    ) -> None:
        if not isinstance(loss, ELBOLoss):
            raise ValueError(f"loss must be an awgnn.ELBOLoss, got {type(loss).__name__}")
        self.loss = loss
        self.mean = check_finite_positive("mean", mean)
        self.start_epoch = check_int_at_least("start_epoch", start_epoch, 0)
        self.end_epoch = check_int_at_least("end_epoch", end_epoch, self.start_epoch + 1)
        self.initial_std = check_finite_positive("initial_std", initial_std)
        self.final_std = check_finite_positive("final_std", final_std)
        if self.final_std > self.initial_std:
            raise ValueError(
                f"final_std={final_std!r} must not exceed initial_std={initial_std!r}: annealing tightens the prior"
            )

    def std_at(self, epoch: int) -> float | None:
        """The prior's standard deviation at ``epoch``, or ``None`` while it is off."""
        if isinstance(epoch, bool) or not isinstance(epoch, Integral) or epoch < 0:
            raise ValueError(f"epoch must be an integer >= 0, got {epoch!r}")
        if epoch < self.start_epoch:
            return None
        progress = min(1.0, (epoch - self.start_epoch) / (self.end_epoch - self.start_epoch))
        return self.initial_std + (self.final_std - self.initial_std) * progress

    def step(self, epoch: int) -> float | None:
        """Set the loss's rate prior for ``epoch``; return its standard deviation (``None``: off)."""
        std = self.std_at(epoch)
        if std is None:
            self.loss.rate_prior_std = None
            self.loss.rate_prior_mean = None
        else:
            # The loss accepts a standard deviation only once it has a mean.
            self.loss.rate_prior_mean = self.mean
            self.loss.rate_prior_std = std
        return std

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(mean={self.mean:g}, start_epoch={self.start_epoch}, "
            f"end_epoch={self.end_epoch}, initial_std={self.initial_std:g}, "
            f"final_std={self.final_std:g})"
        )
