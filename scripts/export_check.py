"""Helpers of scripts/check-onnx: compare an exported model's logits with cnnspec's own.

    export_check.py perturb IN.safetensors OUT.safetensors        give batch norm and PReLU non-default values
    export_check.py onnx MODEL.onnx INPUTS.npy LOGITS.npy          onnx.checker + onnxruntime vs cnnspec
    export_check.py torch MODEL.py WEIGHTS.safetensors INPUTS.npy LOGITS.npy   strict load_state_dict + forward vs cnnspec

A comparison passes when max |exported − cnnspec| <= TOLERANCE · max(1, max |cnnspec logit|): 1e-4
absolute for logits up to 1, relative to the logit scale above. Needs numpy (and onnx/onnxruntime or
torch for its mode); safetensors files are read here with numpy, so the torch environment needs
nothing but torch.
"""
import json
import struct
import sys

import numpy as np

TOLERANCE = 1e-4


# safetensors dtype names and their numpy types, for what cnnspec writes.
DTYPES = {"F32": "<f4", "I64": "<i8"}


def read_safetensors(path):
    """{name: array} and the metadata of a safetensors file as cnnspec writes it: F32 tensors, and I64
    for integer buffers such as num_batches_tracked (as PyTorch writes them)."""
    with open(path, "rb") as f:
        data = f.read()
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    metadata = header.pop("__metadata__", {})
    base = 8 + length
    tensors = {}
    for name, entry in header.items():
        if entry["dtype"] not in DTYPES:
            raise SystemExit(f"{path}: tensor {name} has dtype {entry['dtype']}, expected one of {', '.join(DTYPES)}")
        start, end = entry["data_offsets"]
        tensors[name] = np.frombuffer(data[base + start : base + end], dtype=DTYPES[entry["dtype"]]).reshape(entry["shape"]).copy()
    return tensors, metadata


def write_safetensors(path, tensors, metadata):
    header = {"__metadata__": metadata} if metadata else {}
    offset = 0
    names = sorted(tensors)
    for name in names:
        dtype = "I64" if tensors[name].dtype.kind == "i" else "F32"
        size = tensors[name].size * np.dtype(DTYPES[dtype]).itemsize
        header[name] = {"dtype": dtype, "shape": list(tensors[name].shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        for name in names:
            dtype = DTYPES["I64"] if tensors[name].dtype.kind == "i" else DTYPES["F32"]
            f.write(np.ascontiguousarray(tensors[name], dtype=dtype).tobytes())


def perturb(source, target):
    """Initial batch-norm statistics (mean 0, var 1, weight 1, bias 0) and PReLU slopes would hide
    mistakes in their export; replace them with deterministic random values."""
    tensors, metadata = read_safetensors(source)
    rng = np.random.default_rng(20261126)
    norms = {name[: -len(".running_mean")] for name in tensors if name.endswith(".running_mean")}
    for layer in sorted(norms):
        shape = tensors[layer + ".running_mean"].shape
        tensors[layer + ".weight"] = rng.uniform(0.5, 1.5, shape).astype(np.float32)
        tensors[layer + ".bias"] = rng.normal(0, 0.2, shape).astype(np.float32)
        tensors[layer + ".running_mean"] = rng.normal(0, 0.3, shape).astype(np.float32)
        tensors[layer + ".running_var"] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
    for name in sorted(tensors):
        layer = name.rsplit(".", 1)[0]
        if name.endswith(".weight") and layer not in norms and tensors[name].ndim == 1:
            tensors[name] = rng.uniform(0.05, 0.5, tensors[name].shape).astype(np.float32)  # PReLU slopes
    write_safetensors(target, tensors, metadata)


def compare(label, got, want):
    got = np.asarray(got, dtype=np.float64).reshape(want.shape[0], -1)
    want = want.astype(np.float64).reshape(want.shape[0], -1)
    largest = float(np.abs(want).max())
    scale = max(1.0, largest)
    diff = float(np.abs(got - want).max())
    ok = diff <= TOLERANCE * scale and got.shape == want.shape
    print(f"  {label}: max abs diff {diff:.2e} (max |logit| {largest:.3g}, limit {TOLERANCE * scale:.2e}) {'ok' if ok else 'FAIL'}")
    return ok


def check_onnx(model_path, inputs_path, logits_path):
    import onnx
    import onnxruntime as ort

    model = onnx.load(model_path)
    onnx.checker.check_model(model)
    inputs = np.load(inputs_path)
    want = np.load(logits_path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    session = ort.InferenceSession(model_path, options, providers=["CPUExecutionProvider"])
    (name,) = [i.name for i in session.get_inputs()]
    (got,) = session.run(None, {name: inputs})
    return compare(f"onnxruntime {ort.__version__}, opset {model.opset_import[0].version}", got, want)


def check_torch(module_path, weights_path, inputs_path, logits_path):
    import importlib.util

    import torch

    spec = importlib.util.spec_from_file_location("exported_model", module_path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    model = module.Model()
    tensors, _ = read_safetensors(weights_path)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in tensors.items()}, strict=True)
    model.eval()
    with torch.no_grad():
        got = model(torch.from_numpy(np.load(inputs_path))).numpy()
    return compare(f"torch {torch.__version__} (strict load)", got, np.load(logits_path))


if __name__ == "__main__":
    mode, arguments = sys.argv[1], sys.argv[2:]
    if mode == "perturb":
        perturb(*arguments)
        ok = True
    elif mode == "onnx":
        ok = check_onnx(*arguments)
    elif mode == "torch":
        ok = check_torch(*arguments)
    else:
        raise SystemExit(f"unknown mode {mode}")
    sys.exit(0 if ok else 1)
