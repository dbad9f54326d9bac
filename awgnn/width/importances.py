"""Every importance vector of a model from one batched computation.

Computed layer by layer, the importances of ``L`` widths cost ``L`` times a
dozen small operators in the forward pass and as many in the backward pass:
on small models that is a large share of a training step, and on a GPU every
operator is a kernel launch. :func:`batched_importances` computes them for all
widths that share a distribution family at once, in one flat vector with the
rates' gradient in closed form (:mod:`awgnn.width.normalised_mass`), and
:func:`share_importances` makes a model use it on every forward.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.utils.hooks import RemovableHandle

from awgnn.width.adaptive_width import AdaptiveWidth
from awgnn.width.distributions import WidthDistribution
from awgnn.width.normalised_mass import SupportLayout, normalised_masses, support_layout
from awgnn.width.training import adaptive_widths


def batched_importances(widths: Sequence[AdaptiveWidth], layouts: _Layouts | None = None) -> list[Tensor]:
    """``[w.importances() for w in widths]``, equal in value and gradient, in one pass per distribution family.

    The widths of one family (equal distributions) are computed together
    (:func:`~awgnn.width.normalised_mass.normalised_masses`); fixed widths
    (:meth:`AdaptiveWidth.fix_`) keep their all-ones importances. ``layouts``
    keeps each family's flat layout between calls (see :func:`share_importances`).
    """
    layouts = _Layouts() if layouts is None else layouts
    vectors: list[Tensor | None] = [None] * len(widths)
    families: dict[Hashable, list[int]] = {}
    for position, width in enumerate(widths):
        if width.fixed:
            vectors[position] = width.importances()
        else:
            families.setdefault(_family_key(width.distribution), []).append(position)
    for family, positions in families.items():
        members = [widths[p] for p in positions]
        layout = layouts.get(family, [w.support for w in members], members[0].raw_rate)
        family_vectors = normalised_masses(
            members[0].distribution, layout, [w.width for w in members], [w.raw_rate for w in members]
        )
        for position, vector in zip(positions, family_vectors):
            vectors[position] = vector
    return vectors  # type: ignore[return-value]


class _Layouts:
    """Each family's :class:`SupportLayout`, kept until its supports change.

    Supports change only at a resize, so the same layout serves most training
    steps without being built again.
    """

    def __init__(self) -> None:
        self._layouts: dict[Hashable, tuple[tuple, SupportLayout]] = {}

    def get(self, family: Hashable, supports: list[int], like: Tensor) -> SupportLayout:
        key = (tuple(supports), like.device, like.dtype)
        cached = self._layouts.get(family)
        if cached is None or cached[0] != key:
            cached = self._layouts[family] = key, support_layout(supports, like)
        return cached[1]


def _state_key(width: AdaptiveWidth) -> tuple:
    """Everything an importance vector depends on; the version counter moves with every in-place change."""
    rate = width.raw_rate
    return (
        rate._version,
        rate.data_ptr(),
        rate.device,
        rate.dtype,
        width.width,
        width.support,
        width.fixed,
        width.cutoff,
    )


def _family_key(distribution: WidthDistribution) -> Hashable:
    """Distributions with equal type and settings share a batch; anything unhashable batches alone."""
    try:
        return type(distribution), tuple(sorted(vars(distribution).items()))
    except TypeError:
        return id(distribution)


class _SharedImportances:
    """Forward hooks of :func:`share_importances`: fill every width's importances before, clear after.

    Without gradient (inference) the vectors are kept and reused until a rate,
    a width or a support changes, so an unfrozen model in evaluation costs
    little more than its frozen copy.
    """

    def __init__(self, widths: Sequence[AdaptiveWidth]) -> None:
        self.widths = list(widths)
        self.layouts = _Layouts()
        self._inference: tuple[tuple, list[Tensor]] | None = None

    def before(self, module: nn.Module, args: Any) -> None:
        for width, vector in zip(self.widths, self._vectors()):
            width.shared_importances = vector

    def _vectors(self) -> list[Tensor]:
        if torch.is_grad_enabled():
            self._inference = None
            return batched_importances(self.widths, self.layouts)
        key = tuple(_state_key(w) for w in self.widths)
        if self._inference is None or self._inference[0] != key:
            self._inference = key, batched_importances(self.widths, self.layouts)
        return self._inference[1]

    def after(self, module: nn.Module, args: Any, output: Any) -> None:
        for width in self.widths:
            width.shared_importances = None


class ImportanceSharingHandle:
    """Returned by :func:`share_importances`; ``remove()`` goes back to layer-by-layer importances."""

    def __init__(self, hook: _SharedImportances, handles: list[RemovableHandle]) -> None:
        self._hook = hook
        self._handles = handles

    def remove(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._hook.after(None, None, None)


def share_importances(model: nn.Module) -> ImportanceSharingHandle | None:
    """Compute the importances of ``model``'s widths in one batched pass at the start of every forward.

    During the forward, :meth:`AdaptiveWidth.importances` returns the width's
    row of that pass (same values and gradients as its own computation);
    after it, even when it raised, each width computes its own again. The
    widths are looked up now: call it once the model is built (the model
    classes of awgnn do so themselves). Returns ``None`` (no hooks) when the
    model has no adaptive width.
    """
    widths = [width for _, width in adaptive_widths(model)]
    if not widths:
        return None
    hook = _SharedImportances(widths)
    handles = [model.register_forward_pre_hook(hook.before), model.register_forward_hook(hook.after, always_call=True)]
    return ImportanceSharingHandle(hook, handles)


def unshare_importances_(model: nn.Module) -> None:
    """Remove :func:`share_importances`' hooks from every module of ``model`` (a frozen copy has no widths)."""
    for module in model.modules():
        for hooks in (module._forward_pre_hooks, module._forward_hooks):
            for key in [
                k for k, hook in hooks.items() if isinstance(getattr(hook, "__self__", None), _SharedImportances)
            ]:
                del hooks[key]
                module._forward_hooks_always_called.pop(key, None)
