#!/usr/bin/env python3
"""Compares run folders for scripts/test-mpi (standard library only: safetensors is read by hand).

  mpi_compare.py equal A B TOLERANCE   last.safetensors within TOLERANCE relative (L2 over all weights, and
                                       per tensor), test accuracy within TOLERANCE relative; prints the differences
  mpi_compare.py identical A B         the weights and test figures are bit-identical
  mpi_compare.py iteration FILE        the iteration a resume.safetensors was saved at
"""
import json, math, struct, sys


def read(path):
    with open(path, "rb") as f:
        data = f.read()
    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8:8 + size])
    body = data[8 + size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        raw = body[start:end]
        if info["dtype"] == "F32":
            tensors[name] = struct.unpack("<%df" % (len(raw) // 4), raw)
        else:
            tensors[name] = raw
    return header.get("__metadata__", {}), tensors


def summary(folder):
    with open(folder + "/summary.json") as f:
        return json.load(f)


def main():
    mode = sys.argv[1]
    if mode == "iteration":
        metadata, _ = read(sys.argv[2])
        print(metadata["iteration"])
        return 0
    a, b = sys.argv[2], sys.argv[3]
    _, wa = read(a + "/last.safetensors")
    _, wb = read(b + "/last.safetensors")
    sa, sb = summary(a), summary(b)
    if sorted(wa) != sorted(wb):
        print("mpi_compare: the checkpoints hold different tensors")
        return 1
    if mode == "identical":
        same = all(wa[name] == wb[name] for name in wa)
        figures = (sa["test_accuracy"], sa["test_loss"]) == (sb["test_accuracy"], sb["test_loss"])
        print("mpi_compare: weights %s, test figures %s (%s vs %s)" % (
            "bit-identical" if same else "DIFFER", "identical" if figures else "DIFFER",
            sa["test_accuracy"], sb["test_accuracy"]))
        return 0 if same and figures else 1
    tolerance = float(sys.argv[4])
    diff = norm = 0.0
    worst = (0.0, "")
    largest_abs = 0.0
    for name in sorted(wa):
        if not isinstance(wa[name], tuple):
            continue
        d = sum((x - y) ** 2 for x, y in zip(wa[name], wb[name]))
        n = sum(y * y for y in wb[name])
        largest_abs = max(largest_abs, max(abs(x - y) for x, y in zip(wa[name], wb[name])))
        diff += d
        norm += n
        relative = math.sqrt(d / n) if n > 0 else math.sqrt(d)
        if relative >= worst[0]:
            worst = (relative, name)
    overall = math.sqrt(diff / norm)
    accuracy = abs(sa["test_accuracy"] - sb["test_accuracy"]) / max(abs(sb["test_accuracy"]), 1e-12)
    loss = abs(sa["test_loss"] - sb["test_loss"]) / max(abs(sb["test_loss"]), 1e-12)
    print("mpi_compare: weights differ by %.3g relative (L2 over all), worst tensor %s %.3g, largest element difference %.3g; "
          "test accuracy %s vs %s (%.3g relative), test loss %s vs %s (%.3g relative)" % (
              overall, worst[1], worst[0], largest_abs, sa["test_accuracy"], sb["test_accuracy"], accuracy,
              sa["test_loss"], sb["test_loss"], loss))
    ok = overall <= tolerance and worst[0] <= tolerance and accuracy <= tolerance
    if not ok:
        print("mpi_compare: FAILED: more than %g relative" % tolerance)
    return 0 if ok else 1


sys.exit(main())
