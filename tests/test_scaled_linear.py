"""AdaptiveLinear's row-scaled forward: the formula, and gradients of every order equal to autograd's."""
import pytest
import torch
import torch.nn.functional as F

from awgnn import AdaptiveLinear, AdaptiveWidth
from awgnn.width.linear import _RowScaledLinear


def plain_scaled_linear(x, weight, bias, scale):
    return F.linear(x, weight * scale.unsqueeze(-1), None if bias is None else bias * scale)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("input_shape", [(7, 4), (2, 3, 4)])
def test_row_scaled_linear_equals_scaling_the_rows(bias, input_shape):
    torch.manual_seed(0)
    linear = AdaptiveLinear(4, AdaptiveWidth(initial_width=5), bias=bias).double()
    x = torch.randn(*input_shape, dtype=torch.float64, requires_grad=True)
    scale = torch.rand(5, dtype=torch.float64, requires_grad=True)
    inputs = (x, linear.weight, linear.bias, scale)
    got = linear(x, scale=scale)
    expected = plain_scaled_linear(*inputs)
    assert got.shape == (*input_shape[:-1], 5)
    torch.testing.assert_close(got, expected)
    wanted = [t for t in inputs if t is not None]
    upstream = torch.randn_like(got)
    for g, e in zip(torch.autograd.grad(got, wanted, upstream), torch.autograd.grad(expected, wanted, upstream)):
        torch.testing.assert_close(g, e)
    assert torch.autograd.gradcheck(_RowScaledLinear.apply, inputs)
    assert torch.autograd.gradgradcheck(_RowScaledLinear.apply, inputs)


def test_only_the_gradients_asked_for_are_computed():
    linear = AdaptiveLinear(3, 4).double()
    x = torch.randn(6, 3, dtype=torch.float64)  # the first layer: no gradient to the input
    scale = torch.rand(4, dtype=torch.float64, requires_grad=True)
    linear.weight.requires_grad_(False)
    out = linear(x, scale=scale)
    (grad_scale,) = torch.autograd.grad(out.sum(), scale)
    torch.testing.assert_close(grad_scale, linear.weight @ x.sum(0) + linear.bias * x.shape[0])
    assert linear.weight.grad is None
