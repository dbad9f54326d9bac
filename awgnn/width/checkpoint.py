"""Loading a checkpoint into a model with adaptive widths: all or nothing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.nn.modules.module import _IncompatibleKeys
from torch.nn.parameter import Parameter, is_lazy

from awgnn.width.adaptive_width import AdaptiveWidth, _replace_data, _sync_size_attributes


class AtomicLoad(nn.Module):
    """Base of the awgnn modules holding adaptive widths: a failed ``load_state_dict`` changes nothing.

    PyTorch loads module by module and raises at the end, so a checkpoint that
    does not fit (a width outside a layer's bounds, a missing key, another
    shape) would leave the layers before the error loaded, and resized to the
    checkpoint's widths. Here the module's parameters, buffers and widths, and
    the tensors its widths resize in other modules, are put back (same objects,
    same values and gradients) before the error is raised.

    This holds for the module on which ``load_state_dict`` is called. A model
    of other classes that holds awgnn layers never loads a width outside its
    bounds either, but otherwise keeps torch's behaviour on errors. A lazy
    layer that a failed load materialised stays materialised.
    """

    def load_state_dict(
        self, state_dict: Mapping[str, Any], strict: bool = True, assign: bool = False
    ) -> _IncompatibleKeys:
        snapshot = _Snapshot(self)
        try:
            return super().load_state_dict(state_dict, strict=strict, assign=assign)
        except BaseException:
            snapshot.restore()
            raise


class _Snapshot:
    """Every tensor and width a load may change, and how to put them back."""

    def __init__(self, module: nn.Module) -> None:
        widths = [m for m in module.modules() if isinstance(m, AdaptiveWidth)]
        modules = {id(m): m for m in module.modules()}
        for width in widths:
            for follower in width.followers:
                modules.setdefault(id(follower.module), follower.module)
        self.modules = list(modules.values())
        self.widths = [(w, w.width, w.support, w.capped, w.num_updates, w.resizes, w.fixed) for w in widths]
        self.tensors = [
            (owner, name, tensor, None if is_lazy(tensor) else tensor.detach().clone(), tensor.grad)
            for owner in self.modules
            for name, tensor in [*owner.named_parameters(recurse=False), *owner.named_buffers(recurse=False)]
        ]

    @torch.no_grad()
    def restore(self) -> None:
        for owner, name, tensor, values, grad in self.tensors:
            if getattr(owner, name) is not tensor:  # replaced by a resize or by assign=True
                setattr(owner, name, tensor)
            if values is None:
                continue
            if isinstance(tensor, Parameter) and tensor.shape != values.shape:
                _replace_data(tensor, values)
            else:  # buffers are resized by replacement, so the original kept its shape
                tensor.copy_(values)
            if isinstance(tensor, Parameter):
                tensor.grad = grad
        for width, size, support, capped, num_updates, resizes, fixed in self.widths:
            width.width, width.support, width.capped = size, support, capped
            width.num_updates, width.resizes, width.fixed = num_updates, resizes, fixed
            width.raw_rate.requires_grad_(not fixed)
        for owner in self.modules:
            _sync_size_attributes(owner)
