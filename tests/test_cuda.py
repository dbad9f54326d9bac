"""CUDA paths of the harness and the adaptive layers, and where runs are placed.

The placement checks run everywhere; the tests marked ``needs_cuda`` run where a
GPU is available (``benchmarks/gpu.sh`` selects this file with ``-k cuda``).
"""

import copy

import pytest
import torch
from test_bench import TINY, bench, run_records, write_config

import awgnn
from awgnn.harness.batching import GraphStore, InMemoryLoader
from awgnn.harness.data import load_dataset
from awgnn.harness.registry import MODEL_CLASSES
from awgnn.harness.train import resolve_device
from awgnn.width.training import adaptive_widths

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
RAW_RATE_SHIFT = -0.3  # lambda ~ e^raw for small rates: every width grows by about e^0.3, i.e. 35%


def test_cuda_device_is_resolved_where_the_run_executes(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert resolve_device("auto") == torch.device("cuda")
    assert resolve_device("cpu") == torch.device("cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == torch.device("cpu")
    with pytest.raises(RuntimeError, match="protocol.device is 'cuda' but no CUDA device is available"):
        resolve_device("cuda")


def test_cuda_is_left_to_the_workers_by_the_scheduling_process(tmp_path, data_root, monkeypatch):
    """With CUDA seemingly available here, planning, storing and reporting never initialise it.

    Two spawned workers place their runs themselves: on the GPU where there is
    one (both share it), else on the CPU.
    """
    gpu = torch.cuda.is_available()

    def refuse(*args, **kwargs):
        raise AssertionError("the scheduling process initialised CUDA")

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "_lazy_init", refuse)
    monkeypatch.setattr(torch.cuda, "init", refuse)
    content = {**TINY, "protocol": {**TINY["protocol"], "device": "auto"}}
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, content), data_root, results, "--workers", "2") == 0
    records = run_records(results)
    assert len(records) == 2 * 2 * (2 + 1)
    assert {record["device"] for record in records.values()} == {"cuda" if gpu else "cpu"}


@needs_cuda
@pytest.mark.parametrize("loader", ["memory", "pyg"])
def test_cuda_harness_runs_two_workers_on_one_gpu(tmp_path, data_root, loader):
    content = {**TINY, "protocol": {**TINY["protocol"], "device": "cuda", "loader": loader}}
    results = tmp_path / "results"
    assert bench(write_config(tmp_path, content), data_root, results, "--workers", "2") == 0
    records = run_records(results)
    assert len(records) == 2 * 2 * (2 + 1)
    assert {record["device"] for record in records.values()} == {"cuda"}
    assert all(record["status"] == "ok" and record["val_score"] is not None for record in records.values())


def forward(model, batch):
    return model(batch.x, batch.edge_index, batch.batch, batch.num_graphs)


@needs_cuda
@pytest.mark.parametrize("model_class", ["AdaptiveGINClassifier", "AdaptiveGCNClassifier"])
def test_cuda_adaptive_training_resizes_on_the_device(data_root, model_class):
    data = load_dataset("MUTAG", data_root)
    store = GraphStore.from_dataset(data.dataset).to("cuda")
    batches = list(InMemoryLoader(store, None, 32, shuffle=True, generator=torch.Generator().manual_seed(0)))
    torch.manual_seed(0)
    model = MODEL_CLASSES[model_class].cls(data.num_features, data.num_classes).cuda()
    twin = copy.deepcopy(model).cpu()
    with torch.no_grad():
        model.eval(), twin.eval()
        torch.testing.assert_close(
            forward(model, batches[0]).cpu(), forward(twin, batches[0].cpu()), atol=1e-4, rtol=1e-4
        )
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    awgnn.auto_update_widths(model, optimizer)
    elbo = awgnn.ELBOLoss(len(data.dataset))

    def step(batch) -> None:
        optimizer.zero_grad()
        loss = elbo(model, forward(model, batch), batch.y).total
        assert torch.isfinite(loss)
        loss.backward()
        optimizer.step()

    for batch in batches[:3]:
        step(batch)
    before = model.layer_widths()
    with torch.no_grad():
        for _, width in adaptive_widths(model):
            width.raw_rate.add_(RAW_RATE_SHIFT)
    step(batches[3])  # the width update after this step grows every layer
    after = model.layer_widths()
    assert all(after[layer] > before[layer] for layer in before), (before, after)
    for parameter in model.parameters():
        assert parameter.is_cuda
        for value in optimizer.state[parameter].values():
            if value.dim() > 0:
                assert value.is_cuda and value.shape == parameter.shape
    step(batches[4])
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(
            forward(awgnn.freeze(model), batches[0]), forward(model, batches[0]), atol=1e-5, rtol=1e-5
        )
