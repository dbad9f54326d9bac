"""Splitting steepest descent (S2D, Liu, Wang, Wu et al., NeurIPS 2019), exact and fast."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth.activations import SecondDerivative
from awgnn.growth.layer import GrowableLayer
from awgnn.growth.statistics import LossFunction, node_gradients
from awgnn.growth.step import SELECTIONS, GrowthBudget, GrowthResult, check_number, resolve_layers, select
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice, check_finite_positive, check_int_at_least

EIGEN_METHODS: tuple[str, ...] = ("eigh", "rayleigh")


class SplittingMatrices:
    r"""The splitting matrices of every neuron of one layer, from per-node statistics.

    With :math:`b_n = [x_n \,|\, 1]`, :math:`a_{nj} = \theta_j^\top b_n` and
    :math:`g_{nj} = \partial L / \partial h_{nj}` (:math:`h = \sigma(a)`),

    .. math::
        S_j = \sum_n c_{nj}\, b_n b_n^\top, \qquad c_{nj} = g_{nj}\, \sigma''(a_{nj}),

    and with a hidden batch norm, in eval mode :math:`h = \sigma(s_j a + t_j)`
    (:meth:`GrowableLayer.normalisation`), :math:`c_{nj} = g_{nj}\, s_j^2\,
    \sigma''(s_j a_{nj} + t_j)`;

    the sum running over the nodes of all statistics batches. Splitting neuron
    :math:`j` into :math:`\theta_j \pm \delta`, each with half its outgoing
    column, changes the loss by :math:`\tfrac12 \delta^\top S_j \delta + O(\|\delta\|^3)`:
    :math:`S_j` is the Hessian of the loss with respect to the offset at
    :math:`\delta = 0` (the first derivative vanishes).

    The rows are kept (``N (d + 1 + D)`` numbers), so that the fast variant can
    apply :math:`S_j` without forming it.

    Args:
        inputs: :math:`b`, shape ``(N, d + 1)``.
        coefficients: :math:`c`, shape ``(N, D)``.
    """

    def __init__(self, inputs: Tensor, coefficients: Tensor) -> None:
        if inputs.dim() != 2 or coefficients.dim() != 2 or inputs.shape[0] != coefficients.shape[0]:
            raise ValueError(
                f"inputs (N, d + 1) and coefficients (N, D) need the same N, got {tuple(inputs.shape)} "
                f"and {tuple(coefficients.shape)}"
            )
        self.inputs, self.coefficients = inputs, coefficients

    def dense(self, chunk: int = 4096) -> Tensor:
        """Every :math:`S_j`, shape ``(D, d + 1, d + 1)``, summed over rows ``chunk`` at a time."""
        neurons, size = self.coefficients.shape[1], self.inputs.shape[1]
        out = self.inputs.new_zeros(neurons, size, size)
        for start in range(0, self.inputs.shape[0], chunk):
            b, c = self.inputs[start : start + chunk], self.coefficients[start : start + chunk]
            out += torch.einsum("nj,nd,ne->jde", c, b, b)
        return out

    def apply(self, vectors: Tensor) -> Tensor:
        r""":math:`S_j v_j` for every neuron, ``vectors`` of shape ``(D, d + 1)``, in :math:`O(N d D)`.

        .. math:: S_j v_j = \sum_n c_{nj}\, (b_n^\top v_j)\, b_n
        """
        return ((self.inputs @ vectors.T) * self.coefficients).T @ self.inputs

    def minimum_eigenpairs(self) -> tuple[Tensor, Tensor]:
        """Exact :math:`\\lambda_{\\min}(S_j)`, shape ``(D,)``, and unit eigenvectors, ``(D, d + 1)``, by ``eigh``.

        Decomposed in float64: with one-hot node features :math:`S_j` is exactly
        singular (the bias coordinate is the sum of the others), and float32
        ``eigh`` can fail to converge on such matrices when a batch norm's slope
        scales their entries up.
        """
        dense = self.dense()
        values, vectors = torch.linalg.eigh(dense.double())
        return values[:, 0].to(dense.dtype), vectors[:, :, 0].to(dense.dtype)

    def fast_minimum_eigenpairs(self, iterations: int = 200, tol: float = 1e-6) -> tuple[Tensor, Tensor]:
        r"""Estimated minimum eigenpairs, by minimising the Rayleigh quotient without forming :math:`S_j`.

        :math:`R(v) = v^\top S_j v / v^\top v` is minimised by locally optimal
        gradient steps: :math:`v` becomes the minimising unit vector of
        :math:`\mathrm{span}(v, r, p)`, with :math:`r = S_j v - R(v) v` the
        gradient direction and :math:`p` the previous step (a 3x3 Rayleigh-Ritz
        problem; steepest descent with momentum and exact line search). Each
        iteration costs three :meth:`apply`, :math:`O(N d D)` each; no
        :math:`(d+1) \times (d+1)` matrix is formed or decomposed. The start is
        the coordinate of the smallest diagonal entry of :math:`S_j`. A neuron
        stops when :math:`\|r\| \le \mathrm{tol} \sum_n |c_{nj}| \|b_n\|^2`
        (a bound on :math:`\|S_j\|`). The estimate is a Rayleigh quotient,
        never below :math:`\lambda_{\min}(S_j)`.

        Returns:
            Rayleigh quotients, shape ``(D,)``, and unit vectors, shape ``(D, d + 1)``.
        """
        check_int_at_least("iterations", iterations, 1)
        check_number("tol", tol, 0.0)
        b, c = self.inputs, self.coefficients
        size = b.shape[1]
        diagonal = c.T @ b.square()
        start = torch.nn.functional.one_hot(diagonal.argmin(1), size).to(b.dtype)
        # A small spread over every coordinate, so that a start on an eigenvector still moves.
        vectors = _normalised(start + 1e-2 / size**0.5)
        step = torch.zeros_like(vectors)
        bound = c.abs().T @ b.square().sum(1)
        for _ in range(iterations):
            applied = self.apply(vectors)
            quotient = (vectors * applied).sum(1)
            residual = applied - quotient.unsqueeze(1) * vectors
            moving = residual.norm(dim=1) > tol * bound
            if not bool(moving.any()):
                break
            # Householder QR gives an orthonormal basis even when r or p vanish or are dependent.
            basis = torch.linalg.qr(torch.stack([vectors, residual, step], 2)).Q
            applied_basis = torch.stack([self.apply(basis[:, :, k]) for k in range(basis.shape[2])], 2)
            ritz = basis.transpose(1, 2) @ applied_basis
            _, coordinates = torch.linalg.eigh(0.5 * (ritz + ritz.transpose(1, 2)))
            best = _normalised((basis @ coordinates[:, :, :1]).squeeze(2))
            # Sign fixed so that the step p = best - v is small near convergence.
            best = best * torch.where((best * vectors).sum(1, keepdim=True) < 0, -1.0, 1.0)
            step = torch.where(moving.unsqueeze(1), best - vectors, torch.zeros_like(step))
            vectors = torch.where(moving.unsqueeze(1), best, vectors)
        applied = self.apply(vectors)
        return (vectors * applied).sum(1), vectors


def splitting_matrices(
    model: nn.Module,
    layers: Sequence[GrowableLayer],
    batches: Iterable[Any],
    loss_fn: LossFunction,
    beta: float = 3.0,
) -> list[SplittingMatrices]:
    """The :class:`SplittingMatrices` of every layer over ``batches`` (see :func:`node_gradients`).

    ``beta`` sets the softplus surrogate of :math:`\\sigma''` for ReLU-type
    activations (:class:`SecondDerivative`).
    """
    seconds = [SecondDerivative(layer.activation, beta) for layer in layers]
    incoming = [layer.incoming for layer in layers]
    norms = [layer.normalisation() for layer in layers]
    rows: list[list[tuple[Tensor, Tensor]]] = [[] for _ in layers]
    for batch in node_gradients(model, layers, batches, loss_fn):
        for i, stats in enumerate(batch):
            scale, shift = norms[i]
            z = (stats.inputs @ incoming[i].T) * scale + shift
            rows[i].append((stats.inputs, stats.hidden * seconds[i](z) * scale.square()))
    if not rows[0]:
        raise ValueError("batches is empty")
    return [SplittingMatrices(torch.cat([b for b, _ in r]), torch.cat([c for _, c in r])) for r in rows]


class S2DGrowth:
    r"""One S2D growth step: split the neurons whose splitting matrix is most negative.

    For every neuron :math:`j` of every layer, the minimum eigenpair
    :math:`(\lambda_j, v_j)` of its :class:`SplittingMatrices` :math:`S_j`;
    the neurons with the most negative :math:`\lambda_j` over all layers
    (``selection="global"``, as the reference code; or, with ``"per_layer"``,
    each layer's own most negative up to its share of the budget,
    :func:`~awgnn.growth.step.select_per_layer`; at most the budget, never
    :math:`\lambda_j \ge 0`, never past a width's ``max_width``) are split into :math:`\theta_j \pm \varepsilon v_j`
    (:math:`\|v_j\| = 1`), each offspring with half the outgoing column. The
    function is unchanged at :math:`\varepsilon = 0`; to second order the
    loss changes by :math:`\tfrac{\varepsilon^2}{2} \sum_j \lambda_j`, the
    ``predicted_change`` of the result.

    Usage::

        fix_hidden_widths_(model)                      # plain layers, width set by growth
        step = S2DGrowth(fraction=0.3, eps=1e-2)
        result = step.grow_(model, train_loader, loss_fn, optimizer)

    with ``loss_fn(model, batch)`` the batch's (summed) training loss.

    Args:
        num_neurons: neurons to add per step over all layers, or
        fraction: of the current total number of neurons (reference: 0.3).
        eps: the split offset :math:`\varepsilon` (reference: 1e-2).
        method: ``"eigh"`` (exact, batched :func:`torch.linalg.eigh`) or
            ``"rayleigh"`` (the fast variant,
            :meth:`SplittingMatrices.fast_minimum_eigenpairs`).
        beta: sharpness of the ReLU surrogate :math:`\sigma''` (reference: 3).
        iterations, tol: of the fast variant.
        selection: ``"global"`` or ``"per_layer"`` (see above).
    """

    def __init__(
        self,
        num_neurons: int | None = None,
        *,
        fraction: float | None = None,
        eps: float = 1e-2,
        method: str = "eigh",
        beta: float = 3.0,
        iterations: int = 200,
        tol: float = 1e-6,
        selection: str = "global",
    ) -> None:
        self.budget = GrowthBudget(num_neurons, fraction)
        self.eps = check_number("eps", eps, 0.0)
        self.method = check_choice("method", method, EIGEN_METHODS)
        self.beta = check_finite_positive("beta", beta)
        self.iterations = check_int_at_least("iterations", iterations, 1)
        self.tol = check_number("tol", tol, 0.0)
        self.selection = check_choice("selection", selection, SELECTIONS)

    def eigenpairs(self, matrices: SplittingMatrices) -> tuple[Tensor, Tensor]:
        """The minimum eigenpairs of one layer by this step's ``method``."""
        if self.method == "eigh":
            return matrices.minimum_eigenpairs()
        return matrices.fast_minimum_eigenpairs(self.iterations, self.tol)

    def grow_(
        self,
        model: nn.Module,
        batches: Iterable[Any],
        loss_fn: LossFunction,
        optimizer: Optimizer | None = None,
        *,
        layers: Iterable[GrowableLayer] | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
    ) -> GrowthResult:
        """Gather the statistics over ``batches``, choose and split, in place.

        ``layers`` defaults to every :func:`growable_layers` of ``model``.
        ``optimizer`` and ``optimizer_state`` as in :meth:`GrowableLayer.grow_`.
        """
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        layers = resolve_layers(model, layers)
        pairs = [self.eigenpairs(m) for m in splitting_matrices(model, layers, batches, loss_fn, self.beta)]
        chosen = select([values for values, _ in pairs], self.budget(layers), layers, self.selection)
        grown, predicted = [], 0.0
        for layer, (values, vectors), parents in zip(layers, pairs, chosen):
            predicted += 0.5 * self.eps**2 * float(values[parents].sum())
            empty = vectors.new_zeros(0, vectors.shape[1])
            grown.append(
                layer.grow_(
                    parents,
                    self.eps * vectors[parents],
                    empty,
                    vectors.new_zeros(layer.outgoing.shape[0], 0),
                    optimizer,
                    optimizer_state,
                )
            )
        return GrowthResult(grown, predicted)


def _normalised(vectors: Tensor) -> Tensor:
    return vectors / vectors.norm(dim=1, keepdim=True)
