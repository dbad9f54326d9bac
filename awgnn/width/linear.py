"""A linear map whose input and/or output size may follow an adaptive width."""

from __future__ import annotations

import math
from numbers import Integral

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.nn.parameter import Parameter, UninitializedParameter, is_lazy

from awgnn.width.activations import activation_gain
from awgnn.width.adaptive_width import AdaptiveWidth
from awgnn.width.validation import check_choice

Size = int | AdaptiveWidth
# How AdaptiveLinear draws its weights (see its docstring).
WEIGHT_INITS = ("kaiming_plus", "pytorch", "glorot")


class AdaptiveLinear(nn.Module):
    r"""Affine map :math:`y = x W^\top + b` whose sizes may follow adaptive widths.

    This is the building block of adaptive layers; it does not apply the
    activation or the importance scaling, which belong to the layer that owns
    the width (:class:`AdaptiveMLP`, the convolutions).

    * ``out_features`` an :class:`AdaptiveWidth`: the rows of :math:`W` and
      the entries of :math:`b` grow and shrink with it.
    * ``in_features`` an :class:`AdaptiveWidth`: the columns of :math:`W`
      follow it, and the input is importance-scaled.

    ``weight_init`` says how :math:`W` is drawn. With importance-scaled
    inputs it uses the *effective fan-in* :math:`\sum_j f(j)^2` (the input
    width's importances :math:`f`): an input scaled by :math:`f` carries that
    many unit inputs' worth of variance.

    * ``"kaiming_plus"`` (AWN, Errica et al. 2025): with an adaptive input,
      "Kaiming+", :math:`W_{ij} \sim \mathcal N(0, 2 / \sum_j f(j)^2)`;
      otherwise Kaiming-normal with ``nonlinearity``'s gain, or PyTorch's
      default without one.
    * ``"pytorch"``: PyTorch's (and PyG's ``Linear``'s) default,
      :math:`\mathcal U(\pm 1/\sqrt{F_{in}})`, scaled by
      :math:`\sqrt{F_{in} / \sum_j f(j)^2}` for an adaptive input, so the
      layer passes on the signal scale of the PyG layer of the same width.
    * ``"glorot"``: PyG's Glorot initialisation (its ``GCNConv``'s),
      :math:`\mathcal U(\pm\sqrt{6 / (F_{in} + F_{out})})`, scaled the same way.

    For inputs that are not importance-scaled both equal PyTorch's and PyG's
    own draws.
    Biases always keep PyTorch's default (bound :math:`1/\sqrt{F_{in}}`).

    ``in_features=-1`` infers the input size at the first forward (run one
    forward before building the optimizer, as with PyG's lazy layers).

    Shapes:
        - **input:** :math:`(*, F_{in})`
        - **output:** :math:`(*, F_{out})`
    """

    def __init__(
        self,
        in_features: Size,
        out_features: Size,
        bias: bool = True,
        nonlinearity: str | None = None,
        weight_init: str = "kaiming_plus",
    ) -> None:
        super().__init__()
        if nonlinearity is not None:
            activation_gain(nonlinearity)
        self.nonlinearity = nonlinearity
        self.weight_init = check_choice("weight_init", weight_init, WEIGHT_INITS)
        # Widths are owned (registered) by the enclosing layer; keep plain references.
        object.__setattr__(self, "input_width", in_features if isinstance(in_features, AdaptiveWidth) else None)
        object.__setattr__(self, "output_width", out_features if isinstance(out_features, AdaptiveWidth) else None)
        in_size = check_size("in_features", in_features, lazy=True)
        out_size = check_size("out_features", out_features)
        self._out_size = out_size
        if in_size > 0:
            self.weight = Parameter(torch.empty(out_size, in_size))
        else:
            self.weight = UninitializedParameter()
            self._lazy_hook = self.register_forward_pre_hook(self._materialise)
        self.bias = Parameter(torch.empty(out_size)) if bias else None
        if self.output_width is not None:
            self.output_width.follow_linear_output(self)
        if self.input_width is not None:
            self.input_width.follow_linear_input(self)
        self.reset_parameters()

    @property
    def in_features(self) -> int:
        return -1 if is_lazy(self.weight) else self.weight.shape[1]

    @property
    def out_features(self) -> int:
        if not is_lazy(self.weight):
            return self.weight.shape[0]
        return self.output_width.width if self.output_width is not None else self._out_size

    def effective_fan_in(self) -> float:
        """:math:`\\sum_j f(j)^2` over the input width's importances, else the number of inputs: an
        importance-scaled input carries that many inputs' worth of variance."""
        if self.input_width is not None:
            return float(self.input_width.importances().detach().square().sum())
        return float(self.in_features)

    def reset_parameters(self) -> None:
        fan_in = self.in_features
        if fan_in <= 0:
            return
        with torch.no_grad():
            fan = self.effective_fan_in()
            # PyG's draw at this layer's size, scaled so that importance-scaled inputs pass on the same variance.
            compensation = math.sqrt(fan_in / fan)
            if self.weight_init == "pytorch":
                bound = compensation / math.sqrt(fan_in)
                self.weight.uniform_(-bound, bound)
            elif self.weight_init == "glorot":
                bound = compensation * math.sqrt(6.0 / (fan_in + self.out_features))
                self.weight.uniform_(-bound, bound)
            elif self.input_width is not None:
                self.weight.normal_(0.0, math.sqrt(2.0 / fan))
            elif self.nonlinearity is not None:
                self.weight.normal_(0.0, activation_gain(self.nonlinearity) / math.sqrt(fan_in))
            else:
                nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5))
            if self.bias is not None:
                bound = 1.0 / math.sqrt(fan_in)
                self.bias.uniform_(-bound, bound)

    def forward(self, x: Tensor, scale: Tensor | None = None) -> Tensor:
        """:math:`x W^\top + b`, or with ``scale`` (one factor per output) ``(x W^\top + b) * scale``.

        The factors multiply the weight rows and the bias, which is cheaper than
        multiplying the output when there are more inputs than neurons.
        """
        if scale is None:
            return F.linear(x, self.weight, self.bias)
        bias = None if self.bias is None else self.bias * scale
        return F.linear(x, self.weight * scale.unsqueeze(-1), bias)

    @torch.no_grad()
    def _materialise(self, module: nn.Module, inputs: tuple[Tensor, ...]) -> None:
        self._finish_lazy((self.out_features, inputs[0].shape[-1]))
        self.reset_parameters()

    def _finish_lazy(self, shape: tuple[int, int]) -> None:
        self.weight.materialize(shape)
        self._lazy_hook.remove()
        del self._lazy_hook

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs) -> None:
        saved = state_dict.get(prefix + "weight")
        if saved is not None and is_lazy(self.weight) and not is_lazy(saved):
            self._finish_lazy(tuple(saved.shape))
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    def to_static(self) -> nn.Linear:
        """A plain :class:`torch.nn.Linear` with this layer's current weights."""
        if is_lazy(self.weight):
            raise RuntimeError("cannot freeze a lazy AdaptiveLinear: run one forward first")
        static = nn.Linear(
            self.in_features,
            self.out_features,
            bias=self.bias is not None,
            device=self.weight.device,
            dtype=self.weight.dtype,
        )
        with torch.no_grad():
            static.weight.copy_(self.weight)
            if self.bias is not None:
                static.bias.copy_(self.bias)
        return static

    def extra_repr(self) -> str:
        return f"{self.in_features}, {self.out_features}, bias={self.bias is not None}"


def check_size(name: str, value: object, *, lazy: bool = False) -> int:
    """The initial size ``value`` gives: an :class:`AdaptiveWidth`'s width, or an integer >= 1.

    With ``lazy``, ``-1`` (infer at the first forward) is accepted too. The
    error names ``name``, the argument the user wrote.
    """
    if isinstance(value, AdaptiveWidth):
        return value.width
    is_integer = isinstance(value, Integral) and not isinstance(value, bool)
    if lazy and is_integer and value == -1:
        return -1
    if not is_integer or value < 1:
        expected = "-1 (lazy), an integer >= 1" if lazy else "an integer >= 1"
        raise ValueError(f"{name} must be {expected} or an AdaptiveWidth, got {value!r}")
    return int(value)
