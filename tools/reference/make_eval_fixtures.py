"""Fixtures for BirderEval (linear probe, Ward, AMI, UMAP) from the real peers.

Run with the reference venv (scikit-learn 1.9.1, umap-learn 0.5.12, torch, Birder 0.8.4):

    /work/venv-ref/bin/python tools/reference/make_eval_fixtures.py

Writes Tests/Fixtures/eval/ (about 1.3 MB):
  digits_x.f32          scikit-learn's digits set, 1797 x 64 raw float32 (pixel values 0..16)
  digits.json           labels, the linear-probe split, Ward labels of AgglomerativeClustering(ward)
                        on the digits and on the two low-dimensional sets below, AMI label pairs
                        with adjusted_mutual_info_score's values, UMAP reference numbers
  umap_digits_seed0.f32 umap-learn's 50-d embedding of the L2-normalised digits (seed 0), 1797 x 50
  blobs_x.f32           3000 x 8 Gaussian blobs (a second low-dimensional Ward case)
  linear_trace.json     one Birder linear-probe run with its initial weights, the DataLoader's
                        per-epoch permutations and the final weights (optimizer parity)

Birder's own functions are called where they exist (train_linear_probe, evaluate_linear_probe,
evaluate_ami); the traced linear run replays train_linear_probe's loop with the sample indices
recorded and is checked here to give the same weights as Birder's function.
"""

import json
import math
from pathlib import Path

import numpy as np
import scipy.sparse.csgraph
import torch
import umap
from birder.eval._embeddings import l2_normalize
from birder.eval.methods.ami import evaluate_ami
from birder.eval.methods.linear import evaluate_linear_probe, train_linear_probe
from sklearn.cluster import AgglomerativeClustering
from sklearn.datasets import load_digits
from sklearn.metrics import adjusted_mutual_info_score, balanced_accuracy_score, top_k_accuracy_score
from sklearn.model_selection import train_test_split
from torch import nn
from torch.utils.data import DataLoader, TensorDataset
from umap.umap_ import find_ab_params, fuzzy_simplicial_set, smooth_knn_dist

OUT = Path(__file__).resolve().parents[2] / "Tests" / "Fixtures" / "eval"
LINEAR_EPOCHS = 60
LINEAR_BATCH = 64
LINEAR_SEEDS = [0, 1, 2, 3, 4]
UMAP_SEEDS = [0, 1, 2, 3, 4]


def ward(x: np.ndarray, k: int) -> list[int]:
    return AgglomerativeClustering(n_clusters=k, linkage="ward").fit_predict(x).tolist()


def ami_cases(digits_y: np.ndarray, ward_digits: list[int]) -> list[dict]:
    rng = np.random.default_rng(7)
    cases = {
        "identical": ([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2]),
        "permuted": ([0, 0, 1, 1, 2, 2], [5, 5, 3, 3, 9, 9]),
        "one_class_true": ([3] * 8, [0, 1, 0, 1, 2, 2, 3, 3]),
        "one_cluster_pred": ([0, 1, 0, 1, 2, 2, 3, 3], [4] * 8),
        "both_one_cluster": ([1] * 5, [7] * 5),
        "singletons_pred": ([0, 0, 0, 0], [0, 1, 2, 3]),
        "singletons_both": (list(range(10)), list(range(10))[::-1]),
        "singletons_vs_groups": (list(range(12)), [i // 3 for i in range(12)]),
        "empty": ([], []),
        "non_contiguous": ([-1, 5, 5, 100, -1, 100, 7], [2, 2, 9, 9, 2, -4, -4]),
        "random_small": (rng.integers(0, 10, 1000).tolist(), rng.integers(0, 15, 1000).tolist()),
        "random_large": (rng.integers(0, 300, 5000).tolist(), rng.integers(0, 250, 5000).tolist()),
        "digits_vs_ward": (digits_y.tolist(), ward_digits),
    }
    noisy = digits_y.copy()
    flip = rng.random(noisy.shape[0]) < 0.3
    noisy[flip] = rng.integers(0, 10, int(flip.sum()))
    cases["digits_vs_noisy"] = (digits_y.tolist(), noisy.tolist())
    out = []
    for name, (t, p) in cases.items():
        out.append({"name": name, "labels_true": t, "labels_pred": p,
                    "ami": float(adjusted_mutual_info_score(t, p))})
    return out


def linear_trace(x_train, y_train, seed: int, epochs: int) -> dict:
    """train_linear_probe's loop, replayed with the sample order recorded."""
    torch.manual_seed(seed)
    np.random.seed(seed)
    model = nn.Linear(x_train.shape[1], 10)
    w0 = model.weight.detach().clone().numpy()
    b0 = model.bias.detach().clone().numpy()
    xt = torch.from_numpy(x_train).float()
    yt = torch.from_numpy(y_train).long()
    idx = torch.arange(xt.shape[0])
    loader = DataLoader(TensorDataset(xt, yt, idx), batch_size=LINEAR_BATCH, shuffle=True)
    criterion = nn.CrossEntropyLoss()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs, eta_min=1e-5)
    orders, losses = [], []
    for _ in range(epochs):
        order, total = [], 0.0
        for bx, by, bi in loader:
            optimizer.zero_grad()
            loss = criterion(model(bx), by)
            loss.backward()
            optimizer.step()
            total += loss.item() * bx.size(0)
            order.extend(bi.tolist())
        scheduler.step()
        orders.append(order)
        losses.append(total / xt.shape[0])
    reference = train_linear_probe(x_train, y_train, 10, torch.device("cpu"), epochs, LINEAR_BATCH, 1e-3, seed)
    same = torch.equal(reference.weight.detach(), model.weight.detach())
    assert same, "the replayed loop must equal Birder's train_linear_probe"
    return {
        "seed": seed, "epochs": epochs, "batch_size": LINEAR_BATCH, "lr": 1e-3,
        "initial_weight": w0.ravel().tolist(), "initial_bias": b0.tolist(),
        "orders": orders, "epoch_losses": losses,
        "final_weight": model.weight.detach().numpy().ravel().tolist(),
        "final_bias": model.bias.detach().numpy().tolist(),
    }


def main() -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    digits = load_digits()
    x = digits.data.astype(np.float32)
    y = digits.target.astype(np.int64)
    x.astype("<f4").tofile(OUT / "digits_x.f32")
    xd = x.astype(np.float64)

    # Ward on the raw digits and on two low-dimensional sets.
    ward_digits = {k: ward(xd, k) for k in (2, 10, 50, 300)}
    xn = l2_normalize(x)
    emb0 = umap.UMAP(n_neighbors=15, n_components=50, min_dist=0.0, n_jobs=1, random_state=0).fit_transform(xn)
    emb0 = emb0.astype(np.float32)
    emb0.astype("<f4").tofile(OUT / "umap_digits_seed0.f32")
    ward_umap = {k: ward(emb0, k) for k in (10, 50, 300)}
    rng = np.random.default_rng(3)
    centres = rng.normal(scale=4.0, size=(40, 8))
    blobs = (centres[rng.integers(0, 40, 3000)] + rng.normal(size=(3000, 8))).astype(np.float32)
    blobs.astype("<f4").tofile(OUT / "blobs_x.f32")
    ward_blobs = {k: ward(blobs, k) for k in (40, 200)}

    # UMAP pieces and the full pipeline (Birder's evaluate_ami) over several seeds.
    a, b = find_ab_params(1.0, 0.0)
    dmat = np.sqrt(np.maximum(((xn[:, None, :].astype(np.float64) - xn[None, :, :]) ** 2).sum(-1), 0))
    knn_idx = np.argsort(dmat, axis=1, kind="mergesort")[:, :15]
    knn_d = np.take_along_axis(dmat, knn_idx, axis=1).astype(np.float32)
    sigmas, rhos = smooth_knn_dist(knn_d, 15.0)
    graph, _, _ = fuzzy_simplicial_set(xn, 15, np.random.RandomState(0), "euclidean",
                                       knn_indices=knn_idx, knn_dists=knn_d)
    graph = graph.tocsr()
    n_comp, _ = scipy.sparse.csgraph.connected_components(graph)
    deg = np.asarray(graph.sum(axis=1)).ravel()
    d_inv = scipy.sparse.diags(1.0 / np.sqrt(deg))
    lap = scipy.sparse.identity(graph.shape[0]) - d_inv @ graph @ d_inv
    evals = np.sort(scipy.linalg.eigh(lap.toarray(), eigvals_only=True))[:51]
    umap_amis = [evaluate_ami(x, y, n_clusters=10, umap_dim=50, l2_normalize_features=True, seed=s)
                 for s in UMAP_SEEDS]
    umap_ref = {
        "a": float(a), "b": float(b), "n_epochs": 500, "connected_components": int(n_comp),
        "knn_dists": knn_d.ravel().tolist(), "knn_indices": knn_idx.ravel().tolist(),
        "sigmas": sigmas.tolist(), "rhos": rhos.tolist(),
        "graph_row_sums": deg.tolist(), "graph_nnz": int(graph.nnz),
        "laplacian_smallest_eigenvalues": evals.tolist(),
        "ami_seeds": UMAP_SEEDS, "ami_values": umap_amis, "ami_mean": float(np.mean(umap_amis)),
        "ward_on_seed0_embedding_ami": float(adjusted_mutual_info_score(y, ward_umap[10])),
    }

    # Linear probe (Birder's protocol) on pixel/16 features, stratified 75/25 split.
    feats = x / 16.0
    train_idx, test_idx = train_test_split(np.arange(len(y)), test_size=0.25, random_state=0, stratify=y)
    x_train, y_train = feats[train_idx], y[train_idx]
    x_test, y_test = feats[test_idx], y[test_idx]
    accs = []
    metrics_case = None
    for s in LINEAR_SEEDS:
        model = train_linear_probe(x_train, y_train, 10, torch.device("cpu"), LINEAR_EPOCHS, LINEAR_BATCH, 1e-3, s)
        y_pred, y_true = evaluate_linear_probe(model, x_test, y_test, batch_size=LINEAR_BATCH)
        accs.append(float(np.mean(y_pred == y_true)))
        if metrics_case is None:
            with torch.inference_mode():
                logits = model(torch.from_numpy(x_test)).numpy()
            metrics_case = {
                "weight": model.weight.detach().numpy().ravel().tolist(),
                "bias": model.bias.detach().numpy().tolist(),
                "top1": float(np.mean(y_pred == y_true)),
                "top5": float(top_k_accuracy_score(y_test, logits, k=5, labels=np.arange(10))),
                "macro": float(balanced_accuracy_score(y_test, y_pred)),
            }
    linear = {
        "train_indices": train_idx.tolist(), "test_indices": test_idx.tolist(),
        "epochs": LINEAR_EPOCHS, "batch_size": LINEAR_BATCH, "lr": 1e-3,
        "seeds": LINEAR_SEEDS, "top1_values": accs, "top1_mean": float(np.mean(accs)),
        "metrics_seed0": metrics_case,
    }

    fixture = {
        "n": int(x.shape[0]), "d": int(x.shape[1]), "labels": y.tolist(),
        "ward_digits": {str(k): v for k, v in ward_digits.items()},
        "ward_umap_seed0": {str(k): v for k, v in ward_umap.items()},
        "ward_blobs": {str(k): v for k, v in ward_blobs.items()},
        "blobs_shape": [3000, 8],
        "ami_cases": ami_cases(y, ward_digits[10]),
        "umap": umap_ref,
        "linear": linear,
    }
    (OUT / "digits.json").write_text(json.dumps(fixture))
    trace = linear_trace(x_train, y_train, seed=3, epochs=5)
    (OUT / "linear_trace.json").write_text(json.dumps(trace))
    print(f"umap-learn AMI on digits: {umap_amis} mean {np.mean(umap_amis):.4f}; graph components {n_comp}")
    print(f"linear probe top-1: {accs} mean {np.mean(accs):.4f}; a={a:.6f} b={b:.6f}")
    print(f"trace losses: {trace['epoch_losses']}")


if __name__ == "__main__":
    main()
