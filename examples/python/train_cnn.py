"""Training a small CNN whose convolutions are convkit's, on synthetic data.

    python examples/python/train_cnn.py [steps]

The task: tell apart 16x16 images of horizontal and vertical stripes (random
phase and period, plus noise). The model is two `convkit.torch.Conv2d`
layers (the second with reflect padding, a boundary cuDNN does not have)
and a linear read-out, trained with Adam. The gradients of the convolutions
are convkit's backward-data / backward-filter / backward-bias custom
operators, computed where the tensors live: on the CPU reference without a
GPU (seconds), on the GPU algorithms with one.

The script prints the loss as it falls and the accuracy on fresh images, and
exits non-zero when the model did not learn (accuracy below 90%).
"""

import sys

import torch

import convkit.torch as ckt


def stripes(n, generator, device):
    """n images [n, 1, 16, 16] and labels (0 horizontal, 1 vertical)."""
    labels = torch.randint(0, 2, (n,), generator=generator)
    period = torch.randint(3, 7, (n, 1, 1), generator=generator).double()
    phase = torch.rand((n, 1, 1), generator=generator, dtype=torch.float64) * 6.283
    coord = torch.arange(16, dtype=torch.float64)
    rows = torch.sin(coord.view(1, 16, 1) * 6.283 / period + phase).expand(n, 16, 16)
    cols = torch.sin(coord.view(1, 1, 16) * 6.283 / period + phase).expand(n, 16, 16)
    images = torch.where(labels.view(n, 1, 1) == 0, rows, cols)
    images = images + 0.3 * torch.randn((n, 16, 16), generator=generator, dtype=torch.float64)
    return images.unsqueeze(1).float().to(device), labels.to(device)


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = ckt.Conv2d(1, 8, 3, padding=1)
        self.conv2 = ckt.Conv2d(8, 8, 3, stride=2, padding=1, padding_mode="reflect")
        self.head = torch.nn.Linear(8, 2)

    def forward(self, x):
        x = torch.relu(self.conv1(x))
        x = torch.relu(self.conv2(x))
        return self.head(x.mean(dim=(2, 3)))


def main(steps=60):
    device = "cuda" if torch.cuda.is_available() else "cpu"
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(1)
    model = Net().to(device)
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    print(f"training on {device}: two convkit.torch.Conv2d layers, {steps} steps of 64 images")
    for step in range(steps):
        x, y = stripes(64, gen, device)
        loss = torch.nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 10 == 0 or step == steps - 1:
            print(f"  step {step:4d}  loss {loss.item():.4f}")
    with torch.no_grad():
        x, y = stripes(512, gen, device)
        accuracy = (model(x).argmax(dim=1) == y).double().mean().item()
    print(f"accuracy on 512 fresh images: {accuracy:.1%}")
    return accuracy


if __name__ == "__main__":
    acc = main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)
    sys.exit(0 if acc >= 0.9 else 1)
