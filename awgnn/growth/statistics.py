"""Per-node inputs and loss gradients of growable layers, gathered over statistics batches."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from awgnn.growth.layer import GrowableLayer

LossFunction = Callable[[nn.Module, Any], Tensor]


@dataclass(frozen=True)
class NodeGradients:
    r"""One batch's per-node (per-row) quantities of one layer :math:`u = W_2 \sigma(W_1 x + b_1) + b_2`.

    Attributes:
        inputs: :math:`b = [x \,|\, 1]`, shape ``(N, d + 1)``.
        hidden: :math:`g = \partial L / \partial h`, :math:`h = \sigma(W_1 x + b_1)`, shape ``(N, D)``.
        output: :math:`\partial L / \partial u`, shape ``(N, F_out)``.
    """

    inputs: Tensor
    hidden: Tensor
    output: Tensor


def node_gradients(
    model: nn.Module, layers: Sequence[GrowableLayer], batches: Iterable[Any], loss_fn: LossFunction
) -> Iterator[list[NodeGradients]]:
    """For each batch, the :class:`NodeGradients` of every layer (in ``layers``' order).

    ``loss_fn(model, batch)`` returns the scalar loss of a batch (a summed
    loss gives statistics of the training loss as a sum over graphs); each
    layer must run exactly once in it. The model runs in eval mode, so
    BatchNorm uses and does not update its running statistics and dropout is
    off; its mode is restored afterwards. The gradients are taken with
    :func:`torch.autograd.grad`, so no parameter's ``.grad`` changes.
    """
    records: dict[tuple[int, str], Tensor] = {}
    handles = []
    for i, layer in enumerate(layers):
        handles.append(layer.linear.register_forward_pre_hook(_recorder(records, (i, "x"), detach=True)))
        handles.append(layer.consumer.register_forward_pre_hook(_recorder(records, (i, "h"))))
        handles.append(
            layer.consumer.register_forward_hook(lambda module, args, out, i=i: records.__setitem__((i, "u"), out))
        )
    training = model.training
    model.eval()
    try:
        for batch in batches:
            records.clear()
            with torch.enable_grad():
                loss = loss_fn(model, batch)
            if not isinstance(loss, Tensor) or loss.numel() != 1:
                raise ValueError(f"loss_fn must return a scalar tensor, got {loss!r}")
            missing = [layer.name for i, layer in enumerate(layers) if (i, "u") not in records]
            if missing:
                raise ValueError(f"loss_fn did not run the growable layers {missing}")
            wanted = [records[(i, key)] for key in ("h", "u") for i in range(len(layers))]
            grads = torch.autograd.grad(loss, wanted, allow_unused=True)
            grads = [torch.zeros_like(t) if g is None else g for t, g in zip(wanted, grads)]
            yield [
                NodeGradients(_with_ones(records[(i, "x")]), _rows(grads[i]), _rows(grads[len(layers) + i]))
                for i in range(len(layers))
            ]
    finally:
        for handle in handles:
            handle.remove()
        model.train(training)


def _recorder(records: dict[tuple[int, str], Tensor], key: tuple[int, str], detach: bool = False):
    def hook(module: nn.Module, args: tuple[Any, ...]) -> None:
        records[key] = args[0].detach() if detach else args[0]

    return hook


def _rows(x: Tensor) -> Tensor:
    return x.reshape(-1, x.shape[-1])


def _with_ones(x: Tensor) -> Tensor:
    x = _rows(x)
    return torch.cat([x, torch.ones(x.shape[0], 1, dtype=x.dtype, device=x.device)], 1)
