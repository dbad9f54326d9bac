"""TINY growth (Verbockhaven, Chevallier, Charpiat, arXiv 2405.19816), through GroMo's statistics and linear algebra.

GroMo (the optional extra ``growth``: ``gromo==0.1.0``, Python >= 3.11) is
imported on first use, so ``import awgnn.growth`` works without it.
"""

from __future__ import annotations

import contextlib
import importlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from types import ModuleType, TracebackType
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim import Optimizer

from awgnn.growth.layer import GrowableLayer
from awgnn.growth.statistics import LossFunction, node_gradients
from awgnn.growth.step import GrowthResult, check_number, resolve_layers
from awgnn.width.resize import OPTIMIZER_STATE_POLICIES, OptimizerStatePolicy
from awgnn.width.validation import check_choice, check_finite_positive, check_int_at_least

GAMMAS: tuple[float, ...] = (0.0, 2.0**-3, 2.0**-2, 2.0**-1, 1.0, 2.0)
# Per-node statistics of a GIN layer have singular values of 1e-5 to 4e-4 in awgnn's tests: GroMo's default
# threshold of 1e-3 would never grow such a layer.
DEFAULT_THRESHOLD = 1e-6
INSTALL_HINT = 'pip install "awgnn[growth]"'


def gromo_modules() -> tuple[ModuleType, ModuleType]:
    """GroMo's ``gromo.utils.tensor_statistic`` and ``gromo.utils.tools``, imported now.

    Raises:
        ImportError: GroMo is not installed; the message gives the install command.
    """
    try:
        # The package itself first: a submodule already in sys.modules would import even with the package gone.
        importlib.import_module("gromo")
        return importlib.import_module("gromo.utils.tensor_statistic"), importlib.import_module("gromo.utils.tools")
    except ImportError as error:
        raise ImportError(f"TINY growth needs GroMo (gromo==0.1.0, Python >= 3.11): {INSTALL_HINT}") from error


class TinyStatistics:
    r"""TINY's five statistics of one layer, averaged over per-node rows by GroMo's ``TensorStatistic``.

    For the layer :math:`u = W_2 h + b_2`, :math:`h = \sigma(W_1 x + b_1)`, and
    per-node rows :math:`b = [x \,|\, 1]` (input of the hidden linear),
    :math:`\bar h = [h \,|\, 1]` (input of the consumer, with the 1 of its bias)
    and :math:`g = \partial L / \partial u`:

    .. math::
        S = \mathbb E[\bar h \bar h^\top], \quad M = \mathbb E[\bar h g^\top], \quad
        S_b = \mathbb E[b b^\top], \quad M_{-2} = \mathbb E[b g^\top], \quad
        C = \mathbb E[b \bar h^\top],

    :math:`\mathbb E` the mean over every row of every batch (GroMo's
    per-sample mean; a sample is a node here). The names of the properties are
    GroMo's.

    Args:
        name: the layer's name, in GroMo's statistic names.
        device: where the statistics live (GroMo's default device otherwise).

    Shapes:
        - :attr:`tensor_s`: :math:`(D + 1, D + 1)`; :attr:`tensor_m`: :math:`(D + 1, F_{out})`
        - :attr:`tensor_s_growth`: :math:`(d + 1, d + 1)`; :attr:`tensor_m_prev`: :math:`(d + 1, F_{out})`
        - :attr:`cross_covariance`: :math:`(d + 1, D + 1)`
    """

    _FACTORS: dict[str, tuple[str, str]] = {
        "tensor_s": ("hidden", "hidden"),
        "tensor_m": ("hidden", "gradient"),
        "tensor_s_growth": ("inputs", "inputs"),
        "tensor_m_prev": ("inputs", "gradient"),
        "cross_covariance": ("inputs", "hidden"),
    }

    def __init__(self, name: str = "", device: torch.device | None = None) -> None:
        tensor_statistic = gromo_modules()[0].TensorStatistic
        self._statistics = {
            key: tensor_statistic(None, update_function=_outer_sum(left, right), device=device, name=f"{key}({name})")
            for key, (left, right) in self._FACTORS.items()
        }

    def update(self, inputs: Tensor, hidden: Tensor, gradient: Tensor) -> None:
        r"""Add one batch of rows: :math:`b` ``(N, d + 1)``, :math:`\bar h` ``(N, D + 1)``, :math:`g` ``(N, F_out)``."""
        rows = {"inputs": inputs, "hidden": hidden, "gradient": gradient}
        for statistic in self._statistics.values():
            # GroMo's TensorStatistic adds a batch only once after being told it is new.
            statistic.updated = False
            statistic.update(rows=rows)

    @property
    def samples(self) -> int:
        """The number of rows (nodes) averaged so far."""
        return self._statistics["tensor_s"].samples

    @property
    def tensor_s(self) -> Tensor:
        r""":math:`S = \mathbb E[\bar h \bar h^\top]`."""
        return self._statistics["tensor_s"]()

    @property
    def tensor_m(self) -> Tensor:
        r""":math:`M = \mathbb E[\bar h g^\top]`."""
        return self._statistics["tensor_m"]()

    @property
    def tensor_s_growth(self) -> Tensor:
        r""":math:`S_b = \mathbb E[b b^\top]`."""
        return self._statistics["tensor_s_growth"]()

    @property
    def tensor_m_prev(self) -> Tensor:
        r""":math:`M_{-2} = \mathbb E[b g^\top]`."""
        return self._statistics["tensor_m_prev"]()

    @property
    def cross_covariance(self) -> Tensor:
        r""":math:`C = \mathbb E[b \bar h^\top]`."""
        return self._statistics["cross_covariance"]()


def tiny_statistics(
    model: nn.Module, layers: Sequence[GrowableLayer], batches: Iterable[Any], loss_fn: LossFunction
) -> list[TinyStatistics]:
    """The :class:`TinyStatistics` of every layer over ``batches``, in float64.

    One pass of :func:`node_gradients`: eval mode (BatchNorm on its running
    statistics, which stay untouched), ``loss_fn(model, batch)`` the batch's
    summed loss, one row per node; no parameter's ``.grad`` changes.
    """
    if not layers:
        raise ValueError("layers must be a non-empty list of GrowableLayer, got []")
    statistics = [TinyStatistics(layer.name, layer.linear.weight.device) for layer in layers]
    consumed: dict[int, Tensor] = {}
    handles = [
        layer.consumer.register_forward_pre_hook(lambda module, args, i=i: consumed.__setitem__(i, args[0].detach()))
        for i, layer in enumerate(layers)
    ]
    try:
        # float64: S is ill-conditioned when neurons are nearly dead or alike, and its solve and
        # S_b^{-1/2} amplify rounding; the matrices are only (D + 1)- and (d + 1)-sized.
        for batch in node_gradients(model, layers, batches, loss_fn):
            for i, (stats, rows) in enumerate(zip(statistics, batch)):
                hidden = consumed[i].reshape(-1, consumed[i].shape[-1]).double()
                hidden = torch.cat([hidden, torch.ones_like(hidden[:, :1])], 1)
                stats.update(rows.inputs.double(), hidden, rows.output.double())
    finally:
        for handle in handles:
            handle.remove()
    if statistics[0].samples == 0:
        raise ValueError("batches is empty")
    return statistics


@dataclass(frozen=True)
class TinyNeurons:
    r"""The new neurons TINY gives one layer, from its :class:`TinyStatistics`.

    1. Best update of the existing outgoing weights: :math:`\delta W^* = (S^{-1} M)^\top`
       (GroMo's ``optimal_delta``; a pseudo-inverse when :math:`S` is singular).
    2. The part of the desired move that :math:`\delta W^*` cannot follow:
       :math:`N = -M_{-2} + C\, \delta W^{*\top}`.
    3. :math:`S_b^{-1/2} N = U \Sigma V^\top`; neuron :math:`k` has fan-in
       :math:`\alpha_k = \sqrt{\sigma_k}\, S_b^{-1/2} u_k` (bias last) and fan-out
       :math:`\omega_k = \sqrt{\sigma_k}\, v_k`, for the largest :math:`\sigma_k \ge`
       ``threshold``, at most ``max_neurons`` (GroMo's
       ``compute_optimal_added_parameters``; :math:`S_b^{-1/2}` drops the
       eigenvalues of :math:`S_b` below ``numerical_threshold``).

    That is what GroMo's ``GrowingModule.compute_optimal_updates`` computes with
    TINY's setting (``compute_delta=False, use_covariance=True,
    use_projection=True``), by the same two functions: the existing weights
    stay, only neurons are added. Since :math:`\delta W^*` is not applied, the
    loss change of neuron :math:`k` at scale :math:`\gamma` (see
    :class:`TinyExtension`), for an activation differentiable at 0 and
    :math:`n` rows, is to first order

    .. math::
        n \gamma^2 \sigma'(0)\, \alpha_k^\top M_{-2}\, \omega_k
        = n \gamma^2 \sigma'(0) \big(-\sigma_k^2 + \alpha_k^\top C\, \delta W^{*\top} \omega_k\big),

    not always a decrease: the line search of :class:`TinyGrowth` decides.

    :attr:`input_moment` is :math:`S_b`, which sets a hidden batch norm's
    entries for the new neurons (:meth:`GrowableLayer.grow_`).

    Shapes:
        - :attr:`fan_in`: :math:`(k, d + 1)`, rows :math:`\alpha_k^\top = [w \,|\, b]`
        - :attr:`fan_out`: :math:`(F_{out}, k)`
        - :attr:`singular_values`: :math:`(k,)`, decreasing
        - :attr:`input_moment`: :math:`(d + 1, d + 1)`
    """

    fan_in: Tensor
    fan_out: Tensor
    singular_values: Tensor
    input_moment: Tensor

    @property
    def count(self) -> int:
        """The number of neurons :math:`k`."""
        return self.singular_values.numel()

    @classmethod
    def from_statistics(
        cls, statistics: TinyStatistics, max_neurons: int, threshold: float, numerical_threshold: float = 1e-6
    ) -> TinyNeurons:
        """Steps 1 to 3 above, in the statistics' dtype (float64 from :func:`tiny_statistics`)."""
        check_int_at_least("max_neurons", max_neurons, 0)
        check_finite_positive("threshold", threshold)
        check_finite_positive("numerical_threshold", numerical_threshold)
        tools = gromo_modules()[1]
        delta, _ = tools.optimal_delta(statistics.tensor_s, statistics.tensor_m, dtype=statistics.tensor_s.dtype)
        goal = -statistics.tensor_m_prev + statistics.cross_covariance @ delta.T
        fan_in, fan_out, values = tools.compute_optimal_added_parameters(
            statistics.tensor_s_growth,
            goal,
            numerical_threshold=numerical_threshold,
            statistical_threshold=threshold,
            maximum_added_neurons=max_neurons,
        )
        # GroMo keeps its largest singular value even below the threshold; below it a neuron is noise.
        keep = values >= threshold
        return cls(fan_in[keep], fan_out[:, keep], values[keep], statistics.tensor_s_growth)


class TinyExtension:
    r"""A context in which a layer computes as if grown by :math:`\gamma`-scaled :class:`TinyNeurons`.

    Inside the ``with`` block the consumer's output is

    .. math:: u + \gamma\, \Omega\, \sigma(\gamma\, A\, b), \qquad b = [x \,|\, 1],

    :math:`A` = ``fan_in``, :math:`\Omega` = ``fan_out``, :math:`x` the
    hidden linear's input: the layer after :meth:`GrowableLayer.grow_` with
    fan-ins :math:`\gamma \alpha_k` and fan-outs :math:`\gamma \omega_k`
    (GroMo's ``extended_forward`` with ``scaling_factor`` :math:`\gamma`),
    without changing the model. At :math:`\gamma = 0` the added term is exactly
    zero: outputs and loss are the pre-growth ones, bit for bit. For a
    positively homogeneous :math:`\sigma` (ReLU, leaky ReLU) the added term is
    :math:`\gamma^2 \Omega \sigma(A b)`.

    Args:
        layer: the layer to extend (its hidden linear and consumer run once per forward).
        neurons: the neurons to add.
        gamma: the scale :math:`\gamma \ge 0`.
    """

    def __init__(self, layer: GrowableLayer, neurons: TinyNeurons, gamma: float) -> None:
        self.layer, self.neurons = layer, neurons
        self.gamma = check_number("gamma", gamma, 0.0)
        self._input: Tensor | None = None
        self._handles: list[torch.utils.hooks.RemovableHandle] = []

    def __enter__(self) -> TinyExtension:
        self._handles = [
            self.layer.linear.register_forward_pre_hook(self._record),
            self.layer.consumer.register_forward_hook(self._extend),
        ]
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles, self._input = [], None

    def _record(self, module: nn.Module, args: tuple[Any, ...]) -> None:
        self._input = args[0]

    def _extend(self, module: nn.Module, args: tuple[Any, ...], output: Tensor) -> Tensor:
        x = self._input
        fan_in = self.neurons.fan_in.to(dtype=x.dtype, device=x.device)
        fan_out = self.neurons.fan_out.to(dtype=x.dtype, device=x.device)
        pre = self.gamma * (x @ fan_in[:, :-1].T + fan_in[:, -1])
        return output + self.gamma * (self.layer.activation(pre) @ fan_out.T)


class TinyGrowth:
    r"""One TINY growth step: add the neurons that best realise the gradient's unreachable part.

    1. One statistics pass over ``batches`` (:func:`tiny_statistics`: eval
       mode, summed loss, per-node rows) gives every layer's
       :class:`TinyStatistics`; from them its :class:`TinyNeurons` (at most
       ``neurons_per_layer`` and the width's room, singular values
       :math:`\ge` ``threshold``).
    2. Layer after layer, in the order of ``layers``: the training loss
       :math:`L(\gamma) = \sum_{\text{batches}} \text{loss\_fn}` (eval mode)
       with the layer extended by :class:`TinyExtension` for every
       :math:`\gamma` in ``gammas``; the layer grows by the neurons at the
       best :math:`\gamma` (fan-ins :math:`\gamma \alpha_k`, fan-outs
       :math:`\gamma \omega_k`) through :meth:`GrowableLayer.grow_`, before
       the next layer's search, which so sees it. A layer whose best
       :math:`\gamma` is 0 does not grow: neurons with zero fan-in and
       fan-out would never receive a gradient. With 0 in ``gammas`` a step
       never raises :math:`L` (up to rounding).

    All neurons come from the statistics of the model before the step; the
    search measures the loss of what is applied. The result's
    ``predicted_change`` is that measured change of :math:`L` over
    ``batches`` (eval mode), summed over the layers.

    Cost: one forward and backward pass over ``batches``, then one forward
    pass for the loss before the step and one per non-zero :math:`\gamma` and
    grown layer; the linear algebra is on :math:`(D + 1)`- and
    :math:`(d + 1)`-sized matrices.

    Usage::

        fix_hidden_widths_(model)                      # plain layers, width set by growth
        step = TinyGrowth(neurons_per_layer=8)
        result = step.grow_(model, train_loader, loss_fn, optimizer)

    with ``loss_fn(model, batch)`` the batch's summed training loss.

    Args:
        neurons_per_layer: most neurons added to one layer in one step (TINY on GIN: 8).
        threshold: smallest singular value of :math:`S_b^{-1/2} N` that gives a neuron (GroMo's default,
            1e-3, is far above the values on a GIN).
        gammas: the scales :math:`\gamma` searched, distinct and :math:`\ge 0`.
        numerical_threshold: eigenvalues of :math:`S_b` below it are dropped from :math:`S_b^{-1/2}` (GroMo: 1e-6).

    Raises:
        ImportError: GroMo is not installed (``pip install "awgnn[growth]"``, Python >= 3.11).
    """

    def __init__(
        self,
        neurons_per_layer: int = 8,
        *,
        threshold: float = DEFAULT_THRESHOLD,
        gammas: Sequence[float] = GAMMAS,
        numerical_threshold: float = 1e-6,
    ) -> None:
        # At construction, so that a missing GroMo shows before a statistics pass is spent.
        gromo_modules()
        self.neurons_per_layer = check_int_at_least("neurons_per_layer", neurons_per_layer, 1)
        self.threshold = check_finite_positive("threshold", threshold)
        self.numerical_threshold = check_finite_positive("numerical_threshold", numerical_threshold)
        if isinstance(gammas, (str, bytes)) or not isinstance(gammas, Sequence) or not gammas:
            raise ValueError(f"gammas must be a non-empty sequence of numbers >= 0, got {gammas!r}")
        self.gammas = tuple(check_number(f"gammas[{i}]", gamma, 0.0) for i, gamma in enumerate(gammas))
        if len(set(self.gammas)) != len(self.gammas):
            raise ValueError(f"gammas must be distinct, got {gammas!r}")

    def neurons(
        self, model: nn.Module, layers: Sequence[GrowableLayer], batches: Iterable[Any], loss_fn: LossFunction
    ) -> list[TinyNeurons]:
        """Step 1: the :class:`TinyNeurons` of every layer, from one statistics pass."""
        return [
            TinyNeurons.from_statistics(
                stats, min(self.neurons_per_layer, layer.room()), self.threshold, self.numerical_threshold
            )
            for layer, stats in zip(layers, tiny_statistics(model, layers, batches, loss_fn))
        ]

    def line_search(
        self,
        model: nn.Module,
        layer: GrowableLayer,
        neurons: TinyNeurons,
        batches: Iterable[Any],
        loss_fn: LossFunction,
        base: float | None = None,
    ) -> dict[float, float]:
        """:math:`L(\\gamma)` for every :math:`\\gamma` in ``gammas`` (eval mode); the model is unchanged.

        ``base``, when given, is taken as :math:`L(0)` (the current loss), which saves its pass.
        """
        return {
            gamma: base
            if gamma == 0.0 and base is not None
            else _summed_loss(model, batches, loss_fn, TinyExtension(layer, neurons, gamma))
            for gamma in self.gammas
        }

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
        """Gather the statistics over ``batches``, search every layer's :math:`\\gamma` and grow, in place.

        ``batches`` is read several times, so it must be re-iterable (a list,
        a ``DataLoader``). ``layers`` defaults to every
        :func:`~awgnn.growth.growable_layers` of ``model``; ``optimizer`` and
        ``optimizer_state`` as in :meth:`GrowableLayer.grow_`.
        """
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        if isinstance(batches, Iterator):
            raise ValueError("batches must be re-iterable (a list or a DataLoader), got a one-pass iterator")
        layers = resolve_layers(model, layers)
        found = self.neurons(model, layers, batches, loss_fn)
        base = _summed_loss(model, batches, loss_fn, contextlib.nullcontext())
        grown, change = [], 0.0
        for layer, neurons in zip(layers, found):
            gamma = 0.0
            if neurons.count:
                losses = self.line_search(model, layer, neurons, batches, loss_fn, base)
                # A tie goes to the smaller change.
                gamma = min(losses, key=lambda g: (losses[g], g))
                change += losses[gamma] - base
                base = losses[gamma]
            count = neurons.count if gamma > 0.0 else 0
            weight = layer.linear.weight
            grown.append(
                layer.grow_(
                    torch.zeros(0, dtype=torch.long),
                    weight.new_zeros(0, weight.shape[1] + 1),
                    gamma * neurons.fan_in[:count],
                    gamma * neurons.fan_out[:, :count],
                    optimizer,
                    optimizer_state,
                    input_moment=neurons.input_moment,
                )
            )
        return GrowthResult(grown, change)


@torch.no_grad()
def _summed_loss(
    model: nn.Module, batches: Iterable[Any], loss_fn: LossFunction, context: contextlib.AbstractContextManager
) -> float:
    """The loss summed over ``batches`` in eval mode, inside ``context``; the model's mode is restored."""
    training = model.training
    model.eval()
    try:
        with context:
            return sum(float(loss_fn(model, batch)) for batch in batches)
    finally:
        model.train(training)


def _outer_sum(left: str, right: str) -> Callable[[dict[str, Tensor]], tuple[Tensor, int]]:
    def update(rows: dict[str, Tensor]) -> tuple[Tensor, int]:
        return rows[left].T @ rows[right], rows[left].shape[0]

    return update
