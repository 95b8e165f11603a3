"""Keras case generators: each fault kind writes a correct base script and the same script with
one planted fault, for several architectures and seeded parameter draws.

The label (cause) is fixed per fault kind: it names the author's mistake, not the message. The
same message can therefore come from different causes, which is deliberate (e.g. "expected
min_ndim=4, found ndim=3" from data without a channel axis, from Input(shape=(28, 28)), and from a
Conv2D placed after an LSTM).

Every generator has the signature gen(p, fault) -> (script, fix, notes); it must draw all of its
parameters before branching on `fault` so that fault and control share them.
"""
from __future__ import annotations

import math
import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from kbuild import P, add_kw, build, fit_line, header, nm, shape
from labels import Case

Gen = Callable[[P, bool], tuple[str, str, str]]


@dataclass
class Kind:
    fault_id: str
    cause: str
    archs: list[str]
    phase: str
    gen: Gen
    n: int = 2
    tf: bool = False              # needs tensorflow itself (tf.data, tf.image): TF backend only
    expect: tuple[str, ...] = ()
    valid_if_silent: str = ""


KINDS: list[Kind] = []


def kind(fault_id: str, cause: str, archs: list[str], phase: str, n: int = 2, tf: bool = False,
         expect: tuple[str, ...] = (), valid_if_silent: str = "") -> Callable[[Gen], Gen]:
    def deco(fn: Gen) -> Gen:
        KINDS.append(Kind(fault_id, cause, archs, phase, fn, n, tf, expect, valid_if_silent))
        return fn
    return deco


# ---------------------------------------------------------------------------------------------
# Standard tasks: data + a correct model for each architecture
# ---------------------------------------------------------------------------------------------
IMG_SIZES = [(24, 40), (28, 28), (32, 32), (20, 36), (16, 24), (40, 24), (30, 30)]


class Task:
    """A correct small classification task for one architecture."""

    def __init__(self, p: P, arch: str) -> None:
        self.p = p
        self.arch = arch
        self.N = p.choice("n_samples", [24, 32, 40, 48])
        self.bs = p.choice("batch_size", [8, 16])
        p.choice("verbose", [0, 0, 2])
        self.C = p.randint("classes", 3, 17)
        r = p.rng
        if arch == "mlp":
            self.F = p.choice("features", [5, 7, 9, 11, 13, 17, 19, 23, 31, 37])
            self.h = p.choice("hidden", [16, 24, 32])
            self.xshape = (self.F,)
            self.layers = [f'keras.layers.Dense({self.h}, activation="relu"{nm(p.choice("hidden_name", [None, None, "hidden"]))})',
                           f'keras.layers.Dense({self.C}, activation="softmax")']
        elif arch == "cnn2d":
            self.H, self.W = p.choice("hw", IMG_SIZES)
            self.Ch = p.choice("channels", [1, 3, 5, 7])
            self.f = p.choice("filters", [4, 8])
            self.xshape = (self.H, self.W, self.Ch)
            conv_name = p.choice("conv_name", [None, None, "enc_conv"])
            head = p.choice("head", ["flatten", "flatten", "gap"])
            self.layers = [f'keras.layers.Conv2D({self.f}, 3, activation="relu"{nm(conv_name)})',
                           "keras.layers.MaxPooling2D(2)",
                           "keras.layers.Flatten()" if head == "flatten" else "keras.layers.GlobalAveragePooling2D()",
                           f'keras.layers.Dense({self.C}, activation="softmax")']
        elif arch == "cnn1d":
            self.T = p.choice("steps", [30, 48, 50, 64])
            self.F = p.choice("features", [1, 3, 5, 7])
            self.k = p.choice("kernel", [3, 5])
            self.xshape = (self.T, self.F)
            self.layers = [f'keras.layers.Conv1D(8, {self.k}, activation="relu"{nm(p.choice("conv_name", [None, None, "wave_conv"]))})',
                           "keras.layers.GlobalMaxPooling1D()",
                           f'keras.layers.Dense({self.C}, activation="softmax")']
        elif arch == "rnn":
            self.T = p.randint("steps", 8, 30)
            self.F = p.randint("features", 2, 9)
            self.cell = p.choice("cell", ["LSTM", "GRU", "SimpleRNN"])
            self.u = p.choice("units", [8, 16])
            self.xshape = (self.T, self.F)
            self.layers = [f'keras.layers.{self.cell}({self.u}{nm(p.choice("rnn_name", [None, None, "encoder"]))})',
                           f'keras.layers.Dense({self.C}, activation="softmax")']
        elif arch == "text":
            self.L = p.randint("seq_len", 10, 40)
            self.V = p.choice("vocab", [50, 120, 300, 500])
            self.d = p.choice("embed_dim", [8, 16])
            self.xshape = (self.L,)
            pool = p.choice("text_body", ["GRU", "LSTM", "GlobalAveragePooling1D"])
            body = f"keras.layers.{pool}(16)" if pool != "GlobalAveragePooling1D" else "keras.layers.GlobalAveragePooling1D()"
            self.layers = [f"keras.layers.Embedding({self.V}, {self.d})", body,
                           f'keras.layers.Dense({self.C}, activation="softmax")']
        else:
            raise ValueError(arch)
        del r

    def x_line(self, var: str = "x", n: int | None = None, xshape: tuple[int, ...] | None = None) -> str:
        n = self.N if n is None else n
        xs = self.xshape if xshape is None else xshape
        if self.arch == "text":
            return f"{var} = np.random.randint(0, {self.V}, size={shape((n,) + tuple(xs))})"
        return f'{var} = np.random.rand({", ".join(str(d) for d in (n,) + tuple(xs))}).astype("float32")'

    def y_line(self, var: str = "y", n: int | None = None) -> str:
        n = self.N if n is None else n
        return f"{var} = np.random.randint(0, {self.C}, size=({n},))"

    def data(self) -> list[str]:
        return [self.x_line(), self.y_line()]

    def compile_line(self, loss: str = "sparse_categorical_crossentropy", metrics: bool = True) -> str:
        m = ', metrics=["accuracy"]' if metrics else ""
        return f'model.compile(optimizer="adam", loss="{loss}"{m})'


def summary_lines(p: P, style: str, prob: float = 0.6) -> list[str]:
    if style in ("subclassed", "noinput"):
        p.set("summary", False)
        return []
    return ["model.summary()"] if p.flag("summary", prob) else []


def assemble(*blocks: list[str]) -> str:
    out: list[str] = []
    for b in blocks:
        if b:
            out += b
            out.append("")
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def std(p: P, t: Task, *, data: list[str] | None = None, layers: list[str] | None = None,
        in_shape: tuple[int, ...] | None = None, style: str | None = None,
        compile_: str | None = None, calls: list[str] | None = None, tf: bool = False,
        styles: tuple[str, ...] = ("input", "input", "kwarg", "functional", "subclassed"),
        twice: bool | None = None, pre: list[str] | None = None) -> str:
    """The canonical script: imports, data, model, summary, compile, fit (+ extra calls)."""
    style = style or p.choice("model_style", list(styles))
    if twice is None:
        twice = p.flag("built_twice", 0.15)
    model = build(p, layers if layers is not None else t.layers,
                  in_shape if in_shape is not None else t.xshape, style, twice=twice)
    return assemble(header(p, tf=tf), pre or [], data if data is not None else t.data(), model,
                    summary_lines(p, style), [compile_ or t.compile_line()],
                    calls if calls is not None else [fit_line(p, bs=t.bs)])


ALL = ["mlp", "cnn2d", "cnn1d", "rnn", "text"]
SEQ = ["cnn1d", "rnn"]

# =============================================================================================
# data_preprocessing
# =============================================================================================


@kind("dp_missing_channel_undeclared", "data_preprocessing", ["cnn2d"], "fit", n=4)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    p.set("channels", 1)
    t.Ch, t.xshape = 1, (t.H, t.W, 1)
    t.layers[0] = t.layers[0].replace("Conv2D(", "Conv2D(")
    style = p.choice("model_style", ["noinput", "subclassed"])
    xl = f'x = np.random.rand({t.N}, {t.H}, {t.W}).astype("float32")   # grayscale, loaded as (N, H, W)'
    data = [xl, ("x = x[..., np.newaxis]" if not fault else "# x = x[..., np.newaxis]  (channel axis never added)"), t.y_line()]
    s = std(p, t, data=data, style=style)
    return s, (f"add the channel axis: x = x[..., np.newaxis] so x is ({t.N}, {t.H}, {t.W}, 1)"), \
        "grayscale images without channel axis into a Conv2D model that declares no input shape"


@kind("dp_missing_channel_declared", "data_preprocessing", ["cnn2d"], "fit", n=2,
      valid_if_silent="Keras adds the missing trailing size-1 axis itself because the model declares it")
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    t.Ch, t.xshape = 1, (t.H, t.W, 1)
    p.set("channels", 1)
    xl = t.x_line(xshape=(t.H, t.W) if fault else (t.H, t.W, 1))
    s = std(p, t, data=[xl, t.y_line()], styles=("input", "functional"))
    return s, f"add the channel axis: x = x[..., np.newaxis] so x is ({t.N}, {t.H}, {t.W}, 1)", \
        "grayscale images without channel axis; the model declares Input(shape=(H, W, 1))"


@kind("dp_gray_into_rgb_declared", "data_preprocessing", ["cnn2d"], "fit", n=8)
def _(p: P, fault: bool):
    # tf.keras 2's functional input check squeezes nothing and zips the declared shape with the data's, so a
    # (N, H, W) batch passes a model declared (H, W, 3) and fails at the first convolution; Keras 3 checks it
    # at the model's input
    t = Task(p, "cnn2d")
    ch = p.choice("declared_channels", [3, 4])
    t.Ch, t.xshape = ch, (t.H, t.W, ch)
    p.set("channels", ch)
    if fault:
        xl = f'x = np.random.rand({t.N}, {t.H}, {t.W}).astype("float32")   # grayscale images, (N, H, W)'
    else:
        xl = t.x_line(xshape=(t.H, t.W, ch))
    s = std(p, t, data=[xl, t.y_line()], styles=("input", "functional"))
    return s, (f"give the images {ch} channels: x = np.repeat(x[..., np.newaxis], {ch}, axis=-1) so x is "
               f"({t.N}, {t.H}, {t.W}, {ch})"), \
        f"grayscale images without a channel axis into a model that declares Input(shape=(H, W, {ch}))"


@kind("dp_gray_declared_as_loaded", "data_preprocessing", ["cnn2d"], "build", n=6)
def _(p: P, fault: bool):
    # the MNIST pattern: grayscale images loaded as (N, H, W) and the model's input declared to match them, so the
    # first Conv2D fails as the model is built (min_ndim=4, found ndim=3, (None, H, W)), the same message as a
    # declaration that forgot the channel of data that has one (il_missing_channel); here the data is the fault
    t = Task(p, "cnn2d")
    p.set("channels", 1)
    t.Ch, t.xshape = 1, (t.H, t.W, 1)
    xl = f'x = np.random.rand({t.N}, {t.H}, {t.W}).astype("float32")   # grayscale, loaded as (N, H, W)'
    data = [xl, "# x = x[..., np.newaxis]  (channel axis never added)" if fault else "x = x[..., np.newaxis]",
            t.y_line()]
    s = std(p, t, data=data, in_shape=(t.H, t.W) if fault else t.xshape, styles=("input", "kwarg", "functional"))
    return s, (f"add the channel axis to the images, x = x[..., np.newaxis] so x is ({t.N}, {t.H}, {t.W}, 1), and "
               f"declare it: input_shape=({t.H}, {t.W}, 1)"), \
        "grayscale images without a channel axis, and the model's input declared as the images were loaded"


@kind("dp_rgb_rows_reshaped_as_gray", "data_preprocessing", ["cnn2d"], "data", n=3)
def _(p: P, fault: bool):
    # images stored as flat rows (a CSV, a .npy of pixels) and reshaped for the Conv2D: NumPy's reshape keeps the
    # element count, so colour rows reshaped as one channel fail before any model exists
    t = Task(p, "cnn2d")
    t.Ch, t.xshape = 3, (t.H, t.W, 3)
    p.set("channels", 3)
    rows = f'rows = np.random.rand({t.N}, {t.H * t.W * 3}).astype("float32")   # {t.H}x{t.W} RGB images, one per row'
    reshape = f"x = rows.reshape({t.N}, {t.H}, {t.W}, {1 if fault else 3})"
    s = std(p, t, data=[rows, reshape, t.y_line()])
    return s, f"reshape the rows with their 3 channels: x = rows.reshape(-1, {t.H}, {t.W}, 3)", \
        "RGB pixel rows reshaped as if the images had one channel"


@kind("dp_rows_reshaped_wrong_hw", "data_preprocessing", ["cnn2d", "rnn", "cnn1d"], "data", n=3)
def _(p: P, fault: bool):
    if p.arch != "cnn2d":  # sensor windows stored flat, reshaped to the wrong (steps, features)
        t = Task(p, p.arch)
        T2, F2 = p.choice("assumed_tf", [(t.T + d, t.F) for d in (1, 2, 3)] + [(t.T, t.F + 1)])
        rows = f'rows = np.random.rand({t.N}, {t.T * t.F}).astype("float32")   # {t.T} steps x {t.F} features, flattened'
        reshape = f"x = rows.reshape(-1, {T2 if fault else t.T}, {F2 if fault else t.F})"
        s = std(p, t, data=[rows, reshape, t.y_line()])
        return s, f"reshape to the real window: x = rows.reshape(-1, {t.T}, {t.F}) (each row holds {t.T * t.F} values)", \
            f"{t.T}x{t.F} windows reshaped as {T2}x{F2}"
    t = Task(p, "cnn2d")
    p.set("channels", 1)
    t.Ch, t.xshape = 1, (t.H, t.W, 1)
    H2, W2 = p.choice("assumed_hw", [(h, w) for h, w in IMG_SIZES if h * w != t.H * t.W])
    rows = f'rows = np.random.rand({t.N}, {t.H * t.W}).astype("float32")   # {t.H}x{t.W} grayscale images, flattened'
    reshape = f"x = rows.reshape(-1, {H2 if fault else t.H}, {W2 if fault else t.W}, 1)"
    s = std(p, t, data=[rows, reshape, t.y_line()])
    return s, f"reshape to the images' real size: x = rows.reshape(-1, {t.H}, {t.W}, 1) (the rows hold {t.H * t.W} pixels)", \
        f"{t.H}x{t.W} pixel rows reshaped as {H2}x{W2} images"


@kind("ip_generator_fixed_batch_reshape", "input_pipeline", ["cnn2d", "mlp"], "fit", n=3)
def _(p: P, fault: bool):
    # a generator that reshapes every batch to a hard-coded batch size meets the last, smaller batch
    t = Task(p, p.arch)
    N = t.bs * 2 + t.bs // 2
    t.N = N
    size = ", ".join(str(d) for d in t.xshape)
    rows = f'rows = np.random.rand({N}, {math.prod(t.xshape)}).astype("float32")   # samples stored flat'
    first = "-1" if not fault else str(t.bs)
    gen = ["def batches():", "    while True:", f"        for i in range(0, {N}, {t.bs}):",
           f"            yield rows[i:i + {t.bs}].reshape({first}, {size}), y[i:i + {t.bs}]"]
    style = p.choice("model_style", ["input", "functional"])
    model = build(p, t.layers, t.xshape, style)
    s = assemble(header(p), [rows, t.y_line()], gen, model, summary_lines(p, style), [t.compile_line()],
                 ["model.fit(batches(), steps_per_epoch=3, epochs=1, verbose=0)"])
    return s, f"reshape each batch with -1 for its size: rows[i:i + {t.bs}].reshape(-1, {size}) (the last batch holds {N % t.bs})", \
        f"a generator reshapes every batch to {t.bs} samples; the last one has {N % t.bs}"


@kind("dp_image_not_resized", "data_preprocessing", ["cnn2d"], "fit", n=4)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    H2, W2 = p.choice("raw_hw", [(h, w) for h, w in IMG_SIZES if (h, w) != (t.H, t.W)])
    xl = t.x_line(xshape=(H2, W2, t.Ch) if fault else t.xshape)
    s = std(p, t, data=[xl + ("   # raw images, never resized" if fault else ""), t.y_line()])
    return s, f"resize the images to the model's {t.H}x{t.W} input (tf.image.resize(x, ({t.H}, {t.W}))) instead of feeding {H2}x{W2}", \
        f"images of {H2}x{W2} into a model declared for {t.H}x{t.W}"


@kind("dp_image_not_flattened", "data_preprocessing", ["mlp"], "fit", n=4)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    H, W = p.choice("hw", IMG_SIZES)
    t.F = H * W
    t.xshape = (t.F,)
    data = [f'images = np.random.rand({t.N}, {H}, {W}).astype("float32")',
            ("x = images" if fault else f"x = images.reshape({t.N}, -1)"), t.y_line()]
    s = std(p, t, data=data)
    return s, f"flatten the images for the Dense model: x = images.reshape(len(images), -1) -> ({t.N}, {t.F})", \
        f"{H}x{W} images fed unflattened to an MLP declared with {t.F} inputs"


@kind("dp_channels_first_data", "data_preprocessing", ["cnn2d"], "fit", n=4)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    if t.Ch == 1:
        t.Ch = p.set("channels", 3)
        t.xshape = (t.H, t.W, 3)
    data = [f'x = np.random.rand({t.N}, {t.Ch}, {t.H}, {t.W}).astype("float32")   # stored channels-first',
            ("" if fault else "x = np.transpose(x, (0, 2, 3, 1))"), t.y_line()]
    s = std(p, t, data=[d for d in data if d])
    return s, f"move channels last: x = np.transpose(x, (0, 2, 3, 1)) so x has shape ({t.N}, {t.H}, {t.W}, {t.Ch})", \
        "channels-first image array fed to a channels-last Conv2D model"


@kind("dp_extra_axis_stack", "data_preprocessing", ["cnn2d", "cnn1d", "mlp"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    how = p.choice("how", ["stack_batched", "expand_twice"])
    xs = ", ".join(str(d) for d in t.xshape)
    if how == "stack_batched":
        data = [f'samples = [np.random.rand(1, {xs}).astype("float32") for _ in range({t.N})]   # each sample kept its batch axis',
                ("x = np.stack(samples)" if fault else "x = np.concatenate(samples)"), t.y_line()]
        fix = f"concatenate instead of stacking: x = np.concatenate(samples) so x is ({t.N}, {xs})"
    else:
        inner = t.xshape[:-1]
        data = [f'x = np.random.rand({", ".join(str(d) for d in (t.N,) + tuple(inner))}).astype("float32")',
                "x = np.expand_dims(x, -1)"] + (["x = np.expand_dims(x, -1)   # added again in a helper"] if fault else []) + [t.y_line()]
        if not inner:
            data[0] = f'x = np.random.rand({t.N}, {t.xshape[0]}).astype("float32")'
            data[1] = "x = x.reshape(len(x), -1)"
            if fault:
                data[2] = "x = np.expand_dims(x, 1)   # added in a helper"
        fix = f"add the axis once: remove the second np.expand_dims so x is ({t.N}, {xs})"
    s = std(p, t, data=data)
    return s, fix, f"an extra axis in the data ({how})"


@kind("dp_sequence_missing_feature_axis", "data_preprocessing", SEQ, "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    t.F, t.xshape = 1, (t.T, 1)
    p.set("features", 1)
    t.layers[0] = t.layers[0]
    style = p.choice("model_style", ["noinput", "subclassed", "input"])
    data = [f'x = np.random.rand({t.N}, {t.T}).astype("float32")   # one value per time step',
            ("" if fault else "x = x[..., None]"), t.y_line()]
    s = std(p, t, data=[d for d in data if d], style=style)
    return s, f"add the feature axis: x = x[..., None] so the {p.arch} model gets ({t.N}, {t.T}, 1)", \
        "univariate series without the trailing feature axis"


@kind("dp_time_feature_axes_swapped", "data_preprocessing", SEQ, "fit", n=4)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if t.F == t.T:
        t.F += 1
    t.xshape = (t.T, t.F)
    data = [f'x = np.random.rand({t.N}, {t.F}, {t.T}).astype("float32")   # (samples, features, steps) from the CSV pivot',
            ("" if fault else "x = x.transpose(0, 2, 1)"), t.y_line()]
    phase = p.choice("call", ["fit", "evaluate"])
    calls = [fit_line(p, bs=t.bs)] if phase == "fit" else [
        "# trained earlier; evaluate on the held-out split", f"model.evaluate(x, y, batch_size={t.bs}, verbose=0)"]
    s = std(p, t, data=[d for d in data if d], calls=calls)
    return s, f"swap to (samples, steps, features): x = x.transpose(0, 2, 1) -> ({t.N}, {t.T}, {t.F})", \
        "time and feature axes swapped"


@kind("dp_wrong_feature_count", "data_preprocessing", ["mlp", "rnn", "cnn1d"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    extra = p.choice("extra_cols", [-2, -1, 1, 2, 3])
    F2 = max(1, t.F + extra)
    if F2 == t.F:
        F2 = t.F + 1
    xs = t.xshape[:-1] + (F2 if fault else t.F,)
    where = p.choice("where", ["fit", "predict", "validation"])
    if where == "fit":
        data = [t.x_line(xshape=xs), t.y_line()]
        calls = [fit_line(p, bs=t.bs)]
    elif where == "predict":
        data = t.data() + [t.x_line("x_new", n=5, xshape=xs)]
        calls = [fit_line(p, bs=t.bs), "print(model.predict(x_new, verbose=0).argmax(-1))"]
    else:
        data = t.data() + [t.x_line("x_val", n=8, xshape=xs), t.y_line("y_val", n=8)]
        calls = [fit_line(p, bs=t.bs, extra=", validation_data=(x_val, y_val)")]
    p.set("phase", where)
    s = std(p, t, data=data, calls=calls)
    return s, f"build the {'new' if where != 'fit' else 'training'} features with the same {t.F} columns the model was built for (not {F2})", \
        f"{F2} feature columns fed where the model takes {t.F} ({where})"


@kind("dp_ragged_object_array", "data_preprocessing", ["text", "rnn"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if p.arch == "text":
        data = [f"lengths = np.random.randint({max(3, t.L // 2)}, {t.L + 1}, size={t.N})",
                f"seqs = [np.random.randint(1, {t.V}, size=n) for n in lengths]"]
        pad = f'x = keras.preprocessing.sequence.pad_sequences(seqs, maxlen={t.L}, padding="post")' if not p.keras3 else \
            f"x = np.zeros(({t.N}, {t.L}), dtype=\"int64\")\nfor i, s in enumerate(seqs):\n    x[i, :len(s)] = s"
    else:
        data = [f"lengths = np.random.randint({max(3, t.T // 2)}, {t.T + 1}, size={t.N})",
                f'seqs = [np.random.rand(n, {t.F}).astype("float32") for n in lengths]']
        pad = f'x = np.zeros(({t.N}, {t.T}, {t.F}), dtype="float32")\nfor i, s in enumerate(seqs):\n    x[i, :len(s)] = s'
    data.append("x = np.array(seqs, dtype=object)" if fault else pad)
    data.append(t.y_line())
    s = std(p, t, data=data, styles=("input", "functional"))
    return s, f"pad the variable-length sequences to {t.xshape[0]} steps before building x instead of np.array(seqs, dtype=object)", \
        "variable-length sequences packed into an object array"


@kind("dp_string_features", "data_preprocessing", ["mlp"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    data = [f'rows = [",".join(str(round(v, 3)) for v in r) for r in np.random.rand({t.N}, {t.F})]   # CSV lines',
            'x = np.array([r.split(",") for r in rows])' + ("" if fault else '.astype("float32")'), t.y_line()]
    s = std(p, t, data=data, styles=("input", "functional"))
    return s, "parse the CSV strings into numbers: x = x.astype('float32')", "CSV fields left as strings"


@kind("dp_string_labels", "data_preprocessing", ["mlp", "cnn1d"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    names = ["cat", "dog", "bird", "fish", "frog", "horse", "deer", "ship", "truck", "plane", "car",
             "owl", "bee", "ant", "cow", "pig", "hen"][:t.C]
    data = [t.x_line(), f"classes = np.array({names!r})",
            f"y = classes[np.random.randint(0, {t.C}, size={t.N})]   # label names from the annotation file"]
    if not fault:
        data.append("_, y = np.unique(y, return_inverse=True)")
    s = std(p, t, data=data, styles=("input", "functional"))
    return s, "encode the class names as integers first: classes, y = np.unique(y, return_inverse=True)", \
        "string class names used directly as sparse labels"


@kind("dp_float_token_ids", "data_preprocessing", ["text"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, "text")
    data = [f"x = np.random.randint(0, {t.V}, size=({t.N}, {t.L}))",
            f"x = x / {t.V}" + ("   # normalised like image pixels" if fault else "") if fault else "x = x.astype(\"int32\")",
            t.y_line()]
    s = std(p, t, data=data, styles=("input", "functional"))
    return s, f"keep the token ids as integers in [0, {t.V}) for the Embedding; do not divide them by {t.V}", \
        "token ids normalised to floats before an Embedding"


@kind("dp_predict_single_sample", "data_preprocessing", ALL, "predict", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    idx = p.randint("index", 0, 4)
    sample = f"x[{idx}]" if fault else f"x[{idx}:{idx + 1}]"
    api = p.choice("api", ["predict", "call"])
    call = f"print(model.predict({sample}, verbose=0))" if api == "predict" else f"print(model({sample}))"
    s = std(p, t, calls=[fit_line(p, bs=t.bs), call])
    return s, f"keep the batch axis for one sample: x[{idx}:{idx + 1}] (or np.expand_dims(x[{idx}], 0)) has shape (1, {', '.join(map(str, t.xshape))})", \
        "a single sample without batch axis passed to the model"


@kind("dp_rgb_into_gray_model", "data_preprocessing", ["cnn2d"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    t.Ch, t.xshape = 1, (t.H, t.W, 1)
    p.set("channels", 1)
    phase = p.choice("call", ["fit", "predict"])
    xs = (t.H, t.W, 3) if fault else (t.H, t.W, 1)
    if phase == "fit":
        data = [t.x_line(xshape=xs), t.y_line()]
        calls = [fit_line(p, bs=t.bs)]
    else:
        data = t.data() + [t.x_line("photos", n=4, xshape=xs) + ("   # RGB photos" if fault else "")]
        calls = [fit_line(p, bs=t.bs), "print(model.predict(photos, verbose=0).argmax(-1))"]
    s = std(p, t, data=data, calls=calls)
    return s, f"convert the RGB images to grayscale first: x = tf.image.rgb_to_grayscale(x) (or x.mean(-1, keepdims=True)) -> {t.H}x{t.W}x1", \
        "3-channel images into a model built for 1 channel"


@kind("dp_tokens_padded_wrong_length", "data_preprocessing", ["text"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, "text")
    L2 = t.L + p.choice("len_diff", [-4, -2, 3, 5, 8])
    t.layers[1] = "keras.layers.Flatten()"
    xl = f"x = np.random.randint(0, {t.V}, size=({t.N}, {L2 if fault else t.L}))" + ("   # padded with another maxlen" if fault else "")
    s = std(p, t, data=[xl, t.y_line()], styles=("input", "kwarg", "functional"))
    return s, f"pad the token sequences to the model's length: pad_sequences(seqs, maxlen={t.L}) (not {L2})", \
        f"token sequences padded to {L2} for an Embedding+Flatten model built for {t.L}"


@kind("dp_validation_images_other_size", "data_preprocessing", ["cnn2d"], "validation", n=3)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    H2, W2 = p.choice("val_hw", [(h, w) for h, w in IMG_SIZES if (h, w) != (t.H, t.W)])
    xs = (H2, W2, t.Ch) if fault else t.xshape
    data = t.data() + [t.x_line("x_val", n=8, xshape=xs), t.y_line("y_val", n=8)]
    s = std(p, t, data=data, calls=[fit_line(p, bs=t.bs, extra=", validation_data=(x_val, y_val)")])
    return s, f"resize the validation images like the training ones to {t.H}x{t.W} (they are {H2}x{W2})", \
        "validation images not resized like the training images"


@kind("dp_multi_input_meta_width", "data_preprocessing", ["multi_input"], "fit", n=4)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    H, W = p.choice("hw", IMG_SIZES)
    M = p.randint("meta_features", 3, 11)
    M2 = M + p.choice("extra", [1, 2, -1])
    C = p.randint("classes", 3, 12)
    names = p.choice("input_names", [("image", "meta"), ("img", "tabular"), ("pixels", "extra")])
    lines = header(p) + ["", f'x_img = np.random.rand({N}, {H}, {W}, 3).astype("float32")',
                         f'x_meta = np.random.rand({N}, {M2 if fault else M}).astype("float32")',
                         f"y = np.random.randint(0, {C}, size=({N},))", "",
                         f'img_in = keras.Input(shape=({H}, {W}, 3), name="{names[0]}")',
                         f'meta_in = keras.Input(shape=({M},), name="{names[1]}")',
                         'a = keras.layers.Conv2D(4, 3, activation="relu")(img_in)',
                         "a = keras.layers.GlobalAveragePooling2D()(a)",
                         'b = keras.layers.Dense(8, activation="relu")(meta_in)',
                         "h = keras.layers.Concatenate()([a, b])",
                         f'out = keras.layers.Dense({C}, activation="softmax")(h)',
                         "model = keras.Model([img_in, meta_in], out)", ""]
    if p.flag("summary", 0.5):
        lines.append("model.summary()")
    lines += ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
              "model.fit([x_img, x_meta], y, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", f"build the {names[1]} features with the {M} columns the '{names[1]}' input declares (not {M2})", \
        f"second input's features have {M2} columns, the model declares {M}"


# =============================================================================================
# layer_definition
# =============================================================================================


@kind("ld_conv_kernel_too_big", "layer_definition", ["cnn2d", "cnn1d"], "build", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if p.arch == "cnn2d":
        small = p.choice("small_hw", [(5, 5), (6, 8), (4, 7), (7, 7)])
        t.H, t.W = small
        t.xshape = (t.H, t.W, t.Ch)
        k = max(small) + p.randint("over", 1, 3)
        t.layers = [l for l in t.layers if "MaxPooling" not in l]
        t.layers[0] = t.layers[0].replace(f"Conv2D({t.f}, 3", f"Conv2D({t.f}, {k if fault else 3}")
        fix = f"use a kernel no larger than the {t.H}x{t.W} input (e.g. Conv2D({t.f}, 3)) or padding='same'"
    else:
        t.T = p.choice("short_steps", [6, 8, 10])
        t.xshape = (t.T, t.F)
        k = t.T + p.randint("over", 1, 4)
        t.layers[0] = t.layers[0].replace(f"Conv1D(8, {t.k}", f"Conv1D(8, {k if fault else 3}")
        fix = f"use a kernel shorter than the {t.T}-step sequence (e.g. Conv1D(8, 3)) or padding='same'"
    s = std(p, t)
    return s, fix, f"convolution kernel {k} larger than its input"


@kind("ld_pool_stack_too_deep", "layer_definition", ["cnn2d", "cnn1d"], "build", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if p.arch == "cnn2d":
        t.H, t.W = p.choice("hw_small", [(16, 24), (20, 36), (24, 40)])
        t.xshape = (t.H, t.W, t.Ch)
        n_ok = 2
        n_bad = p.randint("pools", 5, 6)
        pools = ["keras.layers.MaxPooling2D(2)", f'keras.layers.Conv2D({t.f}, 3, padding="same", activation="relu")']
        body = [t.layers[0]] + (pools * (n_bad if fault else n_ok))
        t.layers = body + ["keras.layers.Flatten()", t.layers[-1]]
        fix = f"use at most {n_ok}-3 pooling stages for {t.H}x{t.W} inputs (each halves the map) or GlobalAveragePooling2D earlier"
    else:
        t.T = p.choice("steps_small", [30, 48])
        t.xshape = (t.T, t.F)
        n_bad = p.randint("pools", 5, 6)
        body = [t.layers[0]] + ["keras.layers.MaxPooling1D(2)", 'keras.layers.Conv1D(8, 3, activation="relu")'] * (n_bad if fault else 1)
        t.layers = body + [t.layers[1], t.layers[2]]
        fix = f"use fewer pooling/conv stages for a {t.T}-step sequence (it shrinks below the kernel after {n_bad - 2} stages)"
    s = std(p, t, styles=("input", "kwarg", "functional"))
    return s, fix, f"{n_bad} downsampling stages shrink the feature map to nothing"


@kind("ld_pool_bigger_than_map", "layer_definition", ["cnn2d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    t.H, t.W = p.choice("hw_small", [(8, 8), (6, 10), (10, 12)])
    t.xshape = (t.H, t.W, t.Ch)
    ps = max(t.H, t.W) + 2
    t.layers[1] = f"keras.layers.MaxPooling2D({ps if fault else 2})"
    s = std(p, t, styles=("input", "functional"))
    return s, f"use a pool size that fits the {t.H - 2}x{t.W - 2} feature map, e.g. MaxPooling2D(2), or GlobalMaxPooling2D()", \
        f"MaxPooling2D({ps}) on a smaller feature map"


@kind("ld_reshape_wrong_target", "layer_definition", ["mlp", "cnn2d"], "build", n=3)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    a, b = p.choice("target", [(4, 6), (8, 4), (5, 5), (6, 6), (3, 10)])
    units = a * b
    wrong = p.choice("wrong", [(a, b + 1), (a + 2, b), (a, b, 2)])
    C = p.randint("classes", 3, 10)
    F = p.randint("features", 5, 21)
    tgt = wrong if fault else (a, b)
    conv = p.arch == "cnn2d"
    layers = [f'keras.layers.Dense({units}, activation="relu")',
              f"keras.layers.Reshape({shape(tgt) if conv is False else shape(tuple(tgt) + (1,) if len(tgt) == 2 else tgt)})",
              ('keras.layers.Conv2D(4, 2, activation="relu")' if conv else 'keras.layers.Conv1D(4, 2, activation="relu")') if len(tgt) != 3 or conv else "keras.layers.Flatten()",
              "keras.layers.Flatten()", f'keras.layers.Dense({C}, activation="softmax")']
    if not conv and len(tgt) == 3:
        layers[2] = "keras.layers.Flatten()"
        layers.pop(3)
    style = p.choice("model_style", ["input", "functional", "subclassed"])
    code = build(p, layers, (F,), style)
    lines = assemble(header(p), [f'x = np.random.rand({N}, {F}).astype("float32")', f"y = np.random.randint(0, {C}, size=({N},))"],
                     code, summary_lines(p, style),
                     ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
                      "model.fit(x, y, epochs=1, batch_size=8, verbose=0)"])
    return lines, f"choose a Reshape target with {units} elements, e.g. Reshape({shape((a, b) if not conv else (a, b, 1))}) after Dense({units})", \
        f"Reshape{shape(tgt)} whose size differs from the {units} units before it"


@kind("ld_reshape_includes_batch", "layer_definition", ["mlp"], "fit", n=2)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    B = p.choice("batch_size", [8, 4])
    T, F = p.choice("tf", [(4, 5), (6, 4), (3, 8)])
    C = p.randint("classes", 3, 9)
    tgt = (B, T, F) if fault else (T, F)
    layers = [f'keras.layers.Dense({T * F}, activation="relu")', f"keras.layers.Reshape({shape(tgt)})",
              "keras.layers.LSTM(8)", f'keras.layers.Dense({C}, activation="softmax")']
    style = p.choice("model_style", ["input", "functional"])
    s = assemble(header(p), [f'x = np.random.rand({N}, 10).astype("float32")', f"y = np.random.randint(0, {C}, size=({N},))"],
                 build(p, layers, (10,), style), summary_lines(p, style),
                 ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
                  f"model.fit(x, y, epochs=1, batch_size={B}, verbose=0)"])
    return s, f"leave the batch axis out of the Reshape target: Reshape(({T}, {F})), not Reshape({shape(tgt)})", \
        "Reshape target hard-codes the batch size"


@kind("ld_stacked_rnn_no_return_sequences", "layer_definition", ["rnn", "text"], "build", n=4)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    cell = p.choice("cell2", ["LSTM", "GRU", "SimpleRNN"])
    bidir = p.flag("bidirectional", 0.3)
    rs = "" if fault else ", return_sequences=True"
    first = f"keras.layers.{cell}(16{rs})"
    if bidir:
        first = f"keras.layers.Bidirectional({first})"
    second = f"keras.layers.{cell}(8{nm(p.choice('second_name', [None, None, 'decoder_rnn']))})"
    idx = 0 if p.arch == "rnn" else 1
    t.layers = t.layers[:idx] + [first, second] + [t.layers[-1]]
    s = std(p, t)
    return s, f"set return_sequences=True on the first {cell} so the second {cell} gets (batch, time, features)", \
        f"stacked {cell}s without return_sequences on the first"


@kind("ld_embedding_vocab_too_small", "layer_definition", ["text"], "fit", n=4)
def _(p: P, fault: bool):
    t = Task(p, "text")
    small = p.choice("input_dim", [10, 20, 50])
    t.layers[0] = f"keras.layers.Embedding({small if fault else t.V}, {t.d})"
    s = std(p, t)
    return s, f"set Embedding(input_dim={t.V}) = max token id + 1 instead of {small}", \
        f"Embedding input_dim {small} smaller than the vocabulary of {t.V}"


@kind("ld_missing_flatten_before_dense", "layer_definition", ["cnn2d", "cnn1d"], "loss", n=4)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if p.arch == "cnn2d":
        t.layers = [l for l in t.layers if "Flatten" not in l and "GlobalAverage" not in l] if fault else \
            [l for l in t.layers if "GlobalAverage" not in l and "Flatten" not in l][:-1] + ["keras.layers.Flatten()", t.layers[-1]]
        fix = "add keras.layers.Flatten() (or GlobalAveragePooling2D()) before the final Dense"
    else:
        t.layers = [t.layers[0], t.layers[2]] if fault else t.layers
        fix = "add keras.layers.GlobalMaxPooling1D() (or Flatten()) before the final Dense"
    s = std(p, t)
    return s, fix, "no Flatten/pooling before the output Dense: the output keeps spatial axes the labels lack"


@kind("ld_last_rnn_return_sequences", "layer_definition", ["rnn", "text"], "loss", n=4)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if p.arch == "rnn":
        rnn = f"keras.layers.{t.cell}({t.u}{', return_sequences=True' if fault else ''})"
        t.layers = [rnn, t.layers[-1]]
        cell = t.cell
    else:
        cell = p.choice("cell2", ["LSTM", "GRU"])
        t.layers = [t.layers[0], f"keras.layers.{cell}(16{', return_sequences=True' if fault else ''})", t.layers[-1]]
    s = std(p, t)
    return s, f"drop return_sequences=True on the last {cell} (or pool over time) so the output is (batch, {t.C})", \
        "the last recurrent layer returns sequences: output (batch, steps, classes) vs labels (batch,)"


@kind("ld_dense_units_before_reshape", "layer_definition", ["mlp"], "build", n=3)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    T, F = p.choice("grid", [(4, 8), (6, 5), (7, 3), (5, 9)])
    wrong = T * F + p.choice("off", [-3, 2, 4, 8])
    C = p.randint("classes", 3, 12)
    name = p.choice("dense_name", [None, "project"])
    layers = [f'keras.layers.Dense({wrong if fault else T * F}, activation="relu"{nm(name)})',
              f"keras.layers.Reshape(({T}, {F}))", "keras.layers.GRU(8)", f'keras.layers.Dense({C}, activation="softmax")']
    style = p.choice("model_style", ["input", "functional", "kwarg"])
    s = assemble(header(p), [f'x = np.random.rand({N}, 12).astype("float32")', f"y = np.random.randint(0, {C}, size=({N},))"],
                 build(p, layers, (12,), style), summary_lines(p, style),
                 ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")', "model.fit(x, y, epochs=1, batch_size=8, verbose=0)"])
    return s, f"give the Dense before Reshape(({T}, {F})) {T * F} units, not {wrong}", \
        f"Dense({wrong}) feeding Reshape(({T}, {F})) which needs {T * F} values"


@kind("ld_residual_dense_units", "layer_definition", ["mlp"], "build", n=3)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    h = p.choice("width", [16, 24, 32])
    h2 = h + p.choice("off", [-8, 8, 4])
    F = p.randint("features", 5, 21)
    C = p.randint("classes", 3, 12)
    lines = header(p) + ["", f'x = np.random.rand({N}, {F}).astype("float32")', f"y = np.random.randint(0, {C}, size=({N},))", "",
                         f"inputs = keras.Input(shape=({F},))",
                         f'h = keras.layers.Dense({h}, activation="relu")(inputs)',
                         f'r = keras.layers.Dense({h2 if fault else h}, activation="relu"{nm(p.choice("block_name", [None, "block1_dense"]))})(h)',
                         "h = keras.layers.Add()([h, r])",
                         f'outputs = keras.layers.Dense({C}, activation="softmax")(h)',
                         "model = keras.Model(inputs, outputs)", ""]
    lines += ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")', "model.fit(x, y, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", f"give the residual branch's Dense {h} units (not {h2}) so Add() gets equal widths", \
        f"residual Dense({h2}) added to a {h}-wide skip connection"


@kind("ld_cropping_too_big", "layer_definition", ["cnn2d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    c = t.H // 2 + p.randint("extra", 0, 3)
    crop = f"keras.layers.Cropping2D((({c}, {c}), (0, 0)))" if fault else "keras.layers.Cropping2D(((2, 2), (2, 2)))"
    t.layers = [crop] + t.layers
    s = std(p, t, styles=("input", "functional"))
    return s, f"crop less than the {t.H}-pixel height, e.g. Cropping2D(((2, 2), (2, 2)))", f"Cropping2D removes {2 * c} of {t.H} rows"


@kind("ld_dilation_too_large", "layer_definition", ["cnn1d", "cnn2d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    d = p.choice("dilation", [16, 20, 32])
    if p.arch == "cnn1d":
        t.layers[0] = add_kw(t.layers[0], f"dilation_rate={d if fault else 2}")
        size = t.T
    else:
        t.layers[0] = add_kw(t.layers[0], f"dilation_rate={d if fault else 2}")
        size = min(t.H, t.W)
    s = std(p, t, styles=("input", "functional"))
    return s, f"use a dilation_rate whose receptive field fits the {size}-long input (e.g. 2), not {d}", \
        f"dilation_rate={d} makes the effective kernel larger than the input"


@kind("ld_timedistributed_after_lstm", "layer_definition", ["rnn"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "rnn")
    rs = "" if fault else ", return_sequences=True"
    t.layers = [f"keras.layers.{t.cell}({t.u}{rs})", f'keras.layers.TimeDistributed(keras.layers.Dense({t.C}, activation="softmax"))']
    data = [t.x_line(), f"y = np.random.randint(0, {t.C}, size=({t.N}, {t.T}))   # one tag per step"]
    s = std(p, t, data=data, styles=("input", "functional"))
    return s, f"set return_sequences=True on the {t.cell} so TimeDistributed gets (batch, {t.T}, {t.u})", \
        "TimeDistributed after an RNN that returns only its last state"


# =============================================================================================
# input_layer
# =============================================================================================


@kind("il_missing_channel", "input_layer", ["cnn2d"], "build", n=4)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    ins = (t.H, t.W) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare the channel axis in the Input: Input(shape=({t.H}, {t.W}, {t.Ch}))", \
        "Input shape lacks the channel axis"


@kind("il_wrong_feature_count", "input_layer", ["mlp", "rnn", "cnn1d"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    F2 = t.F + p.choice("off", [-1, 1, 2, 4]) if t.F > 1 else t.F + 2
    ins = t.xshape[:-1] + (F2 if fault else t.F,)
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare the real feature count: Input(shape={shape(t.xshape)}) (not {F2} features)", \
        f"Input declares {F2} features, the data has {t.F}"


@kind("il_wrong_image_hw", "input_layer", ["cnn2d"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    H2, W2 = p.choice("declared_hw", [(w, h) for h, w in [(t.H, t.W)] if h != w] + [(h, w) for h, w in IMG_SIZES if (h, w) != (t.H, t.W)])
    ins = (H2, W2, t.Ch) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare Input(shape=({t.H}, {t.W}, {t.Ch})) to match the {t.H}x{t.W} images (not {H2}x{W2})", \
        f"Input declares {H2}x{W2}, the images are {t.H}x{t.W}"


@kind("il_shape_int_not_tuple", "input_layer", ["mlp", "text"], "build", n=2,
      valid_if_silent="this Keras accepts an int shape (shape=(n,) is the canonical form)")
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    style = p.choice("model_style", ["input", "functional"])
    s = std(p, t, style=style)
    n = t.xshape[0]
    if fault:
        s = s.replace(f"shape=({n},)", f"shape=({n})", 1)
    return s, f"pass a tuple: Input(shape=({n},)) - ({n}) is just the int {n}", "Input(shape=(n)) without the trailing comma"


@kind("il_batch_size_in_shape", "input_layer", ["mlp", "cnn2d", "rnn"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    ins = ((t.bs,) + t.xshape) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"leave the batch size out of the shape: Input(shape={shape(t.xshape)}) (or batch_size={t.bs})", \
        "the batch size included in Input(shape=...)"


@kind("il_channels_first_declared", "input_layer", ["cnn2d"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    if t.Ch == 1:
        t.Ch = p.set("channels", 3)
        t.xshape = (t.H, t.W, 3)
    ins = (t.Ch, t.H, t.W) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare channels last like the data: Input(shape=({t.H}, {t.W}, {t.Ch}))", \
        "Input declared channels-first for channels-last data"


@kind("il_rnn_missing_timesteps", "input_layer", ["rnn", "cnn1d"], "build", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    ins = (t.F,) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare (timesteps, features): Input(shape=({t.T}, {t.F})) (or (None, {t.F}))", \
        "Input shape gives only the feature count, no time axis"


@kind("il_steps_features_swapped", "input_layer", ["rnn", "cnn1d"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if t.F == t.T:
        t.F += 1
        t.xshape = (t.T, t.F)
    ins = (t.F, t.T) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare Input(shape=({t.T}, {t.F})) = (steps, features), not ({t.F}, {t.T})", "Input declares (features, steps)"


@kind("il_text_seq_len_wrong", "input_layer", ["text"], "fit", n=3)
def _(p: P, fault: bool):
    t = Task(p, "text")
    L2 = t.L + p.choice("off", [-3, 2, 5])
    t.layers[1] = "keras.layers.Flatten()"
    ins = (L2,) if fault else t.xshape
    s = std(p, t, in_shape=ins, styles=("input", "kwarg", "functional"))
    return s, f"declare the padded length: Input(shape=({t.L},)) (not {L2})", f"Input declares {L2} tokens, sequences are padded to {t.L}"


@kind("il_input_dim_kwarg_wrong", "input_layer", ["mlp"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    F2 = t.F + p.choice("off", [1, 2, -2])
    t.layers[0] = add_kw(t.layers[0], f"input_dim={F2 if fault else t.F}")
    s = std(p, t, style="noinput")
    return s, f"set input_dim={t.F}, the number of feature columns (not {F2})", f"Dense(..., input_dim={F2}) for {t.F} features"


# =============================================================================================
# layer_combination
# =============================================================================================


@kind("lc_conv2d_after_rnn", "layer_combination", ["rnn"], "build", n=3)
def _(p: P, fault: bool):
    t = Task(p, "rnn")
    body = [f"keras.layers.{t.cell}({t.u}, return_sequences=True)"]
    body += ['keras.layers.Conv2D(8, 3, activation="relu")', "keras.layers.Flatten()"] if fault else \
        ['keras.layers.Conv1D(8, 3, activation="relu")', "keras.layers.Flatten()"]
    t.layers = body + [t.layers[-1]]
    s = std(p, t, styles=("input", "functional", "kwarg"))
    return s, "use Conv1D on the (steps, units) RNN output, or Reshape to add a channel axis before Conv2D", \
        "Conv2D placed after a sequence-returning RNN"


@kind("lc_conv1d_after_dense", "layer_combination", ["mlp"], "build", n=3)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    body = [t.layers[0]] + ([] if fault else [f"keras.layers.Reshape(({t.h}, 1))"]) + \
        ['keras.layers.Conv1D(4, 3, activation="relu")', "keras.layers.GlobalMaxPooling1D()", t.layers[-1]]
    s = std(p, t, layers=body)
    return s, f"give Conv1D a (steps, channels) input: keras.layers.Reshape(({t.h}, 1)) before it", "Conv1D on a 2-D Dense output"


@kind("lc_maxpool2d_on_sequence", "layer_combination", ["cnn1d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "cnn1d")
    t.layers = [t.layers[0], "keras.layers.MaxPooling2D(2)" if fault else "keras.layers.MaxPooling1D(2)"] + t.layers[1:]
    s = std(p, t)
    return s, "use MaxPooling1D for (steps, channels) sequences", "MaxPooling2D after a Conv1D"


@kind("lc_globalpool2d_after_flatten", "layer_combination", ["cnn2d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    t.layers = [t.layers[0], t.layers[1]] + (["keras.layers.Flatten()"] if fault else []) + \
        ["keras.layers.GlobalAveragePooling2D()", t.layers[-1]]
    s = std(p, t)
    return s, "remove the Flatten: GlobalAveragePooling2D must receive the 4-D conv feature map", "GlobalAveragePooling2D after Flatten"


@kind("lc_rnn_after_conv2d", "layer_combination", ["cnn2d"], "build", n=3)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    cell = p.choice("cell", ["LSTM", "GRU"])
    mid = [] if fault else [f"keras.layers.Reshape((-1, {t.f}))"]
    t.layers = [t.layers[0], t.layers[1]] + mid + [f"keras.layers.{cell}(16)", t.layers[-1]]
    s = std(p, t)
    return s, f"reshape the conv map into a sequence first: keras.layers.Reshape((-1, {t.f})) before the {cell}", \
        f"{cell} directly after Conv2D/MaxPooling2D (4-D input)"


@kind("lc_rnn_after_flatten", "layer_combination", ["cnn1d", "rnn"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    first = t.layers[0] if p.arch == "cnn1d" else f"keras.layers.{t.cell}({t.u}, return_sequences=True)"
    t.layers = [first] + (["keras.layers.Flatten()"] if fault else []) + ["keras.layers.LSTM(8)", t.layers[-1]]
    s = std(p, t)
    return s, "remove the Flatten before the LSTM: it needs the (steps, features) sequence", "LSTM after Flatten"


@kind("lc_bidirectional_after_pooling", "layer_combination", ["text", "cnn1d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    first = t.layers[0]
    pool = "keras.layers.GlobalAveragePooling1D()" if p.arch == "text" else "keras.layers.GlobalMaxPooling1D()"
    bi = "keras.layers.Bidirectional(keras.layers.LSTM(8))"
    t.layers = [first, pool, bi, t.layers[-1]] if fault else [first, bi, t.layers[-1]]
    s = std(p, t)
    return s, "put the Bidirectional(LSTM) before the global pooling (it needs the time axis), or drop the pooling", \
        "Bidirectional LSTM after a global pooling layer"


@kind("lc_embedding_on_3d_input", "layer_combination", ["text"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "text")
    K = p.choice("tokens_per_step", [3, 4, 5])
    xs = (t.L, K)
    t.layers = [t.layers[0], "keras.layers.LSTM(8)", t.layers[-1]] if fault else \
        [t.layers[0], f"keras.layers.Reshape(({t.L}, {K * t.d}))", "keras.layers.LSTM(8)", t.layers[-1]]
    data = [f"x = np.random.randint(0, {t.V}, size=({t.N}, {t.L}, {K}))   # {K} sub-tokens per step", t.y_line()]
    s = std(p, t, data=data, in_shape=xs, styles=("input", "functional"))
    return s, f"merge the sub-token axis before the LSTM: Reshape(({t.L}, {K * t.d})) after the Embedding (or feed 2-D ids)", \
        "LSTM after an Embedding applied to 3-D ids (output is 4-D)"


@kind("lc_concat_mismatched_maps", "layer_combination", ["multi_input"], "build", n=3)
def _(p: P, fault: bool):
    H, W = p.choice("hw", [(24, 24), (32, 32), (28, 28), (24, 40)])
    C = p.randint("classes", 3, 10)
    pool_b = p.choice("pool", [2, 4])
    lines = header(p) + ["", f'x = np.random.rand(16, {H}, {W}, 3).astype("float32")', f"y = np.random.randint(0, {C}, size=(16,))", "",
                         f"inputs = keras.Input(shape=({H}, {W}, 3))",
                         'a = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(inputs)',
                         'b = keras.layers.Conv2D(8, 5, padding="same", activation="relu")(inputs)',
                         (f"b = keras.layers.MaxPooling2D({pool_b})(b)" if fault else f"b = keras.layers.MaxPooling2D({pool_b}, strides=1, padding=\"same\")(b)"),
                         f'h = keras.layers.Concatenate({nm(p.choice("cat_name", [None, "merge"]))[2:]})([a, b])',
                         "h = keras.layers.GlobalAveragePooling2D()(h)",
                         f'outputs = keras.layers.Dense({C}, activation="softmax")(h)',
                         "model = keras.Model(inputs, outputs)", "",
                         'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
                         "model.fit(x, y, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", f"pool both branches alike (or not at all) so Concatenate gets equal {H}x{W} maps", \
        "Concatenate of a pooled and an unpooled branch"


@kind("lc_add_branch_rank", "layer_combination", ["multi_input"], "build", n=2)
def _(p: P, fault: bool):
    T, F = p.choice("tf", [(10, 8), (12, 16), (20, 8)])
    C = p.randint("classes", 3, 10)
    lines = header(p) + ["", f'x = np.random.rand(16, {T}, {F}).astype("float32")', f"y = np.random.randint(0, {C}, size=(16,))", "",
                         f"inputs = keras.Input(shape=({T}, {F}))",
                         f"seq = keras.layers.LSTM({F}, return_sequences=True)(inputs)",
                         f"summary = keras.layers.LSTM({F})(inputs)",
                         ("h = keras.layers.Add()([seq, summary])" if fault else
                          "h = keras.layers.Add()([keras.layers.GlobalAveragePooling1D()(seq), summary])"),
                         f'outputs = keras.layers.Dense({C}, activation="softmax")(h)',
                         "model = keras.Model(inputs, outputs)", "",
                         'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
                         "model.fit(x, y, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", "pool the sequence branch over time (GlobalAveragePooling1D) before adding it to the last-state branch", \
        "Add of a (steps, units) sequence and a (units,) vector"


@kind("lc_dense_between_convs", "layer_combination", ["cnn2d"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "cnn2d")
    mid = ["keras.layers.Flatten()", 'keras.layers.Dense(64, activation="relu")'] + ([] if fault else ["keras.layers.Reshape((8, 8, 1))"])
    t.layers = [t.layers[0], t.layers[1]] + mid + ['keras.layers.Conv2D(4, 3, activation="relu")', "keras.layers.Flatten()", t.layers[-1]]
    s = std(p, t)
    return s, "Reshape the Dense output back to a map (keras.layers.Reshape((8, 8, 1))) before the second Conv2D", \
        "Conv2D after Flatten+Dense without Reshape"


@kind("lc_conv1d_after_global_pool", "layer_combination", ["cnn1d", "text"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    first = t.layers[0]
    pool = "keras.layers.GlobalMaxPooling1D()"
    t.layers = [first, pool, 'keras.layers.Conv1D(8, 3, activation="relu")', t.layers[-1]] if fault else \
        [first, 'keras.layers.Conv1D(8, 3, activation="relu")', pool, t.layers[-1]]
    s = std(p, t)
    return s, "apply the Conv1D before GlobalMaxPooling1D (pooling removes the steps axis)", "Conv1D after a global pooling layer"


@kind("lc_globalpool1d_after_dense", "layer_combination", ["mlp"], "build", n=2)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    t.layers = [t.layers[0]] + (["keras.layers.GlobalAveragePooling1D()"] if fault else []) + [t.layers[-1]]
    s = std(p, t)
    return s, "drop the GlobalAveragePooling1D: the Dense output is already (batch, features)", "GlobalAveragePooling1D after a Dense on 2-D data"


@kind("lc_concat_sequence_with_vector", "layer_combination", ["multi_input"], "build", n=2)
def _(p: P, fault: bool):
    T, F, M = p.choice("dims", [(12, 4, 5), (20, 3, 7), (16, 6, 3)])
    C = p.randint("classes", 3, 9)
    lines = header(p) + ["", f'x_seq = np.random.rand(16, {T}, {F}).astype("float32")', f'x_meta = np.random.rand(16, {M}).astype("float32")',
                         f"y = np.random.randint(0, {C}, size=(16,))", "",
                         f"seq_in = keras.Input(shape=({T}, {F}))", f"meta_in = keras.Input(shape=({M},))",
                         f"s = keras.layers.GRU(8{', return_sequences=True' if fault else ''})(seq_in)",
                         "h = keras.layers.Concatenate()([s, meta_in])",
                         f'outputs = keras.layers.Dense({C}, activation="softmax")(h)',
                         "model = keras.Model([seq_in, meta_in], outputs)", "",
                         'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
                         "model.fit([x_seq, x_meta], y, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", "concatenate vectors with vectors: use the GRU's last state (no return_sequences) or pool it first", \
        "Concatenate of a (steps, units) sequence with a (features,) vector"


# =============================================================================================
# input_pipeline
# =============================================================================================


def ds_script(p: P, t: Task, ds_lines: list[str], fit: str = "model.fit(ds, epochs=1, verbose=0)",
              styles: tuple[str, ...] = ("input", "input", "functional", "subclassed"), extra_data: list[str] | None = None) -> str:
    style = p.choice("model_style", list(styles))
    model = build(p, t.layers, t.xshape, style, twice=p.flag("built_twice", 0.1))
    return assemble(header(p, tf=True), t.data() + (extra_data or []), ds_lines, model, summary_lines(p, style),
                    [t.compile_line()], [fit])


@kind("ip_dataset_not_batched", "input_pipeline", ALL, "fit", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    shuf = p.flag("shuffle", 0.5)
    ds = "ds = tf.data.Dataset.from_tensor_slices((x, y))" + (f".shuffle({t.N})" if shuf else "") + ("" if fault else f".batch({t.bs})")
    return ds_script(p, t, [ds]), f"batch the dataset before fit: ds = ds.batch({t.bs})", "tf.data dataset never batched"


@kind("ip_dataset_batched_twice", "input_pipeline", ALL, "fit", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    ds = [f"ds = tf.data.Dataset.from_tensor_slices((x, y)).batch({t.bs})",
          "ds = ds.prefetch(2)" if not fault else f"ds = ds.batch({t.bs}).prefetch(2)   # batched again in the input helper"]
    return ds_script(p, t, ds), f"batch only once: remove the second .batch({t.bs})", "tf.data dataset batched twice"


@kind("ip_map_drops_label", "input_pipeline", ["cnn2d", "mlp", "rnn"], "fit", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    fn = ["def preprocess(x, y):", "    x = tf.cast(x, tf.float32) * 2.0 - 1.0", "    return x" + ("" if fault else ", y")]
    ds = fn + ["", f"ds = tf.data.Dataset.from_tensor_slices((x, y)).map(preprocess).batch({t.bs})"]
    return ds_script(p, t, ds), "return the label from the map function too: return x, y", "map function drops the label"


@kind("ip_map_swaps_xy", "input_pipeline", ["cnn2d", "mlp", "text"], "fit", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    fn = ["def to_pair(features, label):", "    return " + ("label, features" if fault else "features, label")]
    ds = fn + ["", f"ds = tf.data.Dataset.from_tensor_slices((x, y)).map(to_pair).batch({t.bs})"]
    return ds_script(p, t, ds), "return (features, label) in that order from the map function", "map function returns (label, features)"


@kind("ip_map_wrong_reshape", "input_pipeline", ["cnn2d", "mlp"], "map", n=3, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if p.arch == "cnn2d":
        tgt = (t.H, t.W, t.Ch)
        bad = (t.W, t.H + 1, t.Ch) if t.H != t.W else (t.H + 2, t.W, t.Ch)
        data_x = f'x = np.random.rand({t.N}, {t.H * t.W * t.Ch}).astype("float32")   # flat pixel rows from the CSV'
    else:
        tgt = (t.F,)
        bad = (t.F + 1,)
        data_x = f'x = np.random.rand({t.N}, 1, {t.F}).astype("float32")'
    fn = ["def decode(row, label):", f"    image = tf.reshape(row, {shape(bad if fault else tgt)})", "    return image, label"]
    ds = fn + ["", f"ds = tf.data.Dataset.from_tensor_slices((x, y)).map(decode).batch({t.bs})"]
    style = p.choice("model_style", ["input", "functional"])
    model = build(p, t.layers, t.xshape, style)
    s = assemble(header(p, tf=True), [data_x, t.y_line()], ds, model, summary_lines(p, style), [t.compile_line()],
                 ["model.fit(ds, epochs=1, verbose=0)"])
    return s, f"reshape each row to the model's input {shape(tgt)} in the map function (not {shape(bad)})", \
        "map function reshapes to the wrong shape"


@kind("ip_cardinality_mismatch", "input_pipeline", ALL, "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    drop = p.choice("dropped", [2, 5, 8])
    data = [t.x_line(), t.y_line(), f"keep = np.arange({t.N}) >= {drop}   # drop the first rows (bad scans)",
            "x = x[keep]"] + ([] if fault else ["y = y[keep]"])
    s = std(p, t, data=data)
    return s, f"filter the labels with the same mask as the inputs: y = y[keep] ({t.N - drop} samples each)", \
        "x filtered but y not: sample counts differ"


@kind("ip_from_tensor_slices_list", "input_pipeline", ["mlp", "cnn1d"], "fit", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    arg = "[x, y]" if fault else "(x, y)"
    ds = [f"ds = tf.data.Dataset.from_tensor_slices({arg}).batch({t.bs})"]
    return ds_script(p, t, ds), "pass a tuple, not a list: tf.data.Dataset.from_tensor_slices((x, y))", \
        "from_tensor_slices given a list [x, y] (stacked as one tensor)"


@kind("ip_generator_yields_single_sample", "input_pipeline", ["mlp", "cnn2d", "rnn"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    gen = ["def batches():", "    while True:",
           f"        idx = np.random.randint(0, {t.N}, size={t.bs})",
           "        yield x[idx], y[idx]"] if not fault else \
        ["def batches():", "    while True:", f"        i = np.random.randint(0, {t.N})", "        yield x[i], y[i]"]
    style = p.choice("model_style", ["input", "functional"])
    model = build(p, t.layers, t.xshape, style)
    s = assemble(header(p), t.data(), gen, model, summary_lines(p, style), [t.compile_line()],
                 ["model.fit(batches(), steps_per_epoch=2, epochs=1, verbose=0)"])
    return s, f"yield whole batches: idx = np.random.randint(0, {t.N}, size={t.bs}); yield x[idx], y[idx]", \
        "python generator yields one sample at a time into fit"


def seq_class(p: P, t: Task, getitem: list[str], len_expr: str) -> list[str]:
    base = "keras.utils.PyDataset" if p.keras3 and p.choice("seq_base", ["PyDataset", "Sequence"]) == "PyDataset" else "keras.utils.Sequence"
    init_super = ["        super().__init__(**kwargs)"] if p.keras3 else []
    return [f"class Batches({base}):",
            "    def __init__(self, x, y, batch_size, **kwargs):"] + init_super + [
            "        self.x, self.y, self.batch_size = x, y, batch_size", "",
            "    def __len__(self):", f"        return {len_expr}", "",
            "    def __getitem__(self, idx):"] + ["        " + g for g in getitem]


@kind("ip_sequence_returns_single_sample", "input_pipeline", ["mlp", "cnn2d", "cnn1d"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    gi = ["return self.x[idx], self.y[idx]"] if fault else \
        ["sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)", "return self.x[sl], self.y[sl]"]
    cls = seq_class(p, t, gi, "len(self.x) // self.batch_size")
    style = p.choice("model_style", ["input", "functional", "subclassed"])
    s = assemble(header(p), t.data(), cls, build(p, t.layers, t.xshape, style), summary_lines(p, style),
                 [t.compile_line()], [f"model.fit(Batches(x, y, {t.bs}), epochs=1, verbose=0)"])
    return s, "return a whole batch from __getitem__: sl = slice(idx*bs, (idx+1)*bs); return self.x[sl], self.y[sl]", \
        "Sequence.__getitem__ returns one sample instead of a batch"


@kind("ip_sequence_drops_labels", "input_pipeline", ["mlp", "cnn2d", "rnn"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    gi = ["sl = slice(idx * self.batch_size, (idx + 1) * self.batch_size)",
          "return self.x[sl]" if fault else "return self.x[sl], self.y[sl]"]
    cls = seq_class(p, t, gi, "len(self.x) // self.batch_size")
    style = p.choice("model_style", ["input", "functional"])
    s = assemble(header(p), t.data(), cls, build(p, t.layers, t.xshape, style), summary_lines(p, style),
                 [t.compile_line()], [f"model.fit(Batches(x, y, {t.bs}), epochs=1, verbose=0)"])
    return s, "return (inputs, labels) from __getitem__: return self.x[sl], self.y[sl]", "Sequence yields inputs without labels"


@kind("ip_sequence_label_slice_off", "input_pipeline", ["mlp", "cnn1d"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    ysl = "self.y[idx * self.batch_size:(idx + 1) * self.batch_size + 1]" if fault else "self.y[idx * self.batch_size:(idx + 1) * self.batch_size]"
    gi = ["xb = self.x[idx * self.batch_size:(idx + 1) * self.batch_size]", f"yb = {ysl}", "return xb, yb"]
    cls = seq_class(p, t, gi, "len(self.x) // self.batch_size - 1")
    style = p.choice("model_style", ["input", "functional"])
    s = assemble(header(p), t.data(), cls, build(p, t.layers, t.xshape, style), summary_lines(p, style),
                 [t.compile_line()], [f"model.fit(Batches(x, y, {t.bs}), epochs=1, verbose=0)"])
    return s, f"slice the labels like the inputs: self.y[idx*bs:(idx+1)*bs] ({t.bs} labels per batch, not {t.bs + 1})", \
        "Sequence label slice off by one"


@kind("ip_multi_input_one_array", "input_pipeline", ["multi_input"], "fit", n=3)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    F1, F2 = p.choice("widths", [(6, 4), (10, 3), (8, 8), (12, 5)])
    C = p.randint("classes", 3, 11)
    a, b = p.choice("input_names", [("numeric", "categorical"), ("left", "right"), ("user", "item")])
    fitx = f"np.concatenate([x_{a}, x_{b}], axis=1)" if fault else f"[x_{a}, x_{b}]"
    lines = header(p) + ["", f'x_{a} = np.random.rand({N}, {F1}).astype("float32")', f'x_{b} = np.random.rand({N}, {F2}).astype("float32")',
                         f"y = np.random.randint(0, {C}, size=({N},))", "",
                         f'in_{a} = keras.Input(shape=({F1},), name="{a}")', f'in_{b} = keras.Input(shape=({F2},), name="{b}")',
                         f"h = keras.layers.Concatenate()([in_{a}, in_{b}])", 'h = keras.layers.Dense(16, activation="relu")(h)',
                         f'out = keras.layers.Dense({C}, activation="softmax")(h)',
                         f"model = keras.Model([in_{a}, in_{b}], out)", "",
                         'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
                         f"model.fit({fitx}, y, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", f"feed one array per model input: model.fit([x_{a}, x_{b}], y)", \
        "two-input model fed one concatenated array"


@kind("ip_validation_dataset_unbatched", "input_pipeline", ["mlp", "cnn2d", "rnn"], "validation", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    ds = [f"train_ds = tf.data.Dataset.from_tensor_slices((x, y)).batch({t.bs})",
          "val_ds = tf.data.Dataset.from_tensor_slices((x_val, y_val))" + ("" if fault else f".batch({t.bs})")]
    extra = [t.x_line("x_val", n=8), t.y_line("y_val", n=8)]
    return ds_script(p, t, ds, fit="model.fit(train_ds, validation_data=val_ds, epochs=1, verbose=0)", extra_data=extra), \
        f"batch the validation dataset like the training one: val_ds = val_ds.batch({t.bs})", "validation dataset not batched"


@kind("ip_padded_batch_missing", "input_pipeline", ["text"], "fit", n=3, tf=True)
def _(p: P, fault: bool):
    t = Task(p, "text")
    t.layers[1] = "keras.layers.GlobalAveragePooling1D()"
    t.xshape = (None,)
    gen = ["def examples():", f"    for _ in range({t.N}):",
           f"        n = np.random.randint(3, {t.L})",
           f"        yield np.random.randint(1, {t.V}, size=n), np.random.randint(0, {t.C})", "",
           "ds = tf.data.Dataset.from_generator(", "    examples,",
           "    output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int32), tf.TensorSpec(shape=(), dtype=tf.int32)),", ")",
           (f"ds = ds.batch({t.bs})" if fault else f"ds = ds.padded_batch({t.bs})")]
    style = p.choice("model_style", ["input", "functional"])
    s = assemble(header(p, tf=True), gen, build(p, t.layers, (None,), style), summary_lines(p, style), [t.compile_line()],
                 ["model.fit(ds, epochs=1, verbose=0)"])
    return s, f"pad the variable-length sequences per batch: ds = ds.padded_batch({t.bs})", \
        "variable-length sequences batched with .batch instead of .padded_batch"


@kind("ip_dict_input_wrong_key", "input_pipeline", ["mlp"], "fit", n=2, tf=True)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    name = p.choice("input_name", ["features", "tabular", "pixels"])
    key = name if not fault else p.choice("wrong_key", ["x", "inputs", "feature"])
    ds = [f'ds = tf.data.Dataset.from_tensor_slices(({{"{key}": x}}, y)).batch({t.bs})']
    lines = assemble(header(p, tf=True), t.data(), ds,
                     [f'inputs = keras.Input(shape=({t.F},), name="{name}")',
                      f'h = keras.layers.Dense({t.h}, activation="relu")(inputs)',
                      f'outputs = keras.layers.Dense({t.C}, activation="softmax")(h)',
                      "model = keras.Model(inputs, outputs)"], [t.compile_line()], ["model.fit(ds, epochs=1, verbose=0)"])
    return lines, f'key the feature dict by the Input\'s name: {{"{name}": x}} (not "{key}")', "dataset dict key differs from the Input name"


@kind("ip_two_outputs_one_target", "input_pipeline", ["multi_input"], "fit", n=2)
def _(p: P, fault: bool):
    N = p.choice("n_samples", [24, 32])
    F = p.randint("features", 5, 15)
    C = p.randint("classes", 3, 9)
    lines = header(p) + ["", f'x = np.random.rand({N}, {F}).astype("float32")', f"y_cls = np.random.randint(0, {C}, size=({N},))",
                         f'y_reg = np.random.rand({N}, 1).astype("float32")', "",
                         f"inputs = keras.Input(shape=({F},))", 'h = keras.layers.Dense(16, activation="relu")(inputs)',
                         f'cls = keras.layers.Dense({C}, activation="softmax", name="cls")(h)',
                         'reg = keras.layers.Dense(1, name="reg")(h)', "model = keras.Model(inputs, [cls, reg])", "",
                         'model.compile(optimizer="adam", loss=["sparse_categorical_crossentropy", "mse"])',
                         f"model.fit(x, {'y_cls' if fault else '[y_cls, y_reg]'}, epochs=1, batch_size=8, verbose=0)"]
    return "\n".join(lines) + "\n", "give one target per output: model.fit(x, [y_cls, y_reg])", "two-output model given one target array"


@kind("ip_validation_data_missing_labels", "input_pipeline", ["mlp", "cnn1d"], "validation", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    data = t.data() + [t.x_line("x_val", n=8), t.y_line("y_val", n=8)]
    vd = "validation_data=x_val" if fault else "validation_data=(x_val, y_val)"
    s = std(p, t, data=data, calls=[fit_line(p, bs=t.bs, extra=", " + vd)])
    return s, "pass the validation labels too: validation_data=(x_val, y_val)", "validation_data given only the inputs"


# =============================================================================================
# loss_label_mismatch
# =============================================================================================


@kind("ll_output_units_lt_classes", "loss_label_mismatch", ALL, "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    C2 = max(2, t.C - p.randint("missing", 1, 3))
    if fault:
        t.layers[-1] = t.layers[-1].replace(f"Dense({t.C},", f"Dense({C2},")
    s = std(p, t)
    return s, f"size the output layer to the number of classes: Dense({t.C}, activation='softmax') (labels go up to {t.C - 1})", \
        f"output Dense({C2}) for {t.C} classes with sparse CE"


@kind("ll_onehot_with_sparse_ce", "loss_label_mismatch", ALL, "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    data = [t.x_line(), t.y_line(), f"y = keras.utils.to_categorical(y, {t.C})"]
    loss = "sparse_categorical_crossentropy" if fault else "categorical_crossentropy"
    s = std(p, t, data=data, compile_=t.compile_line(loss))
    return s, "with one-hot labels use loss='categorical_crossentropy' (or keep integer labels for the sparse loss)", \
        "one-hot labels with sparse_categorical_crossentropy"


@kind("ll_int_labels_categorical_ce", "loss_label_mismatch", ALL, "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    loss = "categorical_crossentropy" if fault else "sparse_categorical_crossentropy"
    s = std(p, t, compile_=t.compile_line(loss))
    return s, "with integer labels use loss='sparse_categorical_crossentropy' (or one-hot them with to_categorical)", \
        "integer labels with categorical_crossentropy"


@kind("ll_onehot_depth_vs_units", "loss_label_mismatch", ["mlp", "cnn2d", "rnn"], "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    C2 = t.C + p.choice("off", [-2, 2, 3]) if t.C > 3 else t.C + 2
    data = [t.x_line(), f"y = np.random.randint(0, {min(C2, t.C)}, size=({t.N},))", f"y = keras.utils.to_categorical(y, {C2 if fault else t.C})"]
    s = std(p, t, data=data, compile_=t.compile_line("categorical_crossentropy"))
    return s, f"one-hot with the model's class count (to_categorical(y, {t.C})) or make the output Dense({C2})", \
        f"labels one-hot encoded with depth {C2} for a {t.C}-unit output"


@kind("ll_binary_dense2_sigmoid", "loss_label_mismatch", ["mlp", "cnn1d", "text"], "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    t.C = 2
    p.set("classes", 2)
    t.layers[-1] = f'keras.layers.Dense({2 if fault else 1}, activation="sigmoid")'
    data = [t.x_line(), f"y = np.random.randint(0, 2, size=({t.N},))"]
    s = std(p, t, data=data, compile_=t.compile_line("binary_crossentropy"))
    return s, "for binary_crossentropy use a single unit: Dense(1, activation='sigmoid')", "binary labels with a 2-unit sigmoid output"


@kind("ll_to_categorical_too_few", "loss_label_mismatch", ["mlp", "cnn2d"], "data", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    C2 = t.C - p.randint("fewer", 1, 2)
    data = [t.x_line(), t.y_line(), f"y = keras.utils.to_categorical(y, num_classes={C2 if fault else t.C})"]
    s = std(p, t, data=data, compile_=t.compile_line("categorical_crossentropy"))
    return s, f"use the real class count: to_categorical(y, num_classes={t.C}) (max label + 1)", \
        f"to_categorical with {C2} classes for labels up to {t.C - 1}"


@kind("ll_categorical_single_sigmoid", "loss_label_mismatch", ["mlp", "cnn2d"], "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    t.layers[-1] = 'keras.layers.Dense(1, activation="sigmoid")' if fault else f'keras.layers.Dense({t.C}, activation="softmax")'
    data = [t.x_line(), t.y_line(), f"y = keras.utils.to_categorical(y, {t.C})"]
    s = std(p, t, data=data, compile_=t.compile_line("categorical_crossentropy"))
    return s, f"use Dense({t.C}, activation='softmax') for {t.C}-class one-hot labels", "one-hot labels with a 1-unit sigmoid output"


@kind("ll_regression_target_columns", "loss_label_mismatch", ["mlp", "rnn", "cnn1d"], "loss", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    K = p.randint("targets", 2, 5)
    out = 1 if fault else K
    t.layers[-1] = f"keras.layers.Dense({out})"
    data = [t.x_line(), f'y = np.random.rand({t.N}, {K}).astype("float32")   # {K} regression targets']
    s = std(p, t, data=data, compile_='model.compile(optimizer="adam", loss="mse")')
    return s, f"give the output one unit per target: Dense({K})", f"{K} regression targets with a 1-unit output"


@kind("ll_per_step_labels", "loss_label_mismatch", ["rnn", "text"], "loss", n=3)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    steps = t.T if p.arch == "rnn" else t.L
    ydata = f"y = np.random.randint(0, {t.C}, size=({t.N}, {steps}))   # per-step tags" if fault else t.y_line()
    s = std(p, t, data=[t.x_line(), ydata])
    return s, f"use one label per sequence (shape ({t.N},)) for this classifier, or make it return sequences for per-step tags", \
        "per-step labels for a sequence classifier"


@kind("ll_multilabel_with_sparse_ce", "loss_label_mismatch", ["mlp", "cnn2d"], "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    if fault:
        data = [t.x_line(), f'y = (np.random.rand({t.N}, {t.C}) > 0.7).astype("float32")   # multi-hot tags']
        comp = t.compile_line()
    else:
        t.layers[-1] = f'keras.layers.Dense({t.C}, activation="sigmoid")'
        data = [t.x_line(), f'y = (np.random.rand({t.N}, {t.C}) > 0.7).astype("float32")   # multi-hot tags']
        comp = t.compile_line("binary_crossentropy", metrics=False)
    s = std(p, t, data=data, compile_=comp)
    return s, f"multi-hot targets need sigmoid outputs and loss='binary_crossentropy' (Dense({t.C}, activation='sigmoid'))", \
        "multi-hot labels with softmax + sparse CE"


@kind("ll_evaluate_onehot_labels", "loss_label_mismatch", ["mlp", "cnn2d", "rnn"], "evaluate", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    data = t.data() + [t.x_line("x_test", n=8), t.y_line("y_test", n=8)] + \
        ([f"y_test = keras.utils.to_categorical(y_test, {t.C})   # from the other notebook"] if fault else [])
    s = std(p, t, data=data, calls=[fit_line(p, bs=t.bs), "print(model.evaluate(x_test, y_test, verbose=0))"])
    return s, "evaluate with the same integer labels as training (drop the to_categorical on y_test)", \
        "one-hot test labels for a sparse-CE model at evaluate"


@kind("ll_validation_onehot_labels", "loss_label_mismatch", ["mlp", "cnn1d", "text"], "validation", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    data = t.data() + [t.x_line("x_val", n=8), t.y_line("y_val", n=8)] + \
        ([f"y_val = keras.utils.to_categorical(y_val, {t.C})"] if fault else [])
    s = std(p, t, data=data, calls=[fit_line(p, bs=t.bs, extra=", validation_data=(x_val, y_val)")])
    return s, "keep the validation labels as integers like the training labels", "one-hot validation labels for a sparse-CE model"


@kind("ll_binary_labels_onehot_bce", "loss_label_mismatch", ["mlp", "text"], "loss", n=2)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    t.layers[-1] = 'keras.layers.Dense(1, activation="sigmoid")'
    data = [t.x_line(), f"y = np.random.randint(0, 2, size=({t.N},))"] + (["y = keras.utils.to_categorical(y, 2)"] if fault else [])
    s = std(p, t, data=data, compile_=t.compile_line("binary_crossentropy"))
    return s, "keep binary labels as a single 0/1 column for Dense(1, sigmoid) (drop to_categorical)", \
        "binary labels one-hot encoded for a 1-unit sigmoid output"


# =============================================================================================
# other (not shape-related) and none
# =============================================================================================


@kind("other_file_not_found", "other", ALL, "load", n=1, expect=("FileNotFoundError",))
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    path = p.choice("path", ["data/train_x.npy", "./dataset/features.npy", "../input/train.npy"])
    pre = ["import os", "", 'os.makedirs(os.path.dirname("' + path + '"), exist_ok=True)'] if not fault else []
    save = [t.x_line(), f'np.save("{path}", x)'] if not fault else []
    data = save + [f'x = np.load("{path}")', t.y_line()]
    s = std(p, t, data=data, pre=pre)
    return s, f"point np.load at the existing file (check the path '{path}' and the working directory)", "data file path does not exist"


@kind("other_unknown_loss_name", "other", ["mlp", "cnn2d", "rnn"], "compile", n=1)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    bad = p.choice("typo", ["sparse_categorical_crossentropyy", "sparse_crossentropy", "categorical_cross_entropy"])
    s = std(p, t, compile_=t.compile_line(bad if fault else "sparse_categorical_crossentropy"))
    return s, "fix the loss name: loss='sparse_categorical_crossentropy'", f"typo in the loss name ('{bad}')"


@kind("other_unknown_optimizer", "other", ["mlp", "cnn1d"], "compile", n=1)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    bad = p.choice("typo", ["adamw2", "adma", "sgd_momentum"])
    s = std(p, t, compile_=t.compile_line().replace('optimizer="adam"', f'optimizer="{bad}"' if fault else 'optimizer="adam"'))
    return s, "use a known optimizer name: optimizer='adam'", f"unknown optimizer name '{bad}'"


@kind("other_unknown_metric", "other", ["mlp", "text"], "compile", n=1)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    bad = p.choice("typo", ["acuracy", "accuarcy", "f1_score_macro"])
    s = std(p, t, compile_=t.compile_line().replace('"accuracy"', f'"{bad}"' if fault else '"accuracy"'))
    return s, "fix the metric name: metrics=['accuracy']", f"unknown metric name '{bad}'"


@kind("other_fit_before_compile", "other", ["mlp", "cnn2d"], "fit", n=1)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    s = std(p, t, compile_="# compile happens later, in the tuning cell" if fault else t.compile_line())
    return s, "call model.compile(optimizer=..., loss=...) before model.fit", "fit called before compile"


@kind("other_name_typo", "other", ["mlp", "rnn"], "fit", n=1, expect=("NameError",))
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    s = std(p, t, calls=[fit_line(p, x="x_train" if fault else "x", bs=t.bs)])
    return s, "use the variable that exists: model.fit(x, y, ...) (x_train is never defined)", "NameError: variable typo"


@kind("other_keyerror_loader", "other", ["mlp", "cnn1d"], "load", n=1, expect=("KeyError",))
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    key = p.choice("key", ["target", "labels", "class"])
    data = [t.x_line("features"), f"records = {{'features': features, 'label': np.random.randint(0, {t.C}, size=({t.N},))}}",
            "x = records['features']", f"y = records['{key if fault else 'label'}']"]
    s = std(p, t, data=data)
    return s, f"use the key the records actually contain ('label', not '{key}')", f"KeyError: loader reads key '{key}'"


@kind("other_nan_targets", "other", ["mlp"], "fit", n=2)
def _(p: P, fault: bool):
    t = Task(p, "mlp")
    t.layers[-1] = "keras.layers.Dense(1)"
    data = [t.x_line(), f'y = np.random.rand({t.N}, 1).astype("float32")'] + (["y[3] = np.nan   # a missing measurement"] if fault else [])
    s = std(p, t, data=data, compile_='model.compile(optimizer="adam", loss="mse")',
            calls=[fit_line(p, bs=t.bs, extra=", callbacks=[keras.callbacks.TerminateOnNaN()]")])
    return s, "drop or impute the NaN targets before training: keep = ~np.isnan(y).ravel(); x, y = x[keep], y[keep]", \
        "NaN in the regression targets: no exception, the loss becomes NaN"


@kind("other_lr_as_string", "other", ["mlp", "cnn1d"], "fit", n=1)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    lr = '"1e-3"' if fault else "1e-3"
    s = std(p, t, compile_=f'model.compile(optimizer=keras.optimizers.Adam(learning_rate={lr}), loss="sparse_categorical_crossentropy")')
    return s, "pass the learning rate as a number: Adam(learning_rate=1e-3)", "learning rate given as a string (read from a config file)"


@kind("none_unbatched_predict_via_expand", "none", ["cnn2d", "mlp"], "none", n=1)
def _(p: P, fault: bool):
    t = Task(p, p.arch)
    s = std(p, t, calls=[fit_line(p, bs=t.bs), "print(model.predict(np.expand_dims(x[0], 0), verbose=0).shape)"])
    return s, "nothing to fix: the script is correct", "negative: one sample predicted with an explicit batch axis"


@kind("none_variable_length_padded", "none", ["text"], "none", n=1, tf=True)
def _(p: P, fault: bool):
    t = Task(p, "text")
    t.layers[1] = "keras.layers.GlobalAveragePooling1D()"
    gen = ["def examples():", f"    for _ in range({t.N}):", f"        n = np.random.randint(3, {t.L})",
           f"        yield np.random.randint(1, {t.V}, size=n), np.random.randint(0, {t.C})", "",
           "ds = tf.data.Dataset.from_generator(", "    examples,",
           "    output_signature=(tf.TensorSpec(shape=(None,), dtype=tf.int32), tf.TensorSpec(shape=(), dtype=tf.int32)),", ")",
           f"ds = ds.padded_batch({t.bs})"]
    s = assemble(header(p, tf=True), gen, build(p, t.layers, (None,), "input"), [t.compile_line()], ["model.fit(ds, epochs=1, verbose=0)"])
    return s, "nothing to fix: the script is correct", "negative: variable-length sequences with padded_batch"


# ---------------------------------------------------------------------------------------------
def build_cases(env: str, framework: str, backend: str) -> list[Case]:
    """All cases for one env; parameters depend on (fault, arch, index) only, so the same case
    has the same numbers in every env (only the import idiom and session handling vary)."""
    from envs import ENVS
    scale = ENVS[env].get("scale", 1.0) if env in ENVS else 1.0
    share = ENVS[env].get("share", 1.0) if env in ENVS else 1.0
    cases: list[Case] = []
    for k in KINDS:
        if k.tf and backend != "tensorflow":
            continue
        for arch in k.archs:
            if share < 1.0 and zlib.crc32(f"{k.fault_id}|{arch}".encode()) % 1000 >= share * 1000:
                continue   # env runs a consistent share of the (kind, arch) pairs
            for i in range(max(1, round(k.n * scale))):
                cid = f"{k.fault_id}__{arch}__{i}"
                seed = f"{k.fault_id}|{arch}|{i}"
                pf = P(seed, env, framework, backend, arch)
                pc = P(seed, env, framework, backend, arch)
                snippet, fix, notes = k.gen(pf, True)
                control, _, _ = k.gen(pc, False)
                erng = random.Random(f"{env}|{cid}")
                clear = erng.random() < 0.85
                keep_control = (zlib.crc32(f"{env}|{cid}".encode()) % 100) < 6 and k.cause != "none"
                a = arch
                if pf.params.get("model_style") == "subclassed":
                    a = f"{arch}_subclassed"
                params = dict(pf.params)
                if not clear:
                    notes_s = notes + "; Keras session not cleared after the previous case (auto-numbered layer names continue)"
                else:
                    notes_s = notes
                cases.append(Case(
                    case_id=cid, fault_id=k.fault_id, cause=k.cause, arch=a, phase=k.phase,
                    snippet=snippet, control=control, fix=fix, notes=notes_s, params=params,
                    clear_session=clear, keep_control=keep_control, expect_exc=k.expect,
                    valid_if_silent=k.valid_if_silent, summary_kind="keras"))
    return cases
