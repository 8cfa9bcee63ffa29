"""``fastconv demo``: the lecture in one command, on the digits shipped with fastconv.

1. Train the lecture's simple CNN (``models.simple_cnn``: conv-ReLU-pool x2, dense-ReLU, dense)
   on the 8x8 UCI digits, with an 11th class, *background*: digits shifted off-centre by 2 px or
   more, windows between two digits, blank patches. Report the test accuracy.
2. Make it fully convolutional (``models.fully_convolutional``): the dense head becomes a 2x2
   and a 1x1 convolution, so the network classifies every 8x8 window of an image of any size in
   one pass, at stride 4 (its two 2x2 pools).
3. Fine-tune that network for a couple of epochs on 16x16 crops of synthetic scenes, supervising
   the centre window: inside a scene each window's features also see a few pixels of context
   that an isolated 8x8 training image replaces with zero padding.
4. Scan a larger scene of test digits placed at random. Four shifted passes per axis, stitched
   together ("shift-and-stitch", Long et al. 2015), give a score for every window position
   (stride 1); the peaks of the digit probability are the digits found, each labelled by a vote
   of the class probabilities around its peak.
5. Write into the output directory: the scene, a score-map overlay per found digit, all
   detections, the first-layer filters and their responses, a text summary, and the weights.

Everything is seeded: the same seed gives the same pictures for a fixed thread count.
"""
from __future__ import annotations

import os
import sys
import time
from dataclasses import dataclass

import numpy as np

from . import _imaging as im
from . import nn, optim, viz
from ._grad_mode import no_grad
from .data import DataLoader, TensorDataset
from .datasets import digits
from .models import simple_cnn
from .models.fully_convolutional import fully_convolutional
from .train import evaluate, fit

__all__ = ["CLASSES", "BACKGROUND", "Placement", "Detection", "shift_image", "training_set",
           "context_crops", "CentreCell", "make_scene", "dense_scores", "find_digits", "match",
           "evaluate_scenes",
           "train_digit_model", "run"]

CLASSES = tuple(str(d) for d in range(10)) + ("background",)
BACKGROUND = 10
WINDOW = 8          # the digits are 8x8
POSITIVE_SHIFT = 1  # a digit up to 1 px off-centre is still "that digit"...
OFFSET_SHIFT = 2    # ...from 2 px on, the window is background (the scan has a window at 0)
CROP = 16           # context crops: the centre 8x8 window and 4 px around it


@dataclass(frozen=True)
class Placement:
    """A digit of a scene: its class and the top-left corner of its 8x8 box."""
    label: int
    top: int
    left: int

    @property
    def centre(self):
        return self.top + (WINDOW - 1) / 2, self.left + (WINDOW - 1) / 2

    @property
    def box(self):
        return (self.left, self.top, self.left + WINDOW, self.top + WINDOW)


@dataclass(frozen=True)
class Detection:
    """A digit found by the scan: class, probability that the window holds a digit, window."""
    label: int
    score: float
    top: int
    left: int

    @property
    def centre(self):
        return self.top + (WINDOW - 1) / 2, self.left + (WINDOW - 1) / 2

    @property
    def box(self):
        return (self.left, self.top, self.left + WINDOW, self.top + WINDOW)


# ---- data -----------------------------------------------------------------------------------------

def shift_image(img, dy, dx):
    """``img`` (..., H, W) moved down by dy and right by dx pixels, zeros coming in."""
    out = np.zeros_like(img)
    H, W = img.shape[-2:]
    if abs(dy) >= H or abs(dx) >= W:
        return out
    src_y, dst_y = (slice(0, H - dy), slice(dy, H)) if dy >= 0 else (slice(-dy, H), slice(0, H + dy))
    src_x, dst_x = (slice(0, W - dx), slice(dx, W)) if dx >= 0 else (slice(-dx, W), slice(0, W + dx))
    out[..., dst_y, dst_x] = img[..., src_y, src_x]
    return out


def _off_centre_shift(rng, low, high):
    while True:
        dy, dx = rng.integers(-high, high + 1, size=2)
        if max(abs(dy), abs(dx)) >= low:
            return int(dy), int(dx)


def training_set(x, y, rng, copies=2):
    """The digits (and ``copies - 1`` copies shifted by up to 1 px) plus as many background
    windows: digits shifted by 2..7 px, windows straddling two digits, blank windows."""
    n = len(x)
    xs, ys = [x], [y]
    for _ in range(copies - 1):
        d = rng.integers(-POSITIVE_SHIFT, POSITIVE_SHIFT + 1, size=(n, 2))
        xs.append(np.stack([shift_image(x[i], *d[i]) for i in range(n)]))
        ys.append(y)
    background = [shift_image(x[i], *_off_centre_shift(rng, OFFSET_SHIFT, WINDOW - 1))
                  for i in rng.integers(0, n, size=n)]
    for _ in range(n // 2):  # the window between two neighbouring digits
        a, b = rng.integers(0, n, size=2)
        gap = int(rng.integers(2, 6))
        strip = np.zeros((1, WINDOW, 2 * WINDOW + gap), x.dtype)
        strip[..., :WINDOW], strip[..., WINDOW + gap:] = x[a], x[b]
        start = int(rng.integers(OFFSET_SHIFT + 1, WINDOW - OFFSET_SHIFT + gap))
        win = strip[..., start:start + WINDOW]
        background.append(np.ascontiguousarray(win if rng.random() < 0.5 else win.transpose(0, 2, 1)))
    background += [np.zeros_like(x[0])] * max(1, n // 30)
    xs.append(np.stack(background))
    ys.append(np.full(len(background), BACKGROUND, dtype=y.dtype))
    return np.concatenate(xs), np.concatenate(ys)


def context_crops(x, y, rng, n):
    """``n`` CROPxCROP pieces of scenes with the label of their centre 8x8 window: half hold a
    digit within 1 px of the centre, half a digit 2..8 px off (background); up to two
    neighbouring digits, 3 px apart or more, fill the context."""
    X = np.zeros((n, 1, CROP, CROP), x.dtype)
    Y = np.empty(n, np.int64)
    c = (CROP - WINDOW) // 2
    for k in range(n):
        i = int(rng.integers(len(x)))
        if rng.random() < 0.5:
            dy, dx = (int(v) for v in rng.integers(-POSITIVE_SHIFT, POSITIVE_SHIFT + 1, size=2))
            Y[k] = y[i]
        else:
            dy, dx = _off_centre_shift(rng, OFFSET_SHIFT, WINDOW)
            Y[k] = BACKGROUND
        boxes = [(c + dy, c + dx, i)]
        for _ in range(int(rng.integers(0, 3))):
            for _attempt in range(20):
                by, bx = (int(v) for v in rng.integers(-WINDOW + 2, CROP - 1, size=2))
                if all(abs(by - oy) >= WINDOW + 3 or abs(bx - ox) >= WINDOW + 3 for oy, ox, _ in boxes):
                    boxes.append((by, bx, int(rng.integers(len(x)))))
                    break
        for by, bx, j in boxes:
            y0, x0, y1, x1 = max(by, 0), max(bx, 0), min(by + WINDOW, CROP), min(bx + WINDOW, CROP)
            if y1 > y0 and x1 > x0:
                X[k, 0, y0:y1, x0:x1] = x[j, 0, y0 - by:y1 - by, x0 - bx:x1 - bx]
    return X, Y


def make_scene(x, y, rng, n_digits=6, size=(64, 96), gap=3):
    """A blank canvas with ``n_digits`` digits of ``x`` placed at random, at least ``gap``
    pixels apart. Returns (canvas (H, W), [Placement])."""
    H, W = size
    if H < WINDOW or W < WINDOW:
        raise ValueError(f"size: the scene must be at least {WINDOW}x{WINDOW}, got {H}x{W}")
    canvas = np.zeros((H, W), x.dtype)
    placed = []
    for i in rng.choice(len(x), size=n_digits, replace=False):
        for _attempt in range(2000):
            top, left = int(rng.integers(0, H - WINDOW + 1)), int(rng.integers(0, W - WINDOW + 1))
            if all(abs(top - p.top) >= WINDOW + gap or abs(left - p.left) >= WINDOW + gap for p in placed):
                break
        else:
            raise ValueError(f"n_digits: cannot place {n_digits} digits {gap} px apart in {H}x{W}")
        canvas[top:top + WINDOW, left:left + WINDOW] = x[i, 0]
        placed.append(Placement(int(y[i]), top, left))
    return canvas, placed


# ---- training -------------------------------------------------------------------------------------

class CentreCell(nn.Module):
    """Trains a fully convolutional network on CROPxCROP crops through the score of the centre
    window only: ``forward`` returns the centre of the score map, ``backward`` puts the gradient
    back there (zeros elsewhere)."""

    def __init__(self, fcn):
        super().__init__()
        self.fcn = fcn

    def forward(self, x):
        scores = self.fcn(x)
        self._save_for_backward(scores.shape)
        i, j = scores.shape[2] // 2, scores.shape[3] // 2
        return np.ascontiguousarray(scores[:, :, i, j])

    def backward(self, grad_out, need_input_grad=False):
        (shape,) = self._saved()
        g = np.zeros(shape, grad_out.dtype)
        g[:, :, shape[2] // 2, shape[3] // 2] = grad_out
        return self.fcn.backward(g, need_input_grad=need_input_grad)


def _epoch_bar(total, desc, enabled, file):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="epoch", leave=False, file=file,
                disable=not enabled, bar_format="{desc}: {n_fmt}/{total_fmt} {bar} {postfix}")


def _fit_with_bar(model, loader, opt, epochs, desc, show_bar, file, scheduler=None):
    bar = _epoch_bar(epochs, desc, show_bar, file)

    def tick(rec):
        bar.set_postfix_str(f"loss {rec['loss']:.3f}  acc {100 * rec['accuracy']:.1f}%  "
                            f"{rec['images_per_s']:.0f} img/s")
        bar.update(1)
    try:
        return fit(model, loader, nn.CrossEntropyLoss(), opt, epochs, scheduler=scheduler,
                   progress=False, callback=tick)
    finally:
        bar.close()


def _accuracy_in_context(fcn, x, y):
    """Accuracy on digits centred in a blank CROPxCROP canvas, read from the centre window."""
    c = (CROP - WINDOW) // 2
    canvas = np.zeros((len(x), 1, CROP, CROP), x.dtype)
    canvas[:, :, c:c + WINDOW, c:c + WINDOW] = x
    was = fcn.training
    fcn.eval()
    try:
        with no_grad():
            s = fcn(canvas)
    finally:
        fcn.train(was)
    return float(np.mean(s[:, :, s.shape[2] // 2, s.shape[3] // 2].argmax(axis=1) == y))


def train_digit_model(epochs=20, scene_epochs=2, seed=0, *, crops=4000, batch_size=64, lr=3e-3,
                      show_bar=False, file=None):
    """Steps 1-3 of the demo. Returns (model, fully convolutional model, report dict)."""
    import fastconv
    fastconv.manual_seed(seed)
    rng = np.random.default_rng(seed)
    xtr, ytr = digits("train")
    xte, yte = digits("test")
    report = {"train_images": len(xtr), "test_images": len(xte)}

    t0 = time.perf_counter()
    x, y = training_set(xtr, ytr, rng)
    model = simple_cnn(num_classes=len(CLASSES))
    opt = optim.Adam(model.parameters(), lr=lr)
    loader = DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=True, seed=seed)
    sched = optim.lr_scheduler.CosineAnnealingLR(opt, max(epochs, 1))
    history = _fit_with_bar(model, loader, opt, epochs, "training simple_cnn", show_bar, file, sched)
    test = evaluate(model, DataLoader(TensorDataset(xte, yte), batch_size=512))
    report.update(training_samples=len(x), epochs=epochs, history=history,
                  test_accuracy=test["accuracy"], train_time=time.perf_counter() - t0)

    t0 = time.perf_counter()
    fcn = fully_convolutional(model)
    report["convert_time"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    if scene_epochs > 0 and crops > 0:
        cx, cy = context_crops(xtr, ytr, rng, crops)
        opt = optim.Adam(model.parameters(), lr=lr / 3)
        loader = DataLoader(TensorDataset(cx, cy), batch_size=batch_size, shuffle=True, seed=seed + 1)
        _fit_with_bar(CentreCell(fcn), loader, opt, scene_epochs, "fine-tuning on scene crops",
                      show_bar, file)
    report.update(scene_epochs=scene_epochs, crops=crops if scene_epochs > 0 else 0,
                  finetune_time=time.perf_counter() - t0,
                  final_test_accuracy=evaluate(model, DataLoader(TensorDataset(xte, yte), batch_size=512))["accuracy"],
                  context_test_accuracy=_accuracy_in_context(fcn, xte, yte))
    model.eval()
    fcn.eval()
    return model, fcn, report


# ---- scanning -------------------------------------------------------------------------------------

def dense_scores(fcn, scene):
    """Class probabilities of the 8x8 windows of ``scene`` (H, W): (classes, h, w), entry
    [:, i, j] for the window whose top-left pixel is (i, j). The network's map has stride 4;
    running it on the scene shifted by 0..3 pixels in each direction fills in the positions in
    between (shift-and-stitch, ``viz.score_map(..., shift_and_stitch=True)``)."""
    scores = viz.score_map(fcn, scene[None, None], shift_and_stitch=True).scores[0]
    e = np.exp(scores - scores.max(axis=0, keepdims=True))
    return e / e.sum(axis=0, keepdims=True)


def find_digits(probs, threshold=0.5, min_distance=6, vote=2):
    """Digits in a map of window probabilities (from :func:`dense_scores`).

    A digit is a window whose probability of not being background exceeds ``threshold`` and is
    the highest within ``min_distance`` pixels (greedy non-maximum suppression); its class is
    the one with the largest summed probability over the windows within ``vote`` pixels.
    """
    digit = 1.0 - probs[BACKGROUND]
    order = np.argsort(-digit, axis=None, kind="stable")
    found = []
    for flat in order:
        i, j = divmod(int(flat), digit.shape[1])
        if digit[i, j] <= threshold:
            break
        if any(max(abs(i - d.top), abs(j - d.left)) < min_distance for d in found):
            continue
        votes = probs[:BACKGROUND, max(i - vote, 0):i + vote + 1, max(j - vote, 0):j + vote + 1]
        found.append(Detection(int(votes.sum(axis=(1, 2)).argmax()), float(digit[i, j]), i, j))
    return found


def match(detections, placements, tolerance=3):
    """Pair detections with placed digits of the same class whose box is within ``tolerance``
    pixels. Returns (pairs [(Placement, Detection)], missed placements, false detections)."""
    pairs, free = [], list(placements)
    false = []
    for d in detections:
        hit = next((p for p in free if p.label == d.label and abs(p.top - d.top) <= tolerance
                    and abs(p.left - d.left) <= tolerance), None)
        if hit is None:
            false.append(d)
        else:
            free.remove(hit)
            pairs.append((hit, d))
    return pairs, free, false


# ---- pictures and summary -------------------------------------------------------------------------

SCALE = 4  # the pictures enlarge the 64x96 scene 4 times


def _draw_detections(scene, pairs, missed, false, path):
    from PIL import ImageDraw
    img = im.save_png(im.upscale_nearest(im.to_rgb_uint8(scene), SCALE), None)
    draw = ImageDraw.Draw(img)
    font = viz._font(13)
    marks = ([(d.box, f"{d.label}", (60, 220, 60)) for _, d in pairs]
             + [(d.box, f"{d.label}?", (240, 60, 60)) for d in false]
             + [(p.box, f"({p.label})", (240, 200, 40)) for p in missed])
    for (x0, y0, x1, y1), text, colour in marks:
        draw.rectangle([x0 * SCALE, y0 * SCALE, x1 * SCALE - 1, y1 * SCALE - 1], outline=colour, width=2)
        _, _, tw, th = draw.textbbox((0, 0), text, font=font)
        ty = y0 * SCALE - th - 3 if y0 * SCALE - th - 3 >= 0 else y1 * SCALE + 2
        tx = max(0, min(x0 * SCALE + 2, img.width - tw - 2))
        draw.text((tx, ty), text, fill=colour, font=font)
    return im.save_png(img, path)


def evaluate_scenes(fcn, x, y, rng, n_scenes, n_digits=6, size=(64, 96)):
    """Scan ``n_scenes`` random scenes; returns (digits placed, found, false detections)."""
    placed = found = false = 0
    for _ in range(n_scenes):
        scene, placements = make_scene(x, y, rng, n_digits, size)
        pairs, _, wrong = match(find_digits(dense_scores(fcn, scene)), placements)
        placed, found, false = placed + len(placements), found + len(pairs), false + len(wrong)
    return placed, found, false


def _summary(report, placements, pairs, missed, false, timings, files, seed, scene_size, more):
    pct = lambda v: f"{100 * v:.1f}%"  # noqa: E731
    lines = [
        f"fastconv demo (seed {seed})",
        "",
        f"simple_cnn trained on the UCI handwritten digits: {report['train_images']:,} training "
        f"images, {report['training_samples']:,} samples with shifted copies and background "
        f"windows, {report['epochs']} epochs",
        f"test accuracy ({report['test_images']} test digits): {pct(report['test_accuracy'])}",
        f"made fully convolutional, fine-tuned {report['scene_epochs']} epoch(s) on "
        f"{report['crops']:,} scene crops: test accuracy {pct(report['final_test_accuracy'])} "
        f"alone, {pct(report['context_test_accuracy'])} inside a blank scene",
        "",
        f"scene {scene_size[0]}x{scene_size[1]} with {len(placements)} test digits: found "
        f"{len(pairs)} of {len(placements)}, {len(false)} false detection(s)",
    ]
    for p, d in sorted(pairs, key=lambda pd: (pd[0].top, pd[0].left)):
        lines.append(f"  digit {p.label} at x={p.left:2d} y={p.top:2d}: found "
                     f"(window at x={d.left}, y={d.top}, p(digit) {d.score:.2f})")
    for p in missed:
        lines.append(f"  digit {p.label} at x={p.left:2d} y={p.top:2d}: missed")
    for d in false:
        lines.append(f"  false detection: {d.label} at x={d.left}, y={d.top} (p(digit) {d.score:.2f})")
    if more[0]:
        lines.append(f"{more[0] // len(placements)} more random scenes: found {more[1]} of {more[0]} "
                     f"digits ({pct(more[1] / more[0])}), {more[2]} false detection(s)")
    lines += ["", "timings: " + ", ".join(f"{k} {v:.2f} s" for k, v in timings.items()),
              "files: " + ", ".join(files), ""]
    return "\n".join(lines)


def run(out_dir, *, epochs=20, scene_epochs=2, seed=0, n_digits=6, scene_size=(64, 96),
        crops=4000, eval_scenes=50, threads=1, progress=None, file=None):
    """The whole demo; writes its pictures and ``summary.txt`` into ``out_dir`` and returns a
    dict with the figures (accuracies, digits found, timings, files)."""
    import fastconv
    from . import io
    file = sys.stdout if file is None else file
    if progress is None:
        progress = True
    show_bar = progress and getattr(sys.stderr, "isatty", lambda: False)()
    say = (lambda msg: print(msg, file=file, flush=True)) if progress else (lambda msg: None)
    if epochs < 0 or scene_epochs < 0:
        raise ValueError("epochs and scene_epochs must be non-negative")
    os.makedirs(out_dir, exist_ok=True)
    previous_threads = fastconv.get_num_threads()
    if threads:
        # the demo's arrays are tiny (8x8 digits): a second thread only adds synchronisation
        fastconv.set_num_threads(threads)
    start = time.perf_counter()
    try:
        say(f"training simple_cnn on the bundled digits ({epochs} epochs)...")
        model, fcn, report = train_digit_model(epochs, scene_epochs, seed, crops=crops,
                                               show_bar=show_bar, file=sys.stderr)
        say(f"  test accuracy {100 * report['test_accuracy']:.1f}% "
            f"({report['train_time']:.1f} s); fully convolutional, fine-tuned on scene crops "
            f"({report['finetune_time']:.1f} s)")

        rng = np.random.default_rng([seed, 1])
        xte, yte = digits("test")
        scene, placements = make_scene(xte, yte, rng, n_digits, scene_size)
        t0 = time.perf_counter()
        probs = dense_scores(fcn, scene)
        detections = find_digits(probs)
        scan_time = time.perf_counter() - t0
        pairs, missed, false = match(detections, placements)
        t0 = time.perf_counter()
        more = evaluate_scenes(fcn, xte, yte, rng, eval_scenes, n_digits, scene_size)
        eval_time = time.perf_counter() - t0
        say(f"scanned a {scene_size[0]}x{scene_size[1]} scene in {1000 * scan_time:.0f} ms: "
            f"found {len(pairs)} of {len(placements)} digits, {len(false)} false detection(s)")

        t0 = time.perf_counter()
        files = []

        def out(name):
            files.append(name)
            return os.path.join(out_dir, name)
        viz.save_image(scene, out("scene.png"))
        _draw_detections(scene, pairs, missed, false, out("detections.png"))
        H, W = scene.shape
        for k, d in enumerate(detections, 1):
            # the class's window probabilities, placed at the windows' centres
            heat = im.resample_bilinear(probs[d.label], (H, W), stride=(1, 1),
                                        offset=((WINDOW - 1) / 2, (WINDOW - 1) / 2))
            viz.overlay(scene, heat, out(f"digit_{k}_{d.label}.png"), scale=SCALE, box=d.box,
                        label=f"{d.label}: {d.score:.2f}")
        viz.filter_grid(model.features[0].weight, out("filters.png"), scale=16, pad=3, ncols=8)
        viz.activation_grid(model, scene[None, None], "features.1", out("activations.png"),
                            scale=2, ncols=4)
        io.save(model.state_dict(), out("model.safetensors"))
        with open(out("classes.txt"), "w", encoding="utf-8") as f:
            f.write("\n".join(CLASSES) + "\n")
        picture_time = time.perf_counter() - t0

        timings = {"training": report["train_time"], "fine-tuning": report["finetune_time"],
                   "scan": scan_time, f"{eval_scenes} more scans": eval_time, "pictures": picture_time,
                   "total": time.perf_counter() - start}
        if not eval_scenes:
            del timings["0 more scans"]
        files.append("summary.txt")
        text = _summary(report, placements, pairs, missed, false, timings, files, seed, scene_size, more)
        from ._atomic import atomic_write_bytes
        atomic_write_bytes(os.path.join(out_dir, "summary.txt"), text.encode("utf-8"))
    finally:
        fastconv.set_num_threads(previous_threads)
    print(text, file=file, end="")
    return {"test_accuracy": report["test_accuracy"],
            "final_test_accuracy": report["final_test_accuracy"],
            "context_test_accuracy": report["context_test_accuracy"],
            "placed": len(placements), "found": len(pairs), "missed": len(missed),
            "false_detections": len(false), "placements": placements, "detections": detections,
            "more_scenes": {"placed": more[0], "found": more[1], "false_detections": more[2]},
            "timings": timings, "files": files, "summary": text}
