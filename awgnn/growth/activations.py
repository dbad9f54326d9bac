"""Second derivatives of hidden activations, with a smooth surrogate at ReLU-type kinks."""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.func import grad, vmap

from awgnn.width.validation import check_finite_positive


class SecondDerivative:
    r"""The second derivative :math:`\sigma''(a)` of an element-wise activation, used by S2D.

    ReLU-type activations have :math:`\sigma'' = 0` almost everywhere, so
    splitting could never look useful; as in the S2D reference, the kink is
    replaced by that of :math:`\mathrm{softplus}_\beta(a) = \log(1 + e^{\beta a}) / \beta`:

    .. math::
        \mathrm{ReLU}: \ \beta s (1 - s), \quad s = \mathrm{sigmoid}(\beta a); \qquad
        \mathrm{LeakyReLU}_\alpha: \ (1 - \alpha)\, \beta s (1 - s); \qquad
        \mathrm{ReLU6}: \ \beta s_0 (1 - s_0) - \beta s_6 (1 - s_6),

    with :math:`s_c = \mathrm{sigmoid}(\beta (a - c))` (ReLU6 is
    :math:`\mathrm{ReLU}(a) - \mathrm{ReLU}(a - 6)`). Any other activation
    (tanh, sigmoid, ELU, GELU, SiLU) is differentiated twice by autograd.

    Args:
        activation: the activation module.
        beta: sharpness :math:`\beta` of the surrogate (reference: 3).
    """

    def __init__(self, activation: nn.Module, beta: float = 3.0) -> None:
        self.activation = activation
        self.beta = check_finite_positive("beta", beta)

    def __call__(self, a: Tensor) -> Tensor:
        if isinstance(self.activation, nn.LeakyReLU):
            return (1.0 - self.activation.negative_slope) * self._kink(a)
        if isinstance(self.activation, nn.ReLU6):
            return self._kink(a) - self._kink(a - 6.0)
        if isinstance(self.activation, nn.ReLU):
            return self._kink(a)
        second = vmap(grad(grad(self.activation)))
        return second(a.detach().reshape(-1)).reshape(a.shape)

    def _kink(self, a: Tensor) -> Tensor:
        s = torch.sigmoid(self.beta * a)
        return self.beta * s * (1.0 - s)
