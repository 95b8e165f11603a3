"""PyTorch case generators: a correct base script (model + train loop) and the same script with
one planted fault, over MLP / CNN / 1-D CNN / RNN / text models and DataLoader pipelines.

Same contract as cases_keras: gen(p, fault) -> (script, fix, notes), all parameters drawn
before branching on `fault`. Cause = the planted mistake, not the message: e.g. the same
"mat1 and mat2 shapes cannot be multiplied" comes from a missing Flatten (layer_definition),
from images of another size (data_preprocessing) and from a wrong in_features (layer_definition).
"""
from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from kbuild import P
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
    expect: tuple[str, ...] = ()
    valid_if_silent: str = ""


KINDS: list[Kind] = []


def kind(fault_id: str, cause: str, archs: list[str], phase: str, n: int = 2,
         expect: tuple[str, ...] = (), valid_if_silent: str = "") -> Callable[[Gen], Gen]:
    def deco(fn: Gen) -> Gen:
        KINDS.append(Kind(fault_id, cause, archs, phase, fn, n, expect, valid_if_silent))
        return fn
    return deco


IMG = [(24, 40), (28, 28), (32, 32), (20, 36), (16, 24), (30, 30)]


class T:
    """A correct small torch task for one architecture: data tensors, model class, loop."""

    def __init__(self, p: P, arch: str) -> None:
        self.p, self.arch = p, arch
        self.N = p.choice("n_samples", [20, 24, 32, 40])
        self.B = p.choice("batch_size", [4, 8, 16])
        self.C = p.randint("classes", 3, 17)
        self.cls = p.choice("class_name", ["Net", "Classifier", "Model"])
        if arch == "mlp":
            self.F = p.choice("features", [5, 7, 9, 13, 19, 23, 31])
            self.h = p.choice("hidden", [16, 32])
            self.xshape = (self.F,)
        elif arch == "cnn":
            self.H, self.W = p.choice("hw", IMG)
            self.Ch = p.choice("channels", [1, 3, 5, 7])
            self.f = p.choice("filters", [4, 8])
            self.xshape = (self.Ch, self.H, self.W)
        elif arch == "cnn1d":
            self.T = p.choice("steps", [30, 48, 50])
            self.F = p.choice("features", [1, 3, 5, 7])
            self.xshape = (self.F, self.T)
        elif arch == "rnn":
            self.T = p.randint("steps", 6, 25)
            self.F = p.randint("features", 2, 9)
            self.u = p.choice("units", [8, 16])
            self.cell = p.choice("cell", ["LSTM", "GRU"])
            self.xshape = (self.T, self.F)
        elif arch == "text":
            self.L = p.randint("seq_len", 8, 30)
            self.V = p.choice("vocab", [50, 100, 300])
            self.d = p.choice("embed_dim", [8, 16])
            self.xshape = (self.L,)
        self.print_model = p.flag("print_model", 0.5)
        self.loop = p.choice("loop", ["loader", "loader", "full_batch", "manual"])

    # --- pieces ---------------------------------------------------------------------------------
    def x_line(self, var: str = "X", n: int | None = None, xshape: tuple | None = None, dtype: str = "") -> str:
        n = self.N if n is None else n
        xs = tuple(self.xshape if xshape is None else xshape)
        if self.arch == "text":
            return f"{var} = torch.randint(0, {self.V}, {(n,) + xs})"
        return f"{var} = torch.randn({', '.join(str(d) for d in (n,) + xs)})"

    def y_line(self, var: str = "y", n: int | None = None) -> str:
        n = self.N if n is None else n
        return f"{var} = torch.randint(0, {self.C}, ({n},))"

    def flat(self) -> int:
        return self.f * ((self.H - 2) // 2) * ((self.W - 2) // 2)

    def init_forward(self) -> tuple[list[str], list[str]]:
        """(__init__ body, forward body) of the correct model."""
        a = self.arch
        if a == "mlp":
            return ([f"self.fc1 = nn.Linear({self.F}, {self.h})", f"self.fc2 = nn.Linear({self.h}, {self.C})"],
                    ["x = torch.relu(self.fc1(x))", "return self.fc2(x)"])
        if a == "cnn":
            return ([f"self.conv = nn.Conv2d({self.Ch}, {self.f}, 3)", "self.pool = nn.MaxPool2d(2)",
                     f"self.fc = nn.Linear({self.flat()}, {self.C})"],
                    ["x = self.pool(torch.relu(self.conv(x)))", "x = torch.flatten(x, 1)", "return self.fc(x)"])
        if a == "cnn1d":
            return ([f"self.conv = nn.Conv1d({self.F}, 8, 3)", "self.pool = nn.AdaptiveMaxPool1d(1)",
                     f"self.fc = nn.Linear(8, {self.C})"],
                    ["x = self.pool(torch.relu(self.conv(x)))", "return self.fc(x.squeeze(-1))"])
        if a == "rnn":
            return ([f"self.rnn = nn.{self.cell}({self.F}, {self.u}, batch_first=True)",
                     f"self.fc = nn.Linear({self.u}, {self.C})"],
                    ["out, _ = self.rnn(x)", "return self.fc(out[:, -1])"])
        if a == "text":
            return ([f"self.emb = nn.Embedding({self.V}, {self.d})", f"self.rnn = nn.GRU({self.d}, 16, batch_first=True)",
                     f"self.fc = nn.Linear(16, {self.C})"],
                    ["e = self.emb(x)", "out, _ = self.rnn(e)", "return self.fc(out[:, -1])"])
        raise ValueError(a)

    def model_def(self, init: list[str] | None = None, fwd: list[str] | None = None) -> list[str]:
        i0, f0 = self.init_forward()
        init, fwd = init or i0, fwd or f0
        return ([f"class {self.cls}(nn.Module):", "    def __init__(self):", "        super().__init__()"] +
                ["        " + l for l in init] + ["", "    def forward(self, x):"] + ["        " + l for l in fwd] +
                ["", "", f"model = {self.cls}()"] + (["print(model)"] if self.print_model else []))

    def loop_lines(self, X: str = "X", y: str = "y", loss: str = "loss_fn(model(xb), yb)") -> list[str]:
        head = ["loss_fn = nn.CrossEntropyLoss()" if "loss_fn" in loss else "",
                "opt = torch.optim.SGD(model.parameters(), lr=0.05)", ""]
        head = [h for h in head if h or h == ""]
        if self.loop == "loader":
            body = [f"loader = DataLoader(TensorDataset({X}, {y}), batch_size={self.B}, shuffle=True)",
                    "for epoch in range(1):", "    for xb, yb in loader:", "        opt.zero_grad()",
                    f"        loss = {loss}", "        loss.backward()", "        opt.step()"]
        elif self.loop == "full_batch":
            body = [f"xb, yb = {X}, {y}", "opt.zero_grad()", f"loss = {loss}", "loss.backward()", "opt.step()"]
        else:
            body = [f"for i in range(0, len({X}), {self.B}):", f"    xb, yb = {X}[i:i + {self.B}], {y}[i:i + {self.B}]",
                    "    opt.zero_grad()", f"    loss = {loss}", "    loss.backward()", "    opt.step()"]
        return head + body + ['print("final loss", loss.item())']


def hdr(loader: bool = True, numpy: bool = False) -> list[str]:
    lines = (["import numpy as np"] if numpy else []) + ["import torch", "import torch.nn as nn"]
    if loader:
        lines.append("from torch.utils.data import DataLoader, TensorDataset")
    return lines + ["", "torch.manual_seed(0)"]


def join(*blocks: list[str]) -> str:
    out: list[str] = []
    for b in blocks:
        if b:
            out += b + [""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def std(t: T, data: list[str] | None = None, init: list[str] | None = None, fwd: list[str] | None = None,
        loop: list[str] | None = None, numpy: bool = False, extra: list[str] | None = None) -> str:
    return join(hdr(numpy=numpy), data if data is not None else [t.x_line(), t.y_line()],
                t.model_def(init, fwd), loop if loop is not None else t.loop_lines(), extra or [])


ALL = ["mlp", "cnn", "cnn1d", "rnn", "text"]

# ============================== data_preprocessing ==============================================


@kind("pt_float64_input", "data_preprocessing", ["mlp", "cnn", "rnn", "cnn1d"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    xs = ", ".join(str(d) for d in (t.N,) + t.xshape)
    data = [f"x_np = np.random.rand({xs})   # float64 from numpy", "X = torch.from_numpy(x_np)" + ("" if fault else ".float()"), t.y_line()]
    return std(t, data=data, numpy=True), "cast the numpy data to float32: X = torch.from_numpy(x_np).float()", "float64 numpy data into a float32 model"


@kind("pt_channels_last_input", "data_preprocessing", ["cnn"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    if t.Ch == 1:
        t.Ch = p.set("channels", 3)
        t.xshape = (3, t.H, t.W)
    data = [f"X = torch.rand({t.N}, {t.H}, {t.W}, {t.Ch})   # decoded images are HWC",
            "" if fault else "X = X.permute(0, 3, 1, 2)", t.y_line()]
    return std(t, data=[d for d in data if d]), "permute to channels-first: X = X.permute(0, 3, 1, 2)", "channels-last images into Conv2d"


@kind("pt_missing_channel_axis", "data_preprocessing", ["cnn"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    t.Ch, t.xshape = 1, (1, t.H, t.W)
    p.set("channels", 1)
    data = [f"X = torch.rand({t.N}, {t.H}, {t.W})   # grayscale", "" if fault else "X = X.unsqueeze(1)", t.y_line()]
    return std(t, data=[d for d in data if d]), f"add the channel axis: X = X.unsqueeze(1) -> ({t.N}, 1, {t.H}, {t.W})", \
        "grayscale batch without channel axis"


@kind("pt_single_sample_no_batch", "data_preprocessing", ["cnn", "mlp", "rnn"], "predict", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    i = p.randint("index", 0, 5)
    if p.arch == "mlp":
        init = [f"self.fc1 = nn.Linear({t.F}, {t.h})", f"self.bn = nn.BatchNorm1d({t.h})", f"self.fc2 = nn.Linear({t.h}, {t.C})"]
        fwd = ["x = torch.relu(self.bn(self.fc1(x)))", "return self.fc2(x)"]
    else:
        init = fwd = None
    sample = f"X[{i}]" if fault else f"X[{i}].unsqueeze(0)"
    extra = ["model.eval()", "with torch.no_grad():", f"    pred = model({sample}).argmax(1)", "print(pred)"]
    return std(t, init=init, fwd=fwd, extra=extra), f"keep a batch axis for one sample: model(X[{i}].unsqueeze(0))", \
        "one sample without batch axis at inference"


@kind("pt_embedding_float_ids", "data_preprocessing", ["text"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "text")
    data = [f"ids = np.random.randint(0, {t.V}, size=({t.N}, {t.L}))", "X = torch.tensor(ids" + (", dtype=torch.float32)" if fault else ")"), t.y_line()]
    return std(t, data=data, numpy=True), "keep token ids integer: X = torch.tensor(ids) (int64), not float32", "token ids converted to float"


# fourth generation: rnn and cnn1d added (the kind existed on mlp and cnn only)
@kind("pt_numpy_into_model", "data_preprocessing", ["mlp", "cnn", "rnn", "cnn1d"], "forward", n=2, expect=("AttributeError", "TypeError"))
def _(p: P, fault: bool):
    t = T(p, p.arch)
    xs = ", ".join(str(d) for d in (t.N,) + t.xshape)
    data = [f'x_np = np.random.rand({xs}).astype("float32")', f"X = {'x_np' if fault else 'torch.from_numpy(x_np)'}",
            t.y_line()]
    t.loop = "full_batch"
    p.set("loop", "full_batch")
    return std(t, data=data, numpy=True), "convert the array to a tensor first: X = torch.from_numpy(x_np)", "numpy array passed to the model"


@kind("pt_wrong_feature_count", "data_preprocessing", ["mlp"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    F2 = t.F + p.choice("extra", [1, 2, -1, -2])
    data = [t.x_line(xshape=(F2 if fault else t.F,)) + ("   # the id column was not dropped" if fault and F2 > t.F else ""), t.y_line()]
    return std(t, data=data), f"feed the {t.F} feature columns the model was built for (the data has {F2})", f"{F2} columns into nn.Linear({t.F}, ...)"


@kind("pt_rnn_time_feature_swapped", "data_preprocessing", ["rnn"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "rnn")
    if t.T == t.F:
        t.T += 1
        t.xshape = (t.T, t.F)
    data = [f"X = torch.randn({t.N}, {t.F}, {t.T})   # (samples, features, steps)", "" if fault else "X = X.transpose(1, 2)", t.y_line()]
    return std(t, data=[d for d in data if d]), f"transpose to (batch, steps, features): X = X.transpose(1, 2) -> ({t.N}, {t.T}, {t.F})", \
        "features and time axes swapped for a batch_first RNN"


@kind("pt_conv1d_channels_last_signal", "data_preprocessing", ["cnn1d"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "cnn1d")
    if t.F == 1:
        t.F = p.set("features", 3)
        t.xshape = (3, t.T)
    data = [f"X = torch.randn({t.N}, {t.T}, {t.F})   # (samples, steps, sensors)", "" if fault else "X = X.permute(0, 2, 1)", t.y_line()]
    return std(t, data=[d for d in data if d]), f"put channels before length for Conv1d: X = X.permute(0, 2, 1) -> ({t.N}, {t.F}, {t.T})", \
        "signals stored (steps, channels) into Conv1d"


@kind("pt_int_features", "data_preprocessing", ["mlp"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    data = [f"X = torch.randint(0, 10, ({t.N}, {t.F}))" + ("   # integer counts" if fault else ".float()"), t.y_line()]
    return std(t, data=data), "convert the integer features to float: X = X.float()", "int64 features into nn.Linear"


@kind("pt_image_not_resized", "data_preprocessing", ["cnn"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    H2, W2 = p.choice("raw_hw", [hw for hw in IMG if hw != (t.H, t.W)])
    data = [t.x_line(xshape=(t.Ch, H2, W2) if fault else t.xshape), t.y_line()]
    return std(t, data=data), f"resize the images to {t.H}x{t.W} (F.interpolate(X, size=({t.H}, {t.W}))) - they are {H2}x{W2}", \
        f"{H2}x{W2} images into a CNN whose Linear expects {t.H}x{t.W}"


# ============================== layer_definition ================================================


@kind("pt_linear_in_features_wrong", "layer_definition", ["cnn"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    bad = p.choice("bad_in", [t.f * (t.H // 2) * (t.W // 2), t.f * t.H * t.W, t.flat() // t.f])
    init = [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, 3)", "self.pool = nn.MaxPool2d(2)",
            f"self.fc = nn.Linear({bad if fault else t.flat()}, {t.C})"]
    return std(t, init=init), f"set in_features to the flattened conv output: nn.Linear({t.flat()}, {t.C}) ({t.f}x{(t.H - 2) // 2}x{(t.W - 2) // 2})", \
        f"Linear in_features {bad} instead of {t.flat()}"


@kind("pt_conv_in_channels_wrong", "layer_definition", ["cnn"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    f2 = p.choice("second_filters", [8, 16])
    bad = p.choice("bad_in_ch", [t.Ch, t.f * 2, f2])
    if bad == t.f:
        bad = t.f + 1
    h2, w2 = (t.H - 2) // 2 - 2, (t.W - 2) // 2 - 2
    init = [f"self.conv1 = nn.Conv2d({t.Ch}, {t.f}, 3)", f"self.conv2 = nn.Conv2d({bad if fault else t.f}, {f2}, 3)",
            "self.pool = nn.MaxPool2d(2)", f"self.fc = nn.Linear({f2 * h2 * w2}, {t.C})"]
    fwd = ["x = self.pool(torch.relu(self.conv1(x)))", "x = torch.relu(self.conv2(x))", "x = x.flatten(1)", "return self.fc(x)"]
    return std(t, init=init, fwd=fwd), f"set the second conv's in_channels to the first conv's {t.f} out_channels: nn.Conv2d({t.f}, {f2}, 3)", \
        f"Conv2d in_channels {bad} after a conv with {t.f} outputs"


@kind("pt_view_hardcoded_batch", "layer_definition", ["cnn", "mlp"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.loop = "loader"
    p.set("loop", "loader")
    t.B = p.choice("batch_size", [8, 16])
    t.N = t.B * 2 + p.choice("remainder", [3, 4, 5])
    p.set("n_samples", t.N)
    if p.arch == "cnn":
        i0, f0 = t.init_forward()
        fwd = ["x = self.pool(torch.relu(self.conv(x)))", f"x = x.view({t.B}, -1)" if fault else "x = x.view(x.size(0), -1)", "return self.fc(x)"]
    else:
        fwd = [f"x = x.view({t.B}, {t.F})" if fault else f"x = x.view(-1, {t.F})", "x = torch.relu(self.fc1(x))", "return self.fc2(x)"]
    return std(t, fwd=fwd), "don't hard-code the batch size: x = x.view(x.size(0), -1)", \
        f"view() hard-codes batch {t.B}; the last batch has {t.N % t.B}"


@kind("pt_pool_stack_too_deep", "layer_definition", ["cnn"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    k = p.randint("stages", 5, 6) if fault else 2
    init = [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, 3, padding=1)", "self.pool = nn.MaxPool2d(2)", f"self.head = nn.LazyLinear({t.C})"]
    fwd = ["x = torch.relu(self.conv(x))", f"for _ in range({k}):", "    x = self.pool(x)", "return self.head(x.flatten(1))"]
    return std(t, init=init, fwd=fwd), f"use at most {2 if min(t.H, t.W) < 20 else 3} pooling stages for {t.H}x{t.W} inputs, or nn.AdaptiveAvgPool2d", \
        f"{k} MaxPool2d(2) stages on a {t.H}x{t.W} input"


@kind("pt_conv_kernel_too_big", "layer_definition", ["cnn", "cnn1d"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    if p.arch == "cnn":
        t.H, t.W = p.choice("small_hw", [(5, 5), (6, 8), (7, 7)])
        t.xshape = (t.Ch, t.H, t.W)
        k = max(t.H, t.W) + 1
        init = [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, {k if fault else 3})", f"self.head = nn.LazyLinear({t.C})"]
        fwd = ["x = torch.relu(self.conv(x))", "return self.head(x.flatten(1))"]
        fix = f"use a kernel that fits the {t.H}x{t.W} input (kernel_size=3) or pad it"
    else:
        t.T = p.choice("short", [5, 8])
        t.xshape = (t.F, t.T)
        k = t.T + 2
        init = [f"self.conv = nn.Conv1d({t.F}, 8, {k if fault else 3})", f"self.head = nn.LazyLinear({t.C})"]
        fwd = ["x = torch.relu(self.conv(x))", "return self.head(x.flatten(1))"]
        fix = f"use a kernel shorter than the {t.T}-step signal (kernel_size=3) or padding"
    return std(t, init=init, fwd=fwd), fix, f"kernel_size {k} larger than the input"


@kind("pt_missing_flatten", "layer_definition", ["cnn"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    seq = ["model = nn.Sequential(", f"    nn.Conv2d({t.Ch}, {t.f}, 3),", "    nn.ReLU(),", "    nn.MaxPool2d(2),"] + \
        ([] if fault else ["    nn.Flatten(),"]) + [f"    nn.Linear({t.flat()}, {t.C}),", ")"] + (["print(model)"] if t.print_model else [])
    s = join(hdr(), [t.x_line(), t.y_line()], seq, t.loop_lines())
    return s, f"flatten before the classifier: add nn.Flatten() before nn.Linear({t.flat()}, {t.C})", "no nn.Flatten between conv and Linear"


@kind("pt_embedding_vocab_too_small", "layer_definition", ["text"], "forward", n=4, expect=("IndexError",))
def _(p: P, fault: bool):
    t = T(p, "text")
    small = p.choice("num_embeddings", [10, 20, 40])
    init = [f"self.emb = nn.Embedding({small if fault else t.V}, {t.d})", f"self.rnn = nn.GRU({t.d}, 16, batch_first=True)", f"self.fc = nn.Linear(16, {t.C})"]
    return std(t, init=init), f"size the Embedding for the vocabulary: nn.Embedding({t.V}, {t.d}) (max id + 1)", \
        f"nn.Embedding({small}) for ids up to {t.V - 1}"


@kind("pt_rnn_input_size_wrong", "layer_definition", ["rnn", "text"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    if p.arch == "rnn":
        bad = t.F + p.choice("off", [1, 2, 3])
        init = [f"self.rnn = nn.{t.cell}({bad if fault else t.F}, {t.u}, batch_first=True)", f"self.fc = nn.Linear({t.u}, {t.C})"]
        fix = f"set input_size to the {t.F} features: nn.{t.cell}({t.F}, {t.u}, batch_first=True)"
    else:
        bad = t.d * 2
        init = [f"self.emb = nn.Embedding({t.V}, {t.d})", f"self.rnn = nn.GRU({bad if fault else t.d}, 16, batch_first=True)", f"self.fc = nn.Linear(16, {t.C})"]
        fix = f"set the GRU input_size to the embedding dim {t.d}"
    return std(t, init=init), fix, f"RNN input_size {bad} does not match its input"


@kind("pt_flatten_start_dim_zero", "layer_definition", ["cnn"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    i0, _ = t.init_forward()
    fwd = ["x = self.pool(torch.relu(self.conv(x)))", "x = torch.flatten(x)" if fault else "x = torch.flatten(x, 1)", "return self.fc(x)"]
    return std(t, fwd=fwd), "flatten from dim 1 to keep the batch axis: torch.flatten(x, 1)", "torch.flatten(x) also flattens the batch axis"


@kind("pt_hidden_linear_mismatch", "layer_definition", ["mlp"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    h2 = p.choice("h2", [8, 12, 24])
    bad = h2 + p.choice("off", [-4, 4, 8])
    init = [f"self.fc1 = nn.Linear({t.F}, {t.h})", f"self.fc2 = nn.Linear({t.h}, {h2})", f"self.fc3 = nn.Linear({bad if fault else h2}, {t.C})"]
    fwd = ["x = torch.relu(self.fc1(x))", "x = torch.relu(self.fc2(x))", "return self.fc3(x)"]
    return std(t, init=init, fwd=fwd), f"make fc3's in_features equal fc2's {h2} outputs: nn.Linear({h2}, {t.C})", \
        f"nn.Linear({bad}, ...) after a layer with {h2} outputs"


@kind("pt_batchnorm_features_wrong", "layer_definition", ["mlp", "cnn"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    if p.arch == "mlp":
        bad = t.h // 2
        init = [f"self.fc1 = nn.Linear({t.F}, {t.h})", f"self.bn = nn.BatchNorm1d({bad if fault else t.h})", f"self.fc2 = nn.Linear({t.h}, {t.C})"]
        fwd = ["x = torch.relu(self.bn(self.fc1(x)))", "return self.fc2(x)"]
        fix = f"normalise the {t.h} features of fc1: nn.BatchNorm1d({t.h})"
    else:
        bad = t.Ch
        if bad == t.f:
            bad = t.f * 2
        init = [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, 3)", f"self.bn = nn.BatchNorm2d({bad if fault else t.f})", "self.pool = nn.MaxPool2d(2)",
                f"self.fc = nn.Linear({t.flat()}, {t.C})"]
        fwd = ["x = self.pool(torch.relu(self.bn(self.conv(x))))", "x = torch.flatten(x, 1)", "return self.fc(x)"]
        fix = f"BatchNorm2d must match the conv's {t.f} output channels: nn.BatchNorm2d({t.f})"
    return std(t, init=init, fwd=fwd), fix, f"BatchNorm num_features {bad} wrong"


# ============================== input_pipeline ==================================================


@kind("pt_batchnorm_batch_of_one", "input_pipeline", ["mlp"], "forward", n=4)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    t.B = p.choice("batch_size", [8, 16])
    t.N = t.B * p.randint("full_batches", 2, 3) + 1
    p.set("n_samples", t.N)
    t.loop = "loader"
    p.set("loop", "loader")
    init = [f"self.fc1 = nn.Linear({t.F}, {t.h})", f"self.bn = nn.BatchNorm1d({t.h})", f"self.fc2 = nn.Linear({t.h}, {t.C})"]
    fwd = ["x = torch.relu(self.bn(self.fc1(x)))", "return self.fc2(x)"]
    s = std(t, init=init, fwd=fwd)
    if not fault:
        s = s.replace("shuffle=True)", "shuffle=True, drop_last=True)")
    return s, "avoid a final batch of one: DataLoader(..., drop_last=True)", f"{t.N} samples in batches of {t.B} leave a last batch of 1 for BatchNorm1d"


@kind("pt_collate_variable_length", "input_pipeline", ["text", "rnn"], "collate", n=4)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.loop = "loader"
    if p.arch == "text":
        item = f"torch.randint(1, {t.V}, (int(n),))"
    else:
        item = f"torch.randn(int(n), {t.F})"
    ds = ["from torch.nn.utils.rnn import pad_sequence", "", "class Sequences(torch.utils.data.Dataset):",
          "    def __init__(self, n):", f"        self.lengths = torch.randint(3, {t.xshape[0] + 1}, (n,))",
          f"        self.labels = torch.randint(0, {t.C}, (n,))", "", "    def __len__(self):", "        return len(self.labels)", "",
          "    def __getitem__(self, i):", "        n = self.lengths[i]", f"        return {item}, self.labels[i]", "", "",
          "def pad_collate(batch):", "    xs, ys = zip(*batch)", "    return pad_sequence(xs, batch_first=True), torch.stack(ys)"]
    coll = "" if fault else ", collate_fn=pad_collate"
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.Adam(model.parameters(), lr=1e-3)", "",
            f"loader = DataLoader(Sequences({t.N}), batch_size={t.B}, shuffle=True{coll})",
            "for xb, yb in loader:", "    opt.zero_grad()", "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()",
            'print("final loss", loss.item())']
    s = join(hdr(), ds, t.model_def(), loop)
    return s, "pad each batch: DataLoader(..., collate_fn=pad_collate) with pad_sequence(xs, batch_first=True)", \
        "variable-length items with the default collate"


@kind("pt_tensordataset_size_mismatch", "input_pipeline", ["mlp", "cnn", "text"], "collate", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.loop = "loader"
    p.set("loop", "loader")
    k = p.choice("dropped", [1, 4, 6])
    data = [t.x_line(), t.y_line(), f"y = y[{k}:]   # labels file has a header block" if fault else f"X, y = X[{k}:], y[{k}:]"]
    return std(t, data=data), f"drop the same {k} rows from X and y so both have {t.N - k} samples", "TensorDataset with different sample counts"


@kind("pt_getitem_wrong_structure", "input_pipeline", ["mlp", "cnn"], "collate", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    ret = "return self.x[i], self.y[i], i   # index kept for debugging" if fault else "return self.x[i], self.y[i]"
    ds = ["class Samples(torch.utils.data.Dataset):", "    def __init__(self, x, y):", "        self.x, self.y = x, y", "",
          "    def __len__(self):", "        return len(self.x)", "", "    def __getitem__(self, i):", "        " + ret]
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.SGD(model.parameters(), lr=0.05)", "",
            f"loader = DataLoader(Samples(X, y), batch_size={t.B})", "for xb, yb in loader:", "    opt.zero_grad()",
            "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    s = join(hdr(), [t.x_line(), t.y_line()], ds, t.model_def(), loop)
    return s, "return exactly (input, label) from __getitem__ (or unpack three values in the loop)", "Dataset item has three fields, loop unpacks two"


@kind("pt_dataloader_batch_size_none", "input_pipeline", ["mlp"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    init = [f"self.fc1 = nn.Linear({t.F}, {t.h})", f"self.bn = nn.BatchNorm1d({t.h})", f"self.fc2 = nn.Linear({t.h}, {t.C})"]
    fwd = ["x = torch.relu(self.bn(self.fc1(x)))", "return self.fc2(x)"]
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.SGD(model.parameters(), lr=0.05)", "",
            f"loader = DataLoader(TensorDataset(X, y), batch_size={'None' if fault else t.B})", "for xb, yb in loader:",
            "    opt.zero_grad()", "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    return std(t, init=init, fwd=fwd, loop=loop), f"give the DataLoader a batch size: DataLoader(ds, batch_size={t.B})", \
        "DataLoader(batch_size=None) yields single unbatched samples"


# fourth generation: mlp and rnn added (T(p, p.arch) is T(p, "cnn") for the cnn cases, same draws)
@kind("pt_collate_cat_instead_of_stack", "input_pipeline", ["cnn", "mlp", "rnn"], "collate", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    op = "torch.cat" if fault else "torch.stack"
    ds = ["def collate(batch):", "    xs, ys = zip(*batch)", f"    return {op}(xs), torch.stack(ys)"]
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.SGD(model.parameters(), lr=0.05)", "",
            f"loader = DataLoader(TensorDataset(X, y), batch_size={t.B}, collate_fn=collate)", "for xb, yb in loader:",
            "    opt.zero_grad()", "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    s = join(hdr(), [t.x_line(), t.y_line()], ds, t.model_def(), loop)
    what = {"cnn": "images along channels", "mlp": "feature rows into one long vector", "rnn": "sequences along the time axis"}[p.arch]
    return s, "stack the samples into a new batch axis: torch.stack(xs), not torch.cat(xs)", f"custom collate concatenates {what}"


@kind("pt_dataset_len_too_long", "input_pipeline", ["mlp", "rnn"], "getitem", n=2, expect=("IndexError",))
def _(p: P, fault: bool):
    t = T(p, p.arch)
    ln = "len(self.x) + 1   # counts the header row" if fault else "len(self.x)"
    ds = ["class Rows(torch.utils.data.Dataset):", "    def __init__(self, x, y):", "        self.x, self.y = x, y", "",
          "    def __len__(self):", f"        return {ln}", "", "    def __getitem__(self, i):", "        return self.x[i], self.y[i]"]
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.SGD(model.parameters(), lr=0.05)", "",
            f"loader = DataLoader(Rows(X, y), batch_size={t.B}, shuffle=True)", "for xb, yb in loader:", "    opt.zero_grad()",
            "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    s = join(hdr(), [t.x_line(), t.y_line()], ds, t.model_def(), loop)
    return s, "return the real number of samples from __len__: len(self.x)", "Dataset.__len__ one larger than the data"


@kind("pt_getitem_image_no_channel", "data_preprocessing", ["cnn"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    t.Ch, t.xshape = 1, (1, t.H, t.W)
    p.set("channels", 1)
    ret = "return img, self.y[i]" if fault else "return img.unsqueeze(0), self.y[i]"
    ds = ["class Images(torch.utils.data.Dataset):", "    def __init__(self, imgs, y):", "        self.imgs, self.y = imgs, y", "",
          "    def __len__(self):", "        return len(self.imgs)", "", "    def __getitem__(self, i):",
          "        img = self.imgs[i].float() / 255.0", "        " + ret]
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.SGD(model.parameters(), lr=0.05)", "",
            f"loader = DataLoader(Images(imgs, y), batch_size={t.B}, shuffle=True)", "for xb, yb in loader:", "    opt.zero_grad()",
            "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    s = join(hdr(), [f"imgs = torch.randint(0, 256, ({t.N}, {t.H}, {t.W}), dtype=torch.uint8)", t.y_line()], ds, t.model_def(), loop)
    return s, "return the image with its channel axis from __getitem__: img.unsqueeze(0) -> (1, H, W)", \
        "Dataset returns grayscale images without channel axis"


# ============================== layer_combination ================================================


@kind("pt_embedding_after_linear", "layer_combination", ["mlp"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    init = [f"self.fc1 = nn.Linear({t.F}, {t.h})", f"self.emb = nn.Embedding(100, {t.h})", f"self.fc2 = nn.Linear({t.h}, {t.C})"]
    fwd = (["x = self.fc1(x)", "x = self.emb(x)", "return self.fc2(x.mean(1))"] if fault else
           ["x = torch.relu(self.fc1(x))", "return self.fc2(x)"])
    return std(t, init=init, fwd=fwd), "Embedding takes integer ids: apply it to token ids, not to a Linear layer's float output (drop it here)", \
        "nn.Embedding applied to a Linear output"


@kind("pt_rnn_on_conv_map", "layer_combination", ["cnn"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    hw = ((t.H - 2) // 2)
    init = [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, 3)", "self.pool = nn.MaxPool2d(2)",
            f"self.rnn = nn.LSTM({t.f * ((t.W - 2) // 2)}, 16, batch_first=True)", f"self.fc = nn.Linear(16, {t.C})"]
    fwd = ["x = self.pool(torch.relu(self.conv(x)))"] + ([] if fault else ["x = x.permute(0, 2, 1, 3).flatten(2)   # (batch, rows, ch*cols)"]) + \
        ["out, _ = self.rnn(x)", "return self.fc(out[:, -1])"]
    return std(t, init=init, fwd=fwd), f"turn the conv map into a sequence first: x.permute(0, 2, 1, 3).flatten(2) -> (batch, {hw}, {t.f * ((t.W - 2) // 2)})", \
        "LSTM fed a 4-D conv feature map"


@kind("pt_maxpool2d_after_flatten", "layer_combination", ["cnn"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    fwd = (["x = torch.relu(self.conv(x))", "x = torch.flatten(x, 1)", "x = self.pool(x)", "return self.fc(x)"] if fault else None)
    init = None if not fault else [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, 3)", "self.pool = nn.MaxPool2d(2)", f"self.fc = nn.LazyLinear({t.C})"]
    return std(t, init=init, fwd=fwd), "pool the 4-D feature map before flattening: x = self.pool(x) then torch.flatten(x, 1)", \
        "MaxPool2d after flatten"


@kind("pt_cat_skip_size", "layer_combination", ["cnn"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    pad = "" if fault else ", padding=1"
    init = [f"self.a = nn.Conv2d({t.Ch}, {t.f}, 3, padding=1)", f"self.b = nn.Conv2d({t.f}, {t.f}, 3{pad})",
            "self.pool = nn.AdaptiveAvgPool2d(1)", f"self.fc = nn.Linear({2 * t.f}, {t.C})"]
    fwd = ["skip = torch.relu(self.a(x))", "x = torch.relu(self.b(skip))", "x = torch.cat([x, skip], dim=1)", "return self.fc(self.pool(x).flatten(1))"]
    return std(t, init=init, fwd=fwd), "keep the spatial size for the skip connection: padding=1 in self.b (or crop skip)", \
        "torch.cat of a skip connection and an unpadded conv output"


@kind("pt_conv1d_after_embedding", "layer_combination", ["text"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "text")
    init = [f"self.emb = nn.Embedding({t.V}, {t.d})", f"self.conv = nn.Conv1d({t.d}, 16, 3)", "self.pool = nn.AdaptiveMaxPool1d(1)", f"self.fc = nn.Linear(16, {t.C})"]
    fwd = ["e = self.emb(x)" + ("" if fault else ".transpose(1, 2)   # (batch, dim, len)"), "h = torch.relu(self.conv(e))", "return self.fc(self.pool(h).squeeze(-1))"]
    return std(t, init=init, fwd=fwd), f"transpose the embeddings to (batch, {t.d}, length) for Conv1d: e = self.emb(x).transpose(1, 2)", \
        "Conv1d applied to (batch, length, dim) embeddings"


@kind("pt_batchnorm1d_on_rnn_output", "layer_combination", ["rnn"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "rnn")
    init = [f"self.rnn = nn.{t.cell}({t.F}, {t.u}, batch_first=True)", f"self.bn = nn.BatchNorm1d({t.u})", f"self.fc = nn.Linear({t.u}, {t.C})"]
    fwd = ["out, _ = self.rnn(x)", "out = self.bn(out)" if fault else "out = self.bn(out.transpose(1, 2)).transpose(1, 2)", "return self.fc(out[:, -1])"]
    return std(t, init=init, fwd=fwd), f"BatchNorm1d wants (batch, {t.u}, steps): transpose the RNN output before and after it", \
        "BatchNorm1d on a (batch, steps, units) RNN output"


@kind("pt_linear_on_rnn_tuple", "layer_combination", ["rnn", "text"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    i0, f0 = t.init_forward()
    if p.arch == "rnn":
        fwd = ["out = self.rnn(x)" if fault else "out, _ = self.rnn(x)", "return self.fc(out[:, -1])"]
    else:
        fwd = ["e = self.emb(x)", "out = self.rnn(e)" if fault else "out, _ = self.rnn(e)", "return self.fc(out[:, -1])"]
    return std(t, fwd=fwd), "unpack the RNN's (output, hidden) tuple: out, _ = self.rnn(x)", "RNN output tuple indexed as a tensor"


@kind("pt_conv2d_after_linear", "layer_combination", ["mlp"], "forward", n=2)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    init = [f"self.fc1 = nn.Linear({t.F}, 64)", "self.conv = nn.Conv2d(1, 4, 3)", f"self.fc2 = nn.Linear(4 * 6 * 6, {t.C})"]
    fwd = ["x = torch.relu(self.fc1(x))", "x = self.conv(x)" if fault else "x = self.conv(x.view(-1, 1, 8, 8))", "return self.fc2(x.flatten(1))"]
    return std(t, init=init, fwd=fwd), "reshape the Linear output to an image before Conv2d: x.view(-1, 1, 8, 8)", "Conv2d fed a 2-D Linear output"


# A residual branch whose layer has another width than its skip connection is the layer's width, as the Keras kind
# ld_residual_dense_units and the keras-merge-shapes family have it (branches of different spatial size are
# layer_combination): one label for one fault in every framework.
@kind("pt_residual_width_mismatch", "layer_definition", ["mlp"], "forward", n=3)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    w = p.choice("block_width", [8, 24])
    init = [f"self.inp = nn.Linear({t.F}, {t.h})", f"self.block = nn.Linear({t.h}, {w if fault else t.h})", f"self.out = nn.Linear({t.h}, {t.C})"]
    fwd = ["x = torch.relu(self.inp(x))", "x = x + torch.relu(self.block(x))", "return self.out(x)"]
    return std(t, init=init, fwd=fwd), f"the residual branch must keep the width: nn.Linear({t.h}, {t.h})", \
        f"residual add of widths {t.h} and {w}"


# ============================== loss_label_mismatch ==============================================


@kind("pt_ce_float_targets", "loss_label_mismatch", ALL, "loss", n=1)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    data = [t.x_line(), t.y_line() + (".float()   # labels read from a float CSV column" if fault else "")]
    return std(t, data=data), "cast class-index targets to int64: y = y.long()", "float class indices as CrossEntropy targets"


@kind("pt_ce_out_of_range", "loss_label_mismatch", ALL, "loss", n=1, expect=("IndexError",))
def _(p: P, fault: bool):
    t = T(p, p.arch)
    C2 = t.C + p.randint("more", 1, 3)
    data = [t.x_line(), f"y = torch.randint(0, {C2 if fault else t.C}, ({t.N},))"]
    return std(t, data=data), f"give the classifier one output per class: {C2} outputs for labels 0..{C2 - 1}", \
        f"labels up to {C2 - 1} for a {t.C}-way classifier"


@kind("pt_ce_onehot_long", "loss_label_mismatch", ["mlp", "cnn", "rnn"], "loss", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    data = [t.x_line(), t.y_line()] + ([f"y = nn.functional.one_hot(y, {t.C})"] if fault else [])
    return std(t, data=data), "pass class indices (y of shape (N,), int64), or float probabilities: y.float() for one-hot", \
        "one-hot int64 targets for CrossEntropyLoss"


@kind("pt_ce_sequence_class_axis", "loss_label_mismatch", ["text", "rnn"], "loss", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    steps = t.L if p.arch == "text" else t.T
    if p.arch == "text":
        fwd = ["e = self.emb(x)", "out, _ = self.rnn(e)", "return self.fc(out)   # (batch, steps, classes)"]
    else:
        fwd = ["out, _ = self.rnn(x)", "return self.fc(out)   # (batch, steps, classes)"]
    data = [t.x_line(), f"y = torch.randint(0, {t.C}, ({t.N}, {steps}))   # one tag per step"]
    loss = "loss_fn(model(xb).permute(0, 2, 1), yb)" if not fault else "loss_fn(model(xb), yb)"
    return std(t, data=data, fwd=fwd, loop=t.loop_lines(loss=loss)), "move the class axis to dim 1 for per-token loss: loss_fn(logits.permute(0, 2, 1), target)", \
        "per-step logits (batch, steps, classes) passed to CrossEntropyLoss without permuting"


@kind("pt_bce_size_mismatch", "loss_label_mismatch", ["mlp", "cnn1d"], "loss", n=3)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.C = 1
    p.set("classes", 1)
    data = [t.x_line(), f"y = torch.randint(0, 2, ({t.N},)).float()"]
    loss = "loss_fn(model(xb), yb)" if fault else "loss_fn(model(xb).squeeze(1), yb)"
    s = std(t, data=data, loop=t.loop_lines(loss=loss)).replace("nn.CrossEntropyLoss()", "nn.BCEWithLogitsLoss()")
    return s, "match the target to the output shape: loss_fn(model(xb).squeeze(1), yb) (or yb.unsqueeze(1))", "BCE target (N,) vs output (N, 1)"


@kind("pt_bce_integer_targets", "loss_label_mismatch", ["mlp"], "loss", n=2)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    t.C = 1
    p.set("classes", 1)
    data = [t.x_line(), f"y = torch.randint(0, 2, ({t.N}, 1))" + ("" if fault else ".float()")]
    s = std(t, data=data).replace("nn.CrossEntropyLoss()", "nn.BCEWithLogitsLoss()")
    return s, "BCEWithLogitsLoss needs float targets: y = y.float()", "int64 targets for BCEWithLogitsLoss"


@kind("pt_ce_target_column", "loss_label_mismatch", ["mlp", "cnn", "rnn"], "loss", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    data = [t.x_line(), f"y = torch.randint(0, {t.C}, ({t.N}, 1))" + ("   # labels kept as a column" if fault else ".squeeze(1)")]
    return std(t, data=data), "targets must be 1-D class indices: y = y.squeeze(1)", "CrossEntropy targets of shape (N, 1)"


@kind("pt_mse_target_broadcast", "loss_label_mismatch", ["mlp"], "loss", n=1)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    t.C = 1
    p.set("classes", 1)
    data = [t.x_line(), f"y = torch.randn({t.N})" + ("" if fault else ".unsqueeze(1)")]
    s = std(t, data=data).replace("nn.CrossEntropyLoss()", "nn.MSELoss()")
    return s, "match the regression target to the (N, 1) output: y = y.unsqueeze(1)", "MSE target (N,) vs output (N, 1): broadcasting"


# fourth generation: cnn, rnn and cnn1d added (the kind existed on mlp and text only)
@kind("pt_ce_batch_mismatch", "loss_label_mismatch", ["mlp", "text", "cnn", "rnn", "cnn1d"], "loss", n=2)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.loop = "manual"
    p.set("loop", "manual")
    s = std(t)
    if fault:
        s = s.replace(f"y[i:i + {t.B}]", f"y[i:i + {t.B - 1}]")
    return s, f"slice inputs and labels with the same bounds: y[i:i + {t.B}]", "labels sliced with a different batch bound than inputs"


# fifth generation: the two ways a loss's batch check sees a whole factor between logits and targets
@kind("pt_view_merges_into_batch", "layer_definition", ["cnn", "rnn"], "loss", n=3)
def _(p: P, fault: bool):
    """A view sized for fewer values than one sample holds moves the rest into the batch axis: the model runs and
    the loss gets (batch x factor) rows of logits for batch targets."""
    t = T(p, p.arch)
    if p.arch == "cnn":
        per_map = ((t.H - 2) // 2) * ((t.W - 2) // 2)
        size = per_map if fault else t.flat()   # the flatten counts one feature map, not all f of them
        init = [f"self.conv = nn.Conv2d({t.Ch}, {t.f}, 3)", "self.pool = nn.MaxPool2d(2)",
                f"self.fc = nn.Linear({size}, {t.C})"]
        fwd = ["x = self.pool(torch.relu(self.conv(x)))", f"x = x.view(-1, {size})", "return self.fc(x)"]
        fix = f"flatten every feature map: x = x.view(x.size(0), -1) and nn.Linear({t.flat()}, {t.C})"
        note = "view(-1, h*w) without the channel count: the feature maps move into the batch axis"
    else:
        init = [f"self.rnn = nn.{t.cell}({t.F}, {t.u}, batch_first=True)", f"self.fc = nn.Linear({t.u}, {t.C})"]
        last = f"out.reshape(-1, {t.u})" if fault else "out[:, -1]"
        fwd = ["out, _ = self.rnn(x)", f"return self.fc({last})"]
        fix = "classify the last step's output: self.fc(out[:, -1]) (one row per sequence)"
        note = "every step's output reshaped into rows for a per-sequence label: steps move into the batch axis"
    t.loop = p.set("loop", p.choice("loop2", ["loader", "manual"]))
    return std(t, init=init, fwd=fwd), fix, note


@kind("pt_onehot_targets_flattened", "loss_label_mismatch", ["mlp", "cnn", "rnn", "text"], "loss", n=3)
def _(p: P, fault: bool):
    """One-hot targets flattened into a vector for CrossEntropyLoss: C values per sample where one class index
    is wanted."""
    t = T(p, p.arch)
    y = f"y = nn.functional.one_hot(torch.randint(0, {t.C}, ({t.N},)), {t.C})   # one-hot labels"
    target = "yb.view(-1)" if fault else "yb.argmax(1)"
    t.loop = p.set("loop", p.choice("loop2", ["loader", "manual"]))
    loop = t.loop_lines(loss=f"loss_fn(model(xb), {target})")
    return (std(t, data=[t.x_line(), y], loop=loop),
            "CrossEntropyLoss takes class indices: pass yb.argmax(1) (or the integer labels) instead of the "
            "flattened one-hot rows", "one-hot targets flattened with view(-1): C targets per sample")


# ============================== other / none =====================================================


@kind("pt_other_cuda_not_available", "other", ["mlp", "cnn"], "forward", n=1, expect=("AssertionError", "RuntimeError"))
def _(p: P, fault: bool):
    t = T(p, p.arch)
    dev = '"cuda"' if fault else '"cuda" if torch.cuda.is_available() else "cpu"'
    s = std(t).replace("model = " + t.cls + "()", f"device = {dev}\nmodel = {t.cls}().to(device)")
    return s, "select the device dynamically: device = 'cuda' if torch.cuda.is_available() else 'cpu'", "CUDA requested on a CPU-only machine"


@kind("pt_other_file_missing", "other", ["mlp", "cnn"], "load", n=1, expect=("FileNotFoundError",))
def _(p: P, fault: bool):
    t = T(p, p.arch)
    path = p.choice("path", ["data/train.pt", "checkpoints/features.pt"])
    pre = [] if fault else ["import os", f'os.makedirs("{path.split("/")[0]}", exist_ok=True)', t.x_line(), f'torch.save(X, "{path}")']
    data = pre + [f'X = torch.load("{path}")', t.y_line()]
    return std(t, data=data), f"fix the path '{path}' so the file exists (check the working directory)", "data file missing"


@kind("pt_other_backward_twice", "other", ["mlp", "rnn"], "backward", n=1)
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.loop = "full_batch"
    p.set("loop", "full_batch")
    s = std(t)
    if fault:
        s = s.replace("loss.backward()\n", "loss.backward()\nloss.backward()   # accumulate twice\n", 1)
    return s, "call backward once per forward (or retain_graph=True if really needed)", "backward through the graph twice"


@kind("pt_other_inplace_after_sigmoid", "other", ["mlp"], "backward", n=1)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    fwd = ["x = torch.sigmoid(self.fc1(x))", "x += 1.0" if fault else "x = x + 1.0", "return self.fc2(x)"]
    return std(t, fwd=fwd), "avoid the in-place update of the sigmoid output: x = x + 1.0", "in-place op on a tensor needed for backward"


@kind("pt_other_empty_param_list", "other", ["mlp"], "build", n=1)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    init = [f"self.layers = [nn.Linear({t.F}, {t.h}), nn.Linear({t.h}, {t.C})]"] if fault else \
        [f"self.layers = nn.ModuleList([nn.Linear({t.F}, {t.h}), nn.Linear({t.h}, {t.C})])"]
    fwd = ["x = torch.relu(self.layers[0](x))", "return self.layers[1](x)"]
    return std(t, init=init, fwd=fwd), "register sublayers with nn.ModuleList so model.parameters() finds them", \
        "layers kept in a plain list: optimizer gets no parameters"


@kind("pt_other_state_dict_mismatch", "other", ["mlp"], "load", n=1)
def _(p: P, fault: bool):
    t = T(p, "mlp")
    extra = ["ckpt = {k.replace('fc', 'linear'): v for k, v in model.state_dict().items()}" if fault else "ckpt = dict(model.state_dict())",
             "model.load_state_dict(ckpt)", 'print("restored")']
    return std(t, extra=extra), "load a checkpoint saved from the same module names (fc1/fc2), or rename the keys back", \
        "checkpoint keys renamed: load_state_dict fails"


@kind("pt_other_name_typo", "other", ["cnn", "rnn"], "forward", n=1, expect=("NameError",))
def _(p: P, fault: bool):
    t = T(p, p.arch)
    t.loop = "full_batch"
    p.set("loop", "full_batch")
    s = std(t)
    if fault:
        s = s.replace("xb, yb = X, y", "xb, yb = X_train, y")
    return s, "use the variable that exists (X, not X_train)", "NameError: variable typo"


@kind("pt_none_unbatched_conv_ok", "none", ["cnn"], "none", n=2)
def _(p: P, fault: bool):
    t = T(p, "cnn")
    extra = ["model.eval()", "with torch.no_grad():", "    feat = model.conv(X[0])   # Conv2d accepts unbatched (C, H, W)", "print(feat.shape)"]
    return std(t, extra=extra), "nothing to fix: Conv2d accepts unbatched (C, H, W) input", "negative: unbatched conv call is valid"


@kind("pt_none_padded_collate_gru", "none", ["text"], "none", n=1)
def _(p: P, fault: bool):
    t = T(p, "text")
    ds = ["from torch.nn.utils.rnn import pad_sequence", "",
          f"items = [(torch.randint(1, {t.V}, (int(n),)), torch.tensor(c)) for n, c in zip(torch.randint(3, {t.L}, ({t.N},)), torch.randint(0, {t.C}, ({t.N},)))]",
          "", "def pad_collate(batch):", "    xs, ys = zip(*batch)", "    return pad_sequence(xs, batch_first=True), torch.stack(ys)"]
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.Adam(model.parameters(), lr=1e-3)", "",
            f"loader = torch.utils.data.DataLoader(items, batch_size={t.B}, collate_fn=pad_collate)", "for xb, yb in loader:",
            "    opt.zero_grad()", "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    return join(hdr(), ds, t.model_def(), loop), "nothing to fix: the script is correct", "negative: variable-length text with a padding collate"


def build_cases(env: str, framework: str, backend: str) -> list[Case]:
    from envs import ENVS
    scale = ENVS[env].get("scale", 1.0) if env in ENVS else 1.0
    share = ENVS[env].get("share", 1.0) if env in ENVS else 1.0
    cases: list[Case] = []
    for k in KINDS:
        for arch in k.archs:
            if share < 1.0 and zlib.crc32(f"{k.fault_id}|{arch}".encode()) % 1000 >= share * 1000:
                continue   # env runs a consistent share of the (kind, arch) pairs
            for i in range(max(1, round(k.n * scale))):
                cid = f"{k.fault_id}__{arch}__{i}"
                seed = f"{k.fault_id}|{arch}|{i}"
                pf, pc = P(seed, env, framework, backend, arch), P(seed, env, framework, backend, arch)
                snippet, fix, notes = k.gen(pf, True)
                control, _, _ = k.gen(pc, False)
                keep = (zlib.crc32(f"{env}|{cid}".encode()) % 100) < 6 and k.cause != "none"
                cases.append(Case(case_id=cid, fault_id=k.fault_id, cause=k.cause, arch=f"torch_{arch}", phase=k.phase,
                                  snippet=snippet, control=control, fix=fix, notes=notes, params=dict(pf.params),
                                  clear_session=True, keep_control=keep, expect_exc=k.expect,
                                  valid_if_silent=k.valid_if_silent, summary_kind="torch"))
    return cases


_ = random
