"""The ``xaicnn inspect`` record of a checkpoint, and its terminal rendering."""
from __future__ import annotations

from .checkpoint import load_checkpoint

HISTORY_KEYS = ("epoch", "train_loss", "train_acc", "val_loss", "val_acc", "precision", "recall", "f1", "seconds",
                "images_per_s", "lr", "val_images")


def describe(path) -> dict:
    """``{"arch", "dataset", "status", "params", "flops", "epochs", "seed", "history": [...],
    "gradient_flow": {param: {"norm", "mean_abs", "max_abs"}}, ...}`` for checkpoint ``path``."""
    run = load_checkpoint(path)
    m = run.meta
    return {
        "path": str(run.path), "arch": m["arch"], "model_options": m.get("model_options", {}), "dataset": m["dataset"],
        "status": m["status"], "status_detail": m.get("status_detail", ""), "in_epoch": m.get("in_epoch"), "params": m["params"], "flops": m["flops"],
        "macs": m.get("macs"), "epochs": m["epochs_done"], "epochs_planned": m["config"]["epochs"], "seed": m["seed"],
        "input_size": list(run.input_size), "num_classes": m["num_classes"], "classes": m["classes"],
        "train_images": m.get("train_images"), "val_images": m.get("val_images"), "augment": m.get("augment"),
        "best_val_acc": run.best("val_acc"), "last_val_acc": run.last("val_acc"), "best_f1": run.best("f1"),
        "wall_time": m["wall_time"], "device": m.get("device"), "precision": m.get("precision"),
        "versions": m.get("versions", {}), "created": m.get("created"), "updated": m.get("updated"),
        "config": m["config"],
        "history": [{**{k: h.get(k) for k in HISTORY_KEYS}, **({"partial": True} if h.get("partial") else {})}
                    for h in run.history],
        "gradient_flow": run.gradient_flow,
        "summary": run.summary().to_dict(),
    }


def format_description(doc: dict) -> str:
    from ..models.complexity import human

    pct = lambda v: "-" if v is None else f"{100 * v:.2f}%"  # noqa: E731
    lines = [
        f"{doc['path']}",
        f"  {doc['arch']} on {doc['dataset']} ({'x'.join(map(str, doc['input_size']))}, {doc['num_classes']} classes), "
        f"seed {doc['seed']}{', options ' + str(doc['model_options']) if doc['model_options'] else ''}",
        f"  status: {doc['status']}{' - ' + doc['status_detail'] if doc['status_detail'] else ''}{_in_epoch(doc)}; "
        f"{doc['epochs']}/{doc['epochs_planned']} epochs in {doc['wall_time']:.0f}s on {doc['device']} ({doc['precision']})",
        f"  {doc['params']:,} parameters, {human(doc['flops'])} FLOPs per image; {doc['train_images']:,} train / "
        f"{doc['val_images']:,} val images; augment: {doc['augment']}",
        f"  best val acc {pct(doc['best_val_acc'])}, last {pct(doc['last_val_acc'])}, best macro F1 {pct(doc['best_f1'])}",
        _timing(doc["summary"]),
        "",
        "  epoch  train loss  train acc  val loss  val acc  precision  recall      F1  seconds  img/s       lr",
    ]
    for h in doc["history"]:
        subset = h.get("val_images") not in (None, doc["val_images"])
        lines.append(f"  {h['epoch']:>5}{'*' if h.get('partial') else ' '} {h['train_loss']:>9.4f}  {h['train_acc']:>9.4f}  "
                     f"{h['val_loss']:>8.4f}  {h['val_acc']:>7.4f}{'+' if subset else ' '} {h['precision']:>8.4f}  "
                     f"{h['recall']:>6.4f}  "
                     f"{h['f1']:>6.4f}  {h['seconds']:>7.1f}  {h['images_per_s']:>5.0f}  {h['lr']:>7.2e}")
    if any(h.get("partial") for h in doc["history"]):
        lines.append("  * partial epoch (stopped at the time budget)")
    subsets = sorted({h["val_images"] for h in doc["history"] if h.get("val_images") not in (None, doc["val_images"])})
    if subsets:
        lines.append(f"  + validation metrics of a subset ({', '.join(f'{n:,}' for n in subsets)} images, --val-subset): "
                     f"a progress reading; best val acc counts the whole-split epochs only")
    gf = doc["gradient_flow"]
    if gf:
        names = list(gf)
        picks = sorted({0, len(names) // 2, len(names) - 1})
        lines += ["", f"  gradient flow (L2 norm of the gradient, mean over each epoch's steps; {len(names)} parameter tensors):"]
        for i in picks:
            norms = gf[names[i]]["norm"]
            lines.append(f"    {names[i]:<40} first epoch {norms[0]:.3e}  last epoch {norms[-1]:.3e}")
        last = {n: v["norm"][-1] for n, v in gf.items()}
        weakest = min(last, key=last.get)
        lines.append(f"    weakest in the last epoch: {weakest} ({last[weakest]:.3e}); "
                     f"strongest: {max(last, key=last.get)} ({max(last.values()):.3e})")
    return "\n".join(lines)


def _timing(summary: dict) -> str:
    if summary["seconds_per_epoch"] is None:
        return "  seconds per epoch: -"
    return f"  {summary['seconds_per_epoch']:.2f} s per epoch ({summary['timing_note']})"


def _in_epoch(doc: dict) -> str:
    """Where a checkpoint saved inside an epoch (Ctrl-C, or a long epoch's periodic save) stands."""
    p = doc.get("in_epoch")
    return "" if not p else f" (saved inside epoch {p['epoch']} at step {p['step']} of {p['steps']}, {p['seconds']:.0f}s into it)"
