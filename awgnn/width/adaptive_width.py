"""The learnable width of one adaptive layer (AWN, Errica et al. 2025)."""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, NamedTuple

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parameter import Parameter, is_lazy
from torch.optim import Optimizer
from torch_geometric.nn import Linear as PyGLinear

from awgnn.width.distributions import DiscretisedExponential, WidthDistribution
from awgnn.width.normalised_mass import normalised_masses, support_layout
from awgnn.width.resize import (
    OPTIMIZER_STATE_POLICIES,
    OptimizerStatePolicy,
    drop_optimizer_state_,
    resized,
    resized_optimizer_states,
)
from awgnn.width.validation import (
    check_choice,
    check_finite_positive,
    check_int_at_least,
    check_int_between,
    check_quantile,
)

DEFAULT_LAMBDA0 = 0.02
DEFAULT_MAX_WIDTH = 4096
# A batch norm's entries that follow a width, and the values of a new channel: an identity normalisation.
BATCH_NORM_FILLS: Mapping[str, float] = MappingProxyType(
    {"weight": 1.0, "bias": 0.0, "running_mean": 0.0, "running_var": 1.0}
)


class Follower(NamedTuple):
    """A tensor with one dimension of the width's size, resized with it.

    ``role`` is ``"producer"`` for the tensors that compute the neurons
    (incoming weight rows, biases, normalisation parameters and statistics) and
    ``"consumer"`` for tensors that read the importance-scaled neurons through a
    linear map along ``dim`` (the next layer's weight columns); freezing folds
    the importances into consumers. New entries are ``fill`` or, when it is
    ``None``, N(0, 1) draws.
    """

    module: nn.Module
    name: str
    dim: int
    role: str
    fill: float | None


class NonFiniteRate(ArithmeticError):
    """The rate of an adaptive width became NaN or infinite: training diverged."""


def stacked_rates(widths: Sequence[AdaptiveWidth]) -> Tensor:
    r"""The rates :math:`\lambda_l` of ``widths`` as one vector ``[L]``, with gradient to every raw rate."""
    return F.softplus(torch.stack([w.raw_rate for w in widths]))


def check_finite_rates(names: Sequence[str], rates: Sequence[float]) -> None:
    """Raise :class:`NonFiniteRate` naming every width whose rate is NaN or infinite."""
    bad = [f"{name or '(root)'!r} is {rate}" for name, rate in zip(names, rates) if not math.isfinite(rate)]
    if bad:
        raise NonFiniteRate(
            f"the rate of adaptive width {'; '.join(bad)}: training diverged (try a lower learning "
            "rate); no width was changed"
        )


@dataclass(frozen=True)
class WidthEvent:
    """One change of width: after ``step`` width updates the width became ``width``."""

    step: int
    width: int
    capped: bool
    reason: str


@dataclass(frozen=True)
class WidthChange:
    """What one call of :func:`awgnn.update_widths` did to one layer."""

    name: str
    old: int
    new: int
    capped: bool


class AdaptiveWidth(nn.Module):
    r"""Learned width of one layer, and the importance scaling of its neurons.

    Holds a raw rate :math:`w` with :math:`\lambda = \mathrm{softplus}(w)`; the
    width is the :math:`k`-quantile :math:`D(\lambda)` of a width distribution
    (default :class:`DiscretisedExponential`) and the importances are

    .. math::
        f(j) = \tilde p(j) \Big/ \sum_{i < S} \tilde p(i), \qquad j < D,

    with :math:`S = D` except after a truncation that kept the old
    normalisation. Calling the module scales its input neuron-wise,
    :math:`h_j \mapsto h_j f(j)`, with gradient to :math:`w`.

    The width changes only in :meth:`resize_`, which :func:`awgnn.update_widths`
    calls after an optimizer step; ``forward`` never resizes. Every tensor whose
    size follows the width is registered with :meth:`follow` and resized with
    it, optimizer state included.

    :meth:`fix_` turns the width into that of a plain layer whose size is set
    from outside (the growth baselines of :mod:`awgnn.growth`): importances 1,
    rate not learned and kept at the rate of the current width.

    Args:
        lambda0: initial rate (default 0.02, i.e. width 117 at ``k=0.9``).
        initial_width: alternative to ``lambda0``: start at this width.
        k: quantile that defines the width, in (0, 1).
        min_width: the width never goes below this.
        max_width: the width never exceeds this; the rate is projected back
            after the optimizer step when the cap is hit.
        distribution: the width family (default :class:`DiscretisedExponential`).

    Shapes:
        - **input:** :math:`(*, D)`
        - **output:** :math:`(*, D)`
    """

    def __init__(
        self,
        lambda0: float | None = None,
        *,
        initial_width: int | None = None,
        k: float = 0.9,
        min_width: int = 1,
        max_width: int = DEFAULT_MAX_WIDTH,
        distribution: WidthDistribution | None = None,
    ) -> None:
        super().__init__()
        self.distribution = distribution if distribution is not None else DiscretisedExponential()
        if not isinstance(self.distribution, WidthDistribution):
            raise ValueError(f"distribution must be a WidthDistribution, got {type(self.distribution).__name__}")
        self.k = check_quantile(k)
        self.min_width = check_int_at_least("min_width", min_width, 1)
        self.max_width = check_int_at_least("max_width", max_width, self.min_width)
        self.distribution.check_max_width(self.max_width)
        self.lambda0 = self._initial_rate(lambda0, initial_width)
        self.raw_rate = Parameter(torch.empty(()))
        self._followers: list[Follower] = []
        self.resizes = 0  # physical resizes so far, whatever caused them
        self.fixed = False
        # A fixed width's neurons from `cutoff` on are off for one forward (awgnn.growth.MarginalWidths sets it).
        self.cutoff: int | None = None
        # Set by share_importances' hooks for the duration of a model's forward.
        self.shared_importances: Tensor | None = None
        self.width = self._initial_width()
        self.reset_parameters()

    def _initial_rate(self, lambda0: float | None, initial_width: int | None) -> float:
        if lambda0 is not None and initial_width is not None:
            raise ValueError("give either lambda0 or initial_width, not both")
        if initial_width is not None:
            check_int_between("initial_width", initial_width, self.min_width, self.max_width)
            return self.distribution.rate_for_width(initial_width, self.k)
        rate = check_finite_positive("lambda0", DEFAULT_LAMBDA0 if lambda0 is None else lambda0)
        width = self._requested_width(rate)
        if width > self.max_width:
            raise ValueError(
                f"lambda0={rate:g} gives width {width:.0f}, above max_width={self.max_width}; "
                "raise max_width or lambda0"
            )
        return rate

    # -- rate, width and importances ------------------------------------------------

    @property
    def rate(self) -> Tensor:
        """The rate :math:`\\lambda = \\mathrm{softplus}(w)` (a tensor with gradient)."""
        return F.softplus(self.raw_rate)

    def importances(self) -> Tensor:
        """Importance of each of the ``width`` neurons, shape ``[width]`` (all 1 once :meth:`fix_` ran).

        Inside the forward of a model that shares its importances
        (:func:`awgnn.width.importances.share_importances`), this width's row
        of the model's batched computation.
        """
        if self.shared_importances is not None:
            return self.shared_importances
        if self.fixed:
            return self._gate()
        layout = support_layout((self.support,), self.raw_rate)
        return normalised_masses(self.distribution, layout, (self.width,), (self.raw_rate,))[0]

    def _gate(self) -> Tensor:
        """A fixed width's importances: 1 for the neurons before ``cutoff`` (all when it is ``None``), 0 after."""
        gate = torch.ones(self.width, device=self.raw_rate.device, dtype=self.raw_rate.dtype)
        if self.cutoff is not None:
            gate[self.cutoff :] = 0
        return gate

    def forward(self, x: Tensor) -> Tensor:
        return x * self.importances()

    def _initial_width(self) -> int:
        return self.target_width(self.lambda0)

    def target_width(self, rate: float) -> int:
        """The width an update at this (finite) rate gives: its truncation width within the bounds."""
        return self._clamp(self._requested_width(rate))[0]

    def _requested_width(self, rate: float) -> float:
        """The truncation width of ``rate``; infinite when it is too large for a float.

        That is the case when softplus underflowed to 0 (a very negative raw
        rate) or for a subnormal rate, whose width overflows.
        """
        if rate == 0.0:
            return math.inf
        try:
            return self.distribution.truncation_width(rate, self.k)
        except OverflowError:
            return math.inf

    def _clamp(self, width: float) -> tuple[int, bool]:
        if width > self.max_width:
            return self.max_width, True
        return max(int(width), self.min_width), False

    # -- followers -------------------------------------------------------------------

    def follow(
        self,
        module: nn.Module,
        name: str,
        dim: int,
        *,
        role: str,
        fill: float | None = None,
    ) -> None:
        """Resize ``module.<name>`` along ``dim`` whenever this width changes.

        The tensor (a parameter or a buffer) must already have the current width
        along ``dim`` unless it is still lazy. ``module``'s ``load_state_dict``
        resizes this width from the checkpoint's shape, so a model saved at any
        width loads into a freshly built one.
        """
        check_choice("role", role, ("producer", "consumer"))
        tensor = getattr(module, name)
        if not isinstance(tensor, Tensor):
            raise ValueError(f"{type(module).__name__}.{name} is not a tensor")
        if not is_lazy(tensor) and tensor.shape[dim] != self.width:
            raise ValueError(
                f"{type(module).__name__}.{name} has size {tensor.shape[dim]} along dim {dim}, "
                f"expected the current width {self.width}"
            )
        if not any(f.module is module for f in self._followers):
            module.register_load_state_dict_pre_hook(_ResizeFromCheckpoint(self))
        self._followers.append(Follower(module, name, dim, role, fill))

    def follow_linear_input(self, linear: nn.Module) -> None:
        """Make the input features (weight columns) of a linear layer follow this width."""
        self.follow(linear, "weight", 1, role="consumer")

    def follow_linear_output(self, linear: nn.Module) -> None:
        """Make the output features (weight rows and bias) of a linear layer follow this width."""
        self.follow(linear, "weight", 0, role="producer")
        if getattr(linear, "bias", None) is not None:
            self.follow(linear, "bias", 0, role="producer")

    def follow_batch_norm(self, norm: nn.modules.batchnorm._NormBase) -> None:
        """Make a batch norm's parameters and running statistics follow this width.

        New channels start as an identity normalisation: weight 1, bias 0,
        running mean 0, running variance 1.
        """
        for name, fill in BATCH_NORM_FILLS.items():
            if getattr(norm, name, None) is not None:
                self.follow(norm, name, 0, role="producer", fill=fill)

    @property
    def followers(self) -> tuple[Follower, ...]:
        return tuple(self._followers)

    # -- resizing --------------------------------------------------------------------

    @torch.no_grad()
    def resize_(
        self,
        width: int,
        optimizer: Optimizer | None = None,
        optimizer_state: OptimizerStatePolicy = "carry",
        *,
        reason: str = "resize",
    ) -> None:
        """Grow (append N(0, 1) neurons at the tail) or shrink (drop the tail) to ``width``.

        ``width`` must lie in ``[min_width, max_width]``. Every follower is
        resized; parameters keep their identity and lose their gradient. With an
        ``optimizer``, its state follows ``optimizer_state``: ``"carry"`` keeps
        the state of surviving neurons and gives new ones the state the
        optimizer gives a fresh parameter; ``"reset"`` drops the whole state of
        every parameter of each module that holds a resized tensor (the resized
        layer, and the next layer's weight *and bias*, as the AWN reference).
        """
        check_int_between("width", width, self.min_width, self.max_width)
        check_choice("optimizer_state", optimizer_state, OPTIMIZER_STATE_POLICIES)
        self._resize_to(width, optimizer, optimizer_state, reason)

    def _resize_to(
        self, width: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy, reason: str
    ) -> None:
        # Asked before anything changes: it raises for a width the distribution cannot express.
        rate = self.distribution.rate_for_width(width, self.k) if self.fixed else None
        if width != self.width:
            self._resize_followers(width, optimizer, optimizer_state)
        self.support = width
        self.width = width
        if rate is not None:
            self.raw_rate.fill_(_inverse_softplus(rate))
        self.history.append(WidthEvent(self.num_updates, width, self.capped, reason))

    def _resize_followers(self, width: int, optimizer: Optimizer | None, optimizer_state: OptimizerStatePolicy) -> None:
        tensors = [(f, getattr(f.module, f.name)) for f in self._followers]
        tensors = [(f, t) for f, t in tensors if t is not None and not is_lazy(t)]
        # Every new optimizer state before any change, so that a refusal leaves everything as it was.
        states = {}
        if optimizer is not None and optimizer_state == "carry":
            states = resized_optimizer_states(
                optimizer, [(t, f.dim) for f, t in tensors if isinstance(t, Parameter)], width
            )
        for follower, tensor in tensors:
            new = resized(tensor, follower.dim, width, follower.fill)  # under no_grad: no graph
            if isinstance(tensor, Parameter):
                _replace_data(tensor, new)
                if id(tensor) in states:
                    optimizer.state[tensor].update(states[id(tensor)])
            else:
                setattr(follower.module, follower.name, new)
        modules = {id(f.module): f.module for f in self._followers}.values()
        if optimizer is not None and optimizer_state == "reset":
            drop_optimizer_state_(optimizer, (p for m in modules for p in m.parameters(recurse=False)))
        for module in modules:
            _sync_size_attributes(module)
        self.resizes += 1

    @torch.no_grad()
    def update_(
        self,
        name: str,
        optimizer: Optimizer | None,
        optimizer_state: OptimizerStatePolicy = "carry",
        rate: float | None = None,
    ) -> WidthChange | None:
        """One width update after an optimizer step: cap, project, resize.

        ``name`` (the module's qualified name) identifies the layer in warnings
        and errors. A NaN or infinite rate raises :class:`NonFiniteRate`
        before anything changes. Returns the change, or ``None`` if the width
        stayed the same.
        """
        rate = self.rate.item() if rate is None else rate
        check_finite_rates([name], [rate])
        self.num_updates += 1
        requested = self._requested_width(rate)
        width, capped = self._clamp(requested)
        if capped:
            self._project_rate(name, requested)
        self.capped = capped
        if width == self.width and self.support == self.width:
            return None
        old = self.width
        self._resize_to(width, optimizer, optimizer_state, reason="update")
        return WidthChange(name, old, width, capped)

    def _project_rate(self, name: str, requested: float) -> None:
        # Keep the raw rate where the cap is not needed any more, so that Adam's
        # moments do not carry the rate ever further past the boundary. Aim well
        # inside the rates that give max_width, not at their edge: a rate at the
        # edge can round past it and shrink the layer at the next update.
        rate = self.distribution.rate_for_width(self.max_width, self.k)
        self.raw_rate.clamp_(min=_inverse_softplus(rate))
        if not self._cap_warned:
            self._cap_warned = True
            warnings.warn(
                f"adaptive width {name or type(self).__name__!r} asked for {requested:.0f} "
                f"neurons, more than max_width={self.max_width}; capped, and its rate "
                f"projected to >= {rate:.3g}",
                stacklevel=3,
            )

    @torch.no_grad()
    def truncate_(self, width: int, *, renormalise: bool = False) -> None:
        """Keep only the first ``width`` neurons (post-training compression).

        ``width`` must lie in ``[min_width, current width]``. Without
        ``renormalise`` (the AWN reference behaviour) the kept neurons keep
        their importances, normalised over the old support; with it, the
        importances are renormalised over the kept neurons.
        """
        check_int_between("width", width, self.min_width, self.width)
        support = self.support
        self._resize_to(width, None, "carry", reason="truncate")
        if not renormalise:
            self.support = support

    @torch.no_grad()
    def fix_(self) -> None:
        r"""Make this the width of a plain layer, changed only by :meth:`resize_` (growth baselines).

        Importances become 1, so the layer computes :math:`\sigma(W x + b)`
        without scaling and a resize that appends neurons with zero outgoing
        weights leaves its function unchanged. The rate stops learning
        (``requires_grad=False``) and every resize sets it to the
        distribution's rate of the new width, so :func:`awgnn.update_widths`
        never changes the width. Checkpoints record it (loading one sets or
        clears it).
        """
        rate = self.distribution.rate_for_width(self.width, self.k)  # raises before anything changes
        self.fixed = True
        self.raw_rate.requires_grad_(False)
        self.raw_rate.grad = None
        self.raw_rate.fill_(_inverse_softplus(rate))

    # -- reset, checkpoints, repr ------------------------------------------------------

    def reset_parameters(self) -> None:
        """Back to the initial rate and width, with an empty history."""
        with torch.no_grad():
            self.raw_rate.fill_(_inverse_softplus(self.lambda0))
        self.capped = False
        self._cap_warned = False
        self.num_updates = 0
        self.history: list[WidthEvent] = []
        self.resize_(self._initial_width(), reason="reset")

    def to_static(self) -> nn.Identity:
        """Frozen form: the importances have been folded into the consumers."""
        return nn.Identity()

    def get_extra_state(self) -> dict[str, Any]:
        return {
            "width": self.width,
            "support": self.support,
            "capped": self.capped,
            "num_updates": self.num_updates,
            "fixed": self.fixed,
        }

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.support = state["support"]
        self.capped = state["capped"]
        self.num_updates = state["num_updates"]
        self.fixed = bool(state.get("fixed", False))
        self.raw_rate.requires_grad_(not self.fixed)

    def _load_from_state_dict(
        self, state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
    ) -> None:
        state = state_dict.get(prefix + nn.modules.module._EXTRA_STATE_KEY_SUFFIX)
        if state is not None:
            problem = self._check_checkpoint_state(state)
            if problem:
                error_msgs.append(f"adaptive width {prefix.rstrip('.') or '(root)'}: {problem}")
                return
            self._match_checkpoint(state["width"])
        super()._load_from_state_dict(
            state_dict, prefix, local_metadata, strict, missing_keys, unexpected_keys, error_msgs
        )

    @torch.no_grad()
    def _match_checkpoint(self, width: int) -> None:
        if width != self.width:
            self._resize_followers(width, None, "carry")
            self.width = self.support = width

    def _check_checkpoint_state(self, state: Any) -> str | None:
        if not isinstance(state, dict) or not {"width", "support"} <= state.keys():
            return f"extra state must be a dict with 'width' and 'support', got {state!r}"
        width, support = state["width"], state["support"]
        problem = self._checkpoint_width_problem(width)
        if problem is None and not (isinstance(support, int) and support >= width):
            problem = f"checkpoint support {support!r} is smaller than its width {width}"
        return problem

    def _checkpoint_width_problem(self, width: Any) -> str | None:
        """Why a checkpoint's width cannot be loaded here (outside the bounds), or ``None``."""
        if isinstance(width, bool) or not isinstance(width, int) or not self.min_width <= width <= self.max_width:
            return (
                f"checkpoint width {width!r} is outside [min_width={self.min_width}, "
                f"max_width={self.max_width}]; build the model with bounds that include it"
            )
        return None

    def extra_repr(self) -> str:
        parts = [f"{self.width}", f"rate={self.rate.item():.4g}", f"k={self.k:g}"]
        if self.max_width != DEFAULT_MAX_WIDTH:
            parts.append(f"max_width={self.max_width}")
        if self.support != self.width:
            parts.append(f"support={self.support}")
        if self.fixed:
            parts.append("fixed")
        return ", ".join(parts)


class _ResizeFromCheckpoint:
    """Load-state-dict pre-hook of a follower's module: match the checkpoint's width.

    Whichever module of a width loads first resizes it, so the order in which
    producer and consumers are registered in a model does not matter. A width
    outside the bounds is reported and nothing is resized, whether the load is
    strict or not.
    """

    def __init__(self, width: AdaptiveWidth) -> None:
        self.width = width

    def __call__(
        self,
        module: nn.Module,
        state_dict: dict[str, Any],
        prefix: str,
        local_metadata: dict,
        strict: bool,
        missing_keys: list[str],
        unexpected_keys: list[str],
        error_msgs: list[str],
    ) -> None:
        for follower in self.width.followers:
            saved = state_dict.get(prefix + follower.name)
            if follower.module is not module or not isinstance(saved, Tensor) or is_lazy(saved):
                continue
            if saved.dim() > follower.dim:
                width = saved.shape[follower.dim]
                problem = self.width._checkpoint_width_problem(width)
                if problem is None:
                    self.width._match_checkpoint(width)
                else:
                    error_msgs.append(f"{prefix}{follower.name} follows an adaptive width: {problem}")
            return


def _replace_data(param: Parameter, data: Tensor) -> None:
    """Give ``param`` new data of another shape, keeping its identity.

    ``param.data = data`` alone keeps the cached gradient accumulator, whose
    shape would be stale while any earlier autograd graph is still alive (for
    instance the previous iteration's loss); PyTorch drops that cache only when
    the dtype or device changes, hence the detour through another dtype.
    """
    param.grad = None
    detour = torch.float64 if data.dtype != torch.float64 else torch.float32
    param.data = data.to(detour)
    param.data = data


def _inverse_softplus(rate: float) -> float:
    return math.log(math.expm1(rate))


def _sync_size_attributes(module: nn.Module) -> None:
    """Keep the size attributes of standard modules equal to their tensors' shapes."""
    if isinstance(module, nn.Linear):
        module.out_features, module.in_features = module.weight.shape
    elif isinstance(module, nn.modules.batchnorm._NormBase):
        tensor = module.weight if module.weight is not None else module.running_mean
        if tensor is not None:
            module.num_features = tensor.shape[0]
    elif isinstance(module, PyGLinear) and not is_lazy(module.weight):
        module.out_channels, module.in_channels = module.weight.shape
