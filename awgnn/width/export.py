"""After training: cut the tail of adaptive layers, and freeze into static modules."""

from __future__ import annotations

import copy

import torch
from torch import nn

from awgnn.width.adaptive_width import AdaptiveWidth
from awgnn.width.importances import unshare_importances_
from awgnn.width.training import adaptive_widths
from awgnn.width.validation import check_fraction, check_int_at_least


@torch.no_grad()
def truncate_(
    model: nn.Module,
    *,
    width: int | None = None,
    fraction: float | None = None,
    renormalise: bool = False,
) -> dict[str, int]:
    """Keep only the leading neurons of every adaptive layer of ``model``, in place.

    Give either ``width`` (each layer keeps ``min(width, current)`` neurons) or
    ``fraction`` in (0, 1] (each layer keeps ``round(fraction * D)``), never
    fewer than the layer's ``min_width``. Because importances decrease along a layer, the tail carries the least
    information. ``renormalise=False`` (the AWN reference) keeps each neuron's
    importance unchanged; ``True`` renormalises over the kept neurons.

    A later :func:`awgnn.update_widths` regrows the layers to their rates'
    widths, so truncate after training. Returns the new width per layer.
    """
    if (width is None) == (fraction is None):
        raise ValueError("give exactly one of width and fraction")
    if width is not None:
        check_int_at_least("width", width, 1)
    else:
        check_fraction("fraction", fraction)
    new_widths = {}
    for name, adaptive in adaptive_widths(model):
        keep = min(width, adaptive.width) if width is not None else round(fraction * adaptive.width)
        keep = max(keep, adaptive.min_width)
        adaptive.truncate_(keep, renormalise=renormalise)
        new_widths[name] = keep
    return new_widths


@torch.no_grad()
def freeze(model: nn.Module) -> nn.Module:
    """A static copy of ``model``: no rates, no importance scaling, same outputs.

    Each importance vector multiplies activations whose consumers are linear
    (a linear layer, a GIN sum aggregation, mean pooling, a GCN propagation),
    so it folds exactly into their weights, :math:`W' = W\\,\\mathrm{diag}(f)`.
    Adaptive modules are then replaced by their plain torch / PyG equivalents
    (``to_static()``); the result scripts, compiles and exports like them.
    An :class:`~awgnn.nn.models.AdaptiveGIN` / :class:`~awgnn.nn.models.AdaptiveGCN`
    becomes PyG's own :class:`~torch_geometric.nn.models.GIN` /
    :class:`~torch_geometric.nn.models.GCN` when every hidden layer has the same
    width (for GIN, every MLP's hidden width too), otherwise a
    :class:`~awgnn.nn.models.StaticBasicGNN` of upstream layers at the learned
    widths. ``model`` itself is left untouched.
    """
    frozen = copy.deepcopy(model)
    widths = adaptive_widths(frozen)
    for name, width in widths:
        if not any(f.role == "consumer" for f in width.followers):
            raise ValueError(
                f"cannot freeze adaptive width {name!r}: it has no consumer to fold its "
                "importances into (the model's output is importance-scaled); make the layer "
                "that reads it follow it, e.g. width.follow_linear_input(head)"
            )
    importances = [w.importances() for _, w in widths]
    for (_, width), f in zip(widths, importances):
        _fold_into_consumers(width, f)
    frozen = _to_static(frozen)
    unshare_importances_(frozen)
    leftovers = [name for name, m in frozen.named_modules() if isinstance(m, AdaptiveWidth)]
    if leftovers:
        raise TypeError(
            f"cannot freeze: modules {leftovers} still hold adaptive widths; their owners need a to_static() method"
        )
    return frozen


def _fold_into_consumers(width: AdaptiveWidth, f: torch.Tensor) -> None:
    for follower in width.followers:
        if follower.role == "consumer":
            tensor = getattr(follower.module, follower.name)
            shape = [1] * tensor.dim()
            shape[follower.dim] = f.numel()
            tensor.mul_(f.to(tensor).view(shape))


def _to_static(module: nn.Module) -> nn.Module:
    # Outermost first: an owner converts itself while its parts are still adaptive.
    static = module.to_static() if hasattr(module, "to_static") else module
    static.training = module.training
    for name, child in list(static.named_children()):
        setattr(static, name, _to_static(child))
    return static
