"""`python -m vggattn.bench dynamic`: DynamicConv2d's two exact paths against a plain conv, layer by layer.

The five dynamic positions of VGG16 at CIFAR size (the last conv of each block: 32x32 ... 2x2 maps),
one layer at a time, forward + backward on a batch: a plain `nn.Conv2d`, `DynamicConv2d._mix_kernels`
(per-sample kernels W_b = sum_k pi_bk W_k, one grouped conv) and `DynamicConv2d._mix_outputs`
(K convs on the whole batch, outputs mixed; as unfold + matmul on output maps of at most
`MATMUL_MAX_PIXELS` pixels). Times are medians of interleaved rounds
(`vggattn.profiling.median_seconds`); `DynamicConv2d.forward` takes the kernel path on maps of at
least `GROUPED_MIN_PIXELS` pixels and the output path below.

Why small maps stay expensive: mixing kernels builds B * |W| per-sample weights (302 MB for a 512->512
3x3 layer at batch 32) and mixing outputs costs K convolutions; on a 4x4 or 2x2 map neither is close
to one convolution.
"""

from __future__ import annotations

import argparse

import torch
from torch import nn

from vggattn.attention import DynamicConv2d
from vggattn.checks import check_int
from vggattn.profiling import median_seconds

# (channels, map size) of the last conv of each VGG16 block for a 32x32 input, at width 1
POSITIONS = ((64, 32), (128, 16), (256, 8), (512, 4), (512, 2))
PATHS = ("plain", "mix_kernels", "mix_outputs")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m vggattn.bench dynamic", description=__doc__.split("\n")[0])
    parser.add_argument("--width", type=float, default=1.0, help="channel multiplier (default %(default)s)")
    parser.add_argument("--batch", type=int, default=32, help="default %(default)s")
    parser.add_argument("--num-kernels", type=int, default=4, help="K (default %(default)s)")
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (default %(default)s)")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="default %(default)s")
    args = parser.parse_args(argv)
    for name in ("batch", "num_kernels", "repeats", "threads"):
        check_int(f"--{name.replace('_', '-')}", getattr(args, name))
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    print(
        f"one layer, forward + backward, batch {args.batch}, K={args.num_kernels}, width {args.width}, "
        f"{args.threads} threads, median of {args.repeats} rounds (+1 warm-up); ms and x plain"
    )
    print(f"{'layer':<14}" + "".join(f"{path:>20}" for path in PATHS) + f"{'forward takes':>15}")
    totals, chosen_total = dict.fromkeys(PATHS, 0.0), 0.0
    for channels, size in POSITIONS:
        channels = max(1, round(channels * args.width))
        plain = nn.Conv2d(channels, channels, 3, padding=1)
        dynamic = DynamicConv2d(channels, channels, 3, padding=1, num_kernels=args.num_kernels)
        x = torch.randn(args.batch, channels, size, size, requires_grad=True)
        grad = torch.randn(args.batch, channels, size, size)
        pi = dynamic.attention(x).detach().requires_grad_()  # (B, K): both paths get the same mixing weights
        outputs = {
            "plain": lambda: plain(x),
            "mix_kernels": lambda: dynamic._mix_kernels(x, pi),
            "mix_outputs": lambda: dynamic._mix_outputs(x, pi),
        }
        seconds = median_seconds({path: lambda f=f: f().backward(grad) for path, f in outputs.items()}, args.repeats)
        for path in PATHS:
            totals[path] += seconds[path]
        chosen = "mix_kernels" if dynamic._mixes_kernels(x) else "mix_outputs"
        chosen_total += seconds[chosen]
        print(
            f"{f'{channels}ch {size}x{size}':<14}"
            + "".join(f"{seconds[p] * 1e3:>11.1f} ({seconds[p] / seconds['plain']:>5.2f}x)" for p in PATHS)
            + f"{chosen:>15}"
        )
    print(
        f"{'all five':<14}" + "".join(f"{totals[p] * 1e3:>11.1f} ({totals[p] / totals['plain']:>5.2f}x)" for p in PATHS)
    )
    print(
        f"as DynamicConv2d.forward chooses: {chosen_total * 1e3:.1f} ms for the five layers, "
        f"{chosen_total / totals['plain']:.2f}x the plain convs"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
