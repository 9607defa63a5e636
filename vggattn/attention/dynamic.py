"""Dynamic convolution: the article's per-sample kernel generator (corrected), and Chen et al.'s (2020) K kernels."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from vggattn.attention._common import check_input, gate_logit, hidden_width, is_exporting, zero_last_layer
from vggattn.checks import check_int, check_int_pair, check_positive

ARTICLE_EINSUM = "bocik,bikn->bocn"
"""The einsum of the article's forward: `i` is the kernel size in operand 0 and the input channels in operand 1."""


def _check_conv_for_copy(conv: nn.Conv2d, target: str) -> None:
    if not isinstance(conv, nn.Conv2d):
        raise TypeError(f"{target}.from_conv expects an nn.Conv2d, got {type(conv).__name__}")
    if conv.padding_mode != "zeros":
        raise ValueError(f"{target}.from_conv supports padding_mode='zeros' only, got {conv.padding_mode!r}")


class ArticleDynamicConv2d(nn.Module):
    """The article's "dynamic convolution attention", with its einsum corrected: a base conv plus a
    whole per-sample kernel generated from the input.

        z = mean_ij x                                            (B, I, H, W) -> (B, I, 1, 1)
        W_dyn = sigmoid(attention_conv2(relu(attention_conv1(z))))  -> (B, O * I * k * k) -> (B, O, I, k, k)
        out = base_conv(x) + conv_b(x_b, W_dyn_b)                per sample b, same padding

    The generator's last 1x1 conv has `hidden * O * I * k * k` weights: 80,232,992 parameters for
    one 512 -> 512 layer (base conv 2,359,808 + generator 77,873,184). Module names follow the
    article (`base_conv`, `attention`) so `article_forward` can replay its forward.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        padding: int = 1,
        reduction: int = 16,
        *,
        min_hidden: int = 4,
        bias: bool = True,
    ) -> None:
        super().__init__()
        hidden = hidden_width(in_channels, reduction, min_hidden)  # also checks in_channels, reduction >= 1
        self.in_channels = in_channels
        self.out_channels = check_int("out_channels", out_channels)
        self.kernel_size = check_int("kernel_size", kernel_size)
        self.padding = check_int("padding", padding, minimum=0)
        self.base_conv = nn.Conv2d(in_channels, out_channels, kernel_size, padding=padding, bias=bias)
        self.attention = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(in_channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, out_channels * in_channels * kernel_size * kernel_size, 1),
            nn.Sigmoid(),
        )
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """The article's init: Kaiming (fan_out) for the base conv, N(0, 0.01) and zero bias for the generator."""
        nn.init.kaiming_normal_(self.base_conv.weight, mode="fan_out", nonlinearity="relu")
        if self.base_conv.bias is not None:
            nn.init.zeros_(self.base_conv.bias)
        for layer in self.attention:
            if isinstance(layer, nn.Conv2d):
                nn.init.normal_(layer.weight, 0.0, 0.01)
                nn.init.zeros_(layer.bias)

    def dynamic_kernel(self, x: torch.Tensor) -> torch.Tensor:
        """The per-sample kernel W_dyn: (B, I, H, W) -> (B, O, I, k, k)."""
        k = self.kernel_size
        return self.attention(x).reshape(x.shape[0], self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        B = x.shape[0]
        base = self.base_conv(x)  # (B, O, H_out, W_out)
        W_dyn = self.dynamic_kernel(x).reshape(B, self.out_channels, -1)  # (B, O, I*k*k)
        patches = F.unfold(x, self.kernel_size, padding=self.padding)  # (B, I*k*k, H_out*W_out), same (I, k, k) order
        dynamic = torch.bmm(W_dyn, patches)  # (B, O, H_out*W_out)
        return base + dynamic.reshape(base.shape)

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, reduction: int = 16, *, min_hidden: int = 4) -> ArticleDynamicConv2d:
        """An article module whose `base_conv` is a copy of `conv` (square kernel, stride 1, no dilation, one group)."""
        _check_conv_for_copy(conv, cls.__name__)
        k, padding = conv.kernel_size[0], conv.padding
        if (
            conv.kernel_size != (k, k)
            or conv.stride != (1, 1)
            or conv.dilation != (1, 1)
            or conv.groups != 1
            or not isinstance(padding, tuple)
            or padding[0] != padding[1]
        ):
            raise ValueError(
                f"{cls.__name__}.from_conv needs a square kernel, stride 1, dilation 1, groups 1 and equal "
                f"int padding, got {conv}; use DynamicConv2d.from_conv for other convolutions"
            )
        module = cls(
            conv.in_channels,
            conv.out_channels,
            k,
            padding[0],
            reduction,
            min_hidden=min_hidden,
            bias=conv.bias is not None,
        ).to(device=conv.weight.device, dtype=conv.weight.dtype)
        module.base_conv.load_state_dict(conv.state_dict())
        return module

    def init_near_identity(self, kernel_value: float = 1e-6) -> None:
        """Make the dynamic part ~0: last generator conv weight 0, bias logit(kernel_value).

        Every element of W_dyn is then `kernel_value`, so the dynamic output is
        kernel_value * (sum of x over the I channels and the k x k window) and out ~ base_conv(x).
        """
        zero_last_layer(self.attention[3], gate_logit(kernel_value), self)


def article_forward(module: ArticleDynamicConv2d, x: torch.Tensor) -> torch.Tensor:
    """The article's forward, kept to show its defect: it raises RuntimeError (einsum subscript `i` has two sizes).

    Same code path as the article: unfold to (B, I, k*k, L), then `einsum("bocik,bikn->bocn")`,
    where `i` is k in the kernel and I in the patches. The whole forward runs only when I = k = 1 (checked in the
    tests): for k = 1 and I > 1 the einsum itself runs, since a subscript of size 1 broadcasts, but it keeps the
    input channels as an output axis `c` instead of summing them, and the final `view` then fails.
    """
    B, k = x.shape[0], module.kernel_size
    base_output = module.base_conv(x)
    attention_weights = module.attention(x).view(B, module.out_channels, module.in_channels, k, k)
    x_unfold = F.unfold(x, kernel_size=k, padding=module.padding)
    x_unfold = x_unfold.view(B, module.in_channels, k * k, -1)
    dynamic_output = torch.einsum(ARTICLE_EINSUM, attention_weights, x_unfold)
    dynamic_output = dynamic_output.view(B, module.out_channels, x.size(2), x.size(3))
    return base_output + dynamic_output


def temperature_schedule(epoch: float, total_epochs: float, start: float = 30.0, end: float = 1.0) -> float:
    """The softmax temperature after `epoch` epochs: linear from `start` at 0 to `end` at `total_epochs`, then `end`.

        T(epoch) = start + (end - start) * min(epoch, total_epochs) / total_epochs

    Chen et al. (2020) anneal T from 30 to 1 over the first 10 epochs: `total_epochs=10`. A
    fractional epoch (epoch + step / steps_per_epoch) anneals per step, as `temperature_annealing` does.
    """
    check_positive("total_epochs", total_epochs)
    if not math.isfinite(epoch) or epoch < 0:
        raise ValueError(f"epoch must be a finite number >= 0, got {epoch}")
    if not (math.isfinite(start) and math.isfinite(end)) or start <= 0 or end <= 0:
        raise ValueError(f"temperatures must be finite numbers > 0, got start={start}, end={end}")
    return start + (end - start) * min(epoch, total_epochs) / total_epochs


class DynamicConv2d(nn.Module):
    """Dynamic Convolution (Chen et al., 2020): K kernels mixed per sample by a softmax attention.

        pi = softmax(fc2(relu(fc1(mean_ij x))) / T)       (B, I, H, W) -> (B, K), sum_k pi_k = 1
        W_b = sum_k pi_bk * weight_k,  b_b = sum_k pi_bk * bias_k
        out_b = conv2d(x_b, W_b) + b_b

    `weight` is (K, O, I / groups, kh, kw), `bias` (K, O). The attention adds only
    `I * hidden + hidden * K` weights (+ biases), `hidden = max(I // reduction, min_hidden)`.
    The temperature T starts high (near-uniform pi) and is annealed with `set_temperature`
    and `temperature_schedule`; it is kept in the buffer `softmax_temperature`, so a saved model keeps it.
    The last pi is kept (detached) in `last_attention`.

    Two exact ways to compute out, chosen by input size:
    - `_mix_kernels` (maps of >= GROUPED_MIN_PIXELS pixels, or batch 1): build W_b, then one
      F.conv2d with the batch folded into the groups. Mixing costs B * K * |W| multiply-adds,
      small next to the conv's B * |W| * H_out * W_out on large maps.
    - `_mix_outputs` (small maps): run the K convs on the whole batch, then mix their outputs:
      out_b = sum_k pi_bk conv2d(x_b, weight_k). K times the conv's multiply-adds but no
      per-sample kernels, which CPU grouped convolution handles slowly on small maps (on a
      VGG16 at CIFAR size, the 8x8, 4x4 and 2x2 maps: see `python -m vggattn.bench dynamic`).
      On output maps of at most MATMUL_MAX_PIXELS pixels the K convs run as unfold + one matmul.
    Neither is cheap on small maps: mixing the kernels costs B * K * |W|, as much as the conv itself
    once H_out * W_out <= K, so at CIFAR size a dynamic layer costs several plain convs.

    Exported (`torch.export`, `torch.onnx.export(..., dynamo=True)`: `torch.compiler.is_exporting()`),
    the module always mixes outputs, whatever the batch and map size:

        out_b = sum_k pi_bk conv2d(x_b, weight_k)          groups = G, the same for any B

    `_mix_kernels` folds the batch into the groups (groups = B * G): an exported graph would then hold a
    conv whose groups change with B, which ONNX (a static `group`) cannot express, so the graph would run at
    the export batch only. Both ways compute the same out (up to float rounding); eager calls are unchanged.
    """

    GROUPED_MIN_PIXELS = (
        128  # 16x16 maps and larger; on CPU (2 threads) the 8x8 map of VGG16 block 3 is faster mixing outputs
    )
    MATMUL_MAX_PIXELS = 4  # output maps of 2x2 and smaller: the K convs as unfold + matmul (_expert_outputs_by_matmul)

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int | tuple[int, int],
        stride: int | tuple[int, int] = 1,
        padding: int | tuple[int, int] | str = 0,
        dilation: int | tuple[int, int] = 1,
        groups: int = 1,
        bias: bool = True,
        num_kernels: int = 4,
        reduction: int = 4,
        temperature: float = 30.0,
        *,
        min_hidden: int = 4,
    ) -> None:
        super().__init__()
        hidden = hidden_width(in_channels, reduction, min_hidden)  # also checks in_channels, reduction >= 1
        check_int("out_channels", out_channels)
        check_int("groups", groups)
        if in_channels % groups or out_channels % groups:
            raise ValueError(
                f"in_channels ({in_channels}) and out_channels ({out_channels}) must both be divisible "
                f"by groups ({groups})"
            )
        self.in_channels, self.out_channels, self.groups = in_channels, out_channels, groups
        self.kernel_size = check_int_pair("kernel_size", kernel_size)
        self.stride = check_int_pair("stride", stride)
        self.dilation = check_int_pair("dilation", dilation)
        self.padding = self._check_padding(padding)
        self.num_kernels = check_int("num_kernels", num_kernels)
        # a buffer, so a saved model keeps the temperature it was trained to (annealing ends at 1, not at the 30 built)
        self.register_buffer("softmax_temperature", torch.tensor(30.0))
        self.set_temperature(temperature)
        self.weight = nn.Parameter(torch.empty(num_kernels, out_channels, in_channels // groups, *self.kernel_size))
        self.bias = nn.Parameter(torch.empty(num_kernels, out_channels)) if bias else None
        self.fc1 = nn.Linear(in_channels, hidden)
        self.fc2 = nn.Linear(hidden, num_kernels)
        self.last_attention: torch.Tensor | None = None
        self.reset_parameters()

    @staticmethod
    def _check_padding(padding: object) -> tuple[int, int] | str:
        if padding in ("same", "valid"):
            return padding
        pair = (padding, padding) if isinstance(padding, int) and not isinstance(padding, bool) else padding
        if (
            not isinstance(pair, (tuple, list))
            or len(pair) != 2
            or not all(isinstance(p, int) and not isinstance(p, bool) and p >= 0 for p in pair)
        ):
            raise ValueError(f"padding must be an int >= 0, a pair of them, 'same' or 'valid', got {padding!r}")
        return tuple(pair)

    def reset_parameters(self) -> None:
        """Each of the K kernels (and biases) initialised as `nn.Conv2d` initialises its own."""
        fan_in = self.weight[0, 0].numel()  # I / groups * kh * kw
        for k in range(self.num_kernels):
            nn.init.kaiming_uniform_(self.weight[k], a=math.sqrt(5))
            if self.bias is not None:
                nn.init.uniform_(self.bias[k], -1 / math.sqrt(fan_in), 1 / math.sqrt(fan_in))

    def set_temperature(self, temperature: float) -> None:
        """Set the softmax temperature T (> 0); see `temperature_schedule`."""
        check_positive("temperature", temperature, hint="see temperature_schedule")
        with torch.no_grad():
            self.softmax_temperature.fill_(float(temperature))

    @property
    def temperature(self) -> float:
        """The softmax temperature T now (the buffer `softmax_temperature`, saved with the model)."""
        if self.softmax_temperature.is_meta:  # a model built on the meta device has no values
            return math.nan
        return float(self.softmax_temperature)

    def attention(self, x: torch.Tensor) -> torch.Tensor:
        """pi = softmax(fc2(relu(fc1(mean_ij x))) / T): (B, I, H, W) -> (B, K)."""
        logits = self.fc2(torch.relu(self.fc1(x.mean(dim=(2, 3)))))  # (B, K)
        return torch.softmax(logits / self.softmax_temperature, dim=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_input(self, x, self.in_channels)
        pi = self.attention(x)  # (B, K)
        if not is_exporting():  # an exported graph keeps no Python attributes: nothing to record
            self.last_attention = pi.detach()
        out = self._mix_kernels(x, pi) if self._mixes_kernels(x) else self._mix_outputs(x, pi)
        if self.bias is not None:
            out = out + (pi @ self.bias)[:, :, None, None]  # b_b = sum_k pi_bk bias_k: (B, K) @ (K, O)
        return out

    def _mixes_kernels(self, x: torch.Tensor) -> bool:
        """Whether `forward` takes `_mix_kernels` (batch 1, or maps of >= GROUPED_MIN_PIXELS pixels) for `x`.

        Never while exporting: a conv with groups = B * G would fix the batch size of the exported graph.
        """
        if is_exporting():  # torch.export / the dynamo ONNX exporter: a graph for any B
            return False
        return x.shape[0] == 1 or x.shape[-2] * x.shape[-1] >= self.GROUPED_MIN_PIXELS

    def _mix_kernels(self, x: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """W_b = sum_k pi_bk weight_k, then one F.conv2d with the batch folded into the groups."""
        B, I, H, W = x.shape
        K, O = self.num_kernels, self.out_channels
        weight = (pi @ self.weight.reshape(K, -1)).reshape(B * O, I // self.groups, *self.kernel_size)
        # B * groups groups: sample b uses input channels b*I .. (b+1)*I - 1 and output channels b*O .. (b+1)*O - 1
        out = F.conv2d(
            x.reshape(1, B * I, H, W), weight, None, self.stride, self.padding, self.dilation, B * self.groups
        )
        return out.reshape(B, O, out.shape[-2], out.shape[-1])  # (1, B*O, H_out, W_out) -> (B, O, H_out, W_out)

    def _mix_outputs(self, x: torch.Tensor, pi: torch.Tensor) -> torch.Tensor:
        """out_b = sum_k pi_bk conv2d(x_b, weight_k): the K convs as one conv of K * O output channels,
        or as unfold + matmul on output maps of at most MATMUL_MAX_PIXELS pixels."""
        B, K, O, G = x.shape[0], self.num_kernels, self.out_channels, self.groups
        if isinstance(self.padding, tuple) and math.prod(self._output_size(x)) <= self.MATMUL_MAX_PIXELS:
            experts = self._expert_outputs_by_matmul(x)  # (G, K, O/G, B, H_out, W_out)
            return torch.einsum("bk,gkobhw->bgohw", pi, experts).reshape(B, O, *experts.shape[-2:])
        kernel_shape = self.weight.shape[2:]  # (I / groups, kh, kw)
        # output channels ordered (group, kernel, channel in group) so that each group's K*O/G channels are together
        weight = self.weight.reshape(K, G, O // G, *kernel_shape).transpose(0, 1).reshape(K * O, *kernel_shape)
        experts = F.conv2d(x, weight, None, self.stride, self.padding, self.dilation, G)  # (B, K*O, H_out, W_out)
        experts = experts.reshape(B, G, K, O // G, *experts.shape[-2:])
        return torch.einsum("bk,bgkohw->bgohw", pi, experts).reshape(B, O, *experts.shape[-2:])

    def _output_size(self, x: torch.Tensor) -> tuple[int, int]:
        """(H_out, W_out) for numeric padding: (H + 2p - d(k - 1) - 1) // s + 1 per side."""
        return tuple(
            (size + 2 * p - d * (k - 1) - 1) // s + 1
            for size, p, d, k, s in zip(x.shape[-2:], self.padding, self.dilation, self.kernel_size, self.stride)
        )

    def _expert_outputs_by_matmul(self, x: torch.Tensor) -> torch.Tensor:
        """The K convs as im2col + one (batched over groups) matmul: (B, I, H, W) -> (G, K, O/G, B, H_out, W_out).

        Same numbers as `F.conv2d` with K * O output channels (numeric padding only). On VGG16's 2x2 map
        (512 channels, batch 32, 2 CPU threads) the conv of 2048 output channels took 23 ms forward
        against 16 ms for this, and forward + backward about 10x a plain conv against 4.6x
        (`python -m vggattn.bench dynamic`). On the 4x4 map the conv's forward is still faster.
        """
        B, K, O, G = x.shape[0], self.num_kernels, self.out_channels, self.groups
        H_out, W_out = self._output_size(x)
        # (B, I*kh*kw, L), rows in (i, kh, kw) order like the weight's last three dimensions
        patches = F.unfold(x, self.kernel_size, self.dilation, self.padding, self.stride)
        C = patches.shape[1] // G  # I/G * kh * kw per group
        patches = patches.reshape(B, G, C, -1).permute(1, 2, 0, 3).reshape(G, C, -1)  # (G, C, B*L)
        weight = self.weight.reshape(K, G, O // G, C).transpose(0, 1).reshape(G, K * O // G, C)  # (G, K*O/G, C)
        return torch.bmm(weight, patches).reshape(G, K, O // G, B, H_out, W_out)

    def init_near_identity(self, kernel_spread: float = 0.1, *, generator: torch.Generator | None = None) -> None:
        """Break the symmetry of K equal kernels without changing the output: weight_k = W + d_k, sum_k d_k = 0.

        After `from_conv` (or `load_backbone_weights`) the K kernels are one trained kernel W: then every pi
        gives W, so the loss does not depend on pi and the attention MLP never gets a gradient. Here
        d_k = kernel_spread * std(W) * (e_k - mean_k e_k), e_k ~ N(0, 1) per weight, and fc2 = 0, so
        pi = 1/K for every input and the mixed kernel sum_k pi_k (W + d_k) = W exactly (up to float
        rounding): the network computes what it did, while dL/dpi_k = <conv(x, d_k), dL/dout> is not 0.
        The biases stay equal.
        """
        check_positive("kernel_spread", kernel_spread)
        with torch.no_grad():
            mean_kernel = self.weight.mean(dim=0, keepdim=True)  # W (the K kernels are equal after from_conv)
            if not torch.equal(self.weight, mean_kernel.expand_as(self.weight).to(self.weight.dtype)):
                raise ValueError(
                    "DynamicConv2d.init_near_identity starts from K equal kernels (a trained conv copied K times, "
                    "as from_conv does), but these kernels differ; a module trained from scratch needs no "
                    "symmetry break"
                )
            noise = torch.randn(self.weight.shape, generator=generator, dtype=self.weight.dtype).to(self.weight.device)
            noise -= noise.mean(dim=0, keepdim=True)  # sum_k d_k = 0
            self.weight.copy_(mean_kernel + kernel_spread * mean_kernel.std() * noise)
            self.fc2.weight.zero_()
            self.fc2.bias.zero_()

    @classmethod
    def from_conv(cls, conv: nn.Conv2d, num_kernels: int = 4, **kwargs: object) -> DynamicConv2d:
        """A DynamicConv2d with `conv`'s settings whose K kernels (and biases) all equal `conv`'s.

        Since sum_k pi_k = 1, it computes exactly `conv(x)` (up to float rounding) for any pi:
        inserting it into a trained network changes nothing until training moves the kernels apart.
        `kwargs` go to the constructor (reduction, temperature, min_hidden).
        """
        _check_conv_for_copy(conv, cls.__name__)
        module = cls(
            conv.in_channels,
            conv.out_channels,
            conv.kernel_size,
            conv.stride,
            conv.padding,
            conv.dilation,
            conv.groups,
            conv.bias is not None,
            num_kernels,
            **kwargs,
        ).to(device=conv.weight.device, dtype=conv.weight.dtype)
        with torch.no_grad():
            module.weight.copy_(conv.weight.expand_as(module.weight))
            if conv.bias is not None:
                module.bias.copy_(conv.bias.expand_as(module.bias))
        return module

    def extra_repr(self) -> str:
        return (
            f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
            f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
            f"bias={self.bias is not None}, num_kernels={self.num_kernels}, temperature={self.temperature}"
        )
