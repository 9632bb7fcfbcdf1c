"""One rank of test_torch.py's DDP test (a module of its own so that torch.multiprocessing.spawn can import it).

Each of the two ranks takes half the batch, wraps the model (two
convkit.torch.Conv2d layers) in DistributedDataParallel over gloo, runs one
forward and backward, and saves the averaged gradients for the test to
compare with one process on the whole batch.
"""

import os

import torch
import torch.nn.functional as F


def make_model(ct):
    return torch.nn.Sequential(
        ct.Conv2d(3, 4, 3, padding=1, padding_mode="reflect", dtype=torch.float64),
        torch.nn.ReLU(),
        ct.Conv2d(4, 2, 3, stride=2, padding=1, dtype=torch.float64),
    )


def run(rank, world_size, folder):
    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    import convkit.torch as ct

    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method="file://" + os.path.join(folder, "rendezvous"), rank=rank,
                            world_size=world_size)
    try:
        inputs = torch.load(os.path.join(folder, "inputs.pt"))
        model = make_model(ct)
        model.load_state_dict(inputs["state"])
        ddp = DistributedDataParallel(model, find_unused_parameters=False)
        half = inputs["x"].shape[0] // world_size
        part = slice(rank * half, (rank + 1) * half)
        F.mse_loss(ddp(inputs["x"][part]), inputs["target"][part]).backward()
        torch.save({n: p.grad for n, p in model.named_parameters()}, os.path.join(folder, f"grads{rank}.pt"))
    finally:
        dist.destroy_process_group()
