"""Helpers of scripts/check-onnx's deployment check (docs/export.md): a photo folder, and onnxruntime's
predictions from the ONNX file and its metadata alone compared with `cnnspec predict`'s.

    deploy_check.py photos DIR                 a training folder (DIR/train, DIR/test: 3 classes of coloured
                                               shapes) and a photo folder (DIR/photos: mixed sizes, nested, a stray file)
    deploy_check.py compare MODEL.onnx DIR PREDICTIONS.json
                                               preprocess every picture under DIR as the metadata says, run
                                               onnxruntime, compare with cnnspec predict --format json --top-k K

Passes when every file is there, the top class agrees and max |probability difference| <= 1e-4.
Needs numpy, Pillow and onnxruntime.
"""
import json
import os
import sys

import numpy as np
from PIL import Image, ImageDraw

TOLERANCE = 1e-4
CLASSES = ["circle", "square", "triangle"]


def draw(kind, size, rng):
    """An RGB picture of one shape on a random background."""
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    colour = tuple(int(v) for v in rng.integers(0, 256, 3))
    image = Image.new("RGB", (size, size), background)
    pen = ImageDraw.Draw(image)
    a, b = int(rng.integers(0, size // 4)), int(rng.integers(3 * size // 4, size))
    if kind == "circle":
        pen.ellipse([a, a, b, b], fill=colour)
    elif kind == "square":
        pen.rectangle([a, a, b, b], fill=colour)
    else:
        pen.polygon([(a, b), (b, b), ((a + b) // 2, a)], fill=colour)
    return image


def photos(root):
    rng = np.random.default_rng(0)
    for split, count in (("train", 24), ("test", 6)):
        for kind in CLASSES:
            os.makedirs(f"{root}/{split}/{kind}", exist_ok=True)
            for index in range(count):
                draw(kind, 32, rng).save(f"{root}/{split}/{kind}/{index}.png")
    for index in range(12):
        folder = f"{root}/photos/{'nested/' if index % 3 == 0 else ''}"
        os.makedirs(folder, exist_ok=True)
        size = [24, 40, 57, 96][index % 4]  # mixed sizes: the predictor resizes as the metadata says
        draw(CLASSES[index % 3], size, rng).save(f"{folder}photo{index}.png")
    with open(f"{root}/photos/notes.txt", "w") as f:
        f.write("not a picture\n")


def preprocess(path, meta):
    """A picture as the metadata says: channels, PIL bilinear resize, then the eval transforms in order."""
    channels, height, width = json.loads(meta["image_shape"])
    image = Image.open(path).convert("L" if channels == 1 else "RGB").resize((width, height), Image.BILINEAR)
    x = np.asarray(image, dtype=np.float32).reshape(height, width, channels).transpose(2, 0, 1)
    for step in json.loads(meta["eval_transforms"]):
        if step == "scale":
            x = x / np.float32(255)
        elif step.startswith("normalize"):
            mean = np.array(json.loads(meta["mean"]), dtype=np.float32).reshape(-1, 1, 1)
            std = np.array(json.loads(meta["std"]), dtype=np.float32).reshape(-1, 1, 1)
            x = (x - mean) / std
        else:
            raise SystemExit(f"deploy_check: eval transform '{step}' is not implemented here")
    return x


def compare(model_path, root, predictions_path):
    import onnxruntime

    session = onnxruntime.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    meta = session.get_modelmeta().custom_metadata_map
    names = json.loads(meta["class_names"])
    want = {entry["image"]: entry for entry in json.load(open(predictions_path))}
    files = sorted(os.path.join(d, f) for d, _, fs in os.walk(root) for f in fs if f.lower().endswith(".png"))
    ok = len(files) == len(want)
    if not ok:
        print(f"  deploy: {len(files)} pictures but cnnspec predicted {len(want)}")
    batch = np.stack([preprocess(f, meta) for f in files])
    logits = session.run(None, {session.get_inputs()[0].name: batch})[0]
    probabilities = np.exp(logits - logits.max(1, keepdims=True))
    probabilities /= probabilities.sum(1, keepdims=True)
    worst = 0.0
    for path, row in zip(files, probabilities):
        entry = want.get(path)
        if entry is None or "top" not in entry:
            print(f"  deploy: {path}: no cnnspec prediction ({entry})")
            ok = False
            continue
        theirs = np.zeros(len(names))
        for item in entry["top"]:
            theirs[item["index"]] = item["probability"]
        worst = max(worst, float(np.abs(theirs - row).max()))
        if names[int(row.argmax())] != entry["top"][0]["class"]:
            print(f"  deploy: {path}: onnxruntime says {names[int(row.argmax())]}, cnnspec {entry['top'][0]['class']}")
            ok = False
    ok = ok and worst <= TOLERANCE
    print(f"  deploy: {len(files)} photos, onnxruntime {onnxruntime.__version__} from the ONNX metadata alone vs cnnspec predict: "
          f"top class {'equal' if ok else 'DIFFERENT'}, max |probability difference| {worst:.1e} {'ok' if ok else 'FAILED'}")
    return ok


if __name__ == "__main__":
    mode, arguments = sys.argv[1], sys.argv[2:]
    if mode == "photos":
        photos(*arguments)
        sys.exit(0)
    if mode == "compare":
        sys.exit(0 if compare(*arguments) else 1)
    raise SystemExit(f"unknown mode {mode}")
