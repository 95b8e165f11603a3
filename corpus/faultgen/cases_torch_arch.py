"""PyTorch architectures of the second generation: custom Dataset + collate pipelines, ResNet-style
residual blocks, Conv3d video, LSTM/GRU with batch_first both ways, transformer encoders
(nn.TransformerEncoderLayer, nn.MultiheadAttention), autoencoders, EmbeddingBag text models,
MSE regression, multi-label BCEWithLogits, per-pixel segmentation, a random_split train/validation
loop (faults in the eval phase too) and pure nn.Sequential models.

Same template contract as cases_keras_arch.py (see archgen.py); labels are the registered cause of
the planted mutation. Scripts vary the loop style (DataLoader loops with epochs, manual slicing,
a device variable, model.train()/model.eval(), torch.no_grad() evaluation).
"""
from __future__ import annotations

from archgen import Mut, lines_to_script, register
from archgen import build_cases as _build
from kbuild import P

REG: list[Mut] = []


def thead(p: P, extra: list[str] | None = None, numpy: bool = False) -> list[str]:
    nn_idiom = p.choice("nn_idiom", ["import torch.nn as nn", "from torch import nn"])
    lines = (["import numpy as np"] if numpy else []) + ["import torch", nn_idiom]
    if p.flag("functional_import", 0.5):
        lines.append("import torch.nn.functional as F")
    lines += extra or []
    return lines + ["", f"torch.manual_seed({p.choice('seed', [0, 1, 42, 7])})"]


def uses_F(s: str) -> bool:
    return "import torch.nn.functional as F" in s


def device_lines(p: P) -> tuple[list[str], str]:
    if p.flag("device_var", 0.4):
        return ['device = torch.device("cuda" if torch.cuda.is_available() else "cpu")'], ".to(device)"
    return [], ""


def train_loop(p: P, loader: str, fwd: str = "out = model(xb)", loss: str = "loss = criterion(out, yb)",
               dev: str = "", epochs: int | None = None, unpack: str = "xb, yb") -> list[str]:
    ep = epochs if epochs is not None else p.choice("epochs", [1, 2])
    mv = [f"        {v.strip()} = {v.strip()}{dev}" for v in unpack.split(",")] if dev else []
    return [f"for epoch in range({ep}):", "    model.train()", f"    for {unpack} in {loader}:"] + mv + [
        "        optimizer.zero_grad()", f"        {fwd}", f"        {loss}", "        loss.backward()", "        optimizer.step()",
        '    print(f"epoch {epoch}: loss {loss.item():.4f}")']


def optim_line(p: P) -> str:
    opt = p.choice("optimizer", ["Adam", "SGD", "AdamW"])
    lr = {"Adam": "1e-3", "SGD": "0.05", "AdamW": "3e-4"}[opt]
    return f"optimizer = torch.optim.{opt}(model.parameters(), lr={lr})"


def module(cls: str, init: list[str], fwd: list[str], args: str = "", fwd_args: str = "x") -> list[str]:
    return ([f"class {cls}(nn.Module):", f"    def __init__(self{', ' + args if args else ''}):", "        super().__init__()"] +
            ["        " + l for l in init] + ["", f"    def forward(self, {fwd_args}):"] + ["        " + l for l in fwd])


N_OPTS = [20, 26, 30, 37, 45, 52]
BS_OPTS = [4, 5, 8, 10, 16]


# =============================================================================================
# custom Dataset with __getitem__ and a collate_fn
# =============================================================================================
def t_dataset(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Fd = p.randint("features", 4, 30)
    C = p.randint("classes", 2, 12)
    h = p.choice("hidden", [16, 32, 64])
    item = p.choice("item_style", ["tuple", "dict"])
    if mut in ("collate_list", "collate_tensor_of_tensors", "collate_cat"):
        item = p.set("item_style", "tuple")
    cls = p.choice("dataset_name", ["TabularDataset", "CSVDataset", "Rows"])
    use_collate = p.flag("custom_collate", 0.5) or mut in ("collate_list", "collate_tensor_of_tensors", "collate_cat")
    # fourth generation: draws only the new mutations make (existing case ids keep their numbers)
    if mut == "batch_of_one":
        N = p.set("n_samples", B * p.randint("full_batches", 2, 5) + 1)
    w = p.choice("block_width", [h // 2, h + 8, 2 * h]) if mut == "residual_width" else h
    head = thead(p, ["from torch.utils.data import Dataset, DataLoader"], numpy=True)
    dev, to = device_lines(p)
    data = [f"table = np.random.rand({N}, {Fd + 1}).astype(\"float32\")   # last column: class id",
            f"table[:, -1] = np.random.randint(0, {C}, size={N})"]
    if mut == "file_missing":
        data = ["import os", "", 'os.makedirs("data", exist_ok=True)', data[0], data[1]] + \
            ([] if fault else ['np.save("data/train_table.npy", table)']) + ['table = np.load("data/train_table.npy")']
    feats = "torch.from_numpy(self.table[i, :-1])"
    if mut == "getitem_float64" and fault:
        feats = "torch.tensor(self.table[i, :-1], dtype=torch.float64)"
    if mut == "getitem_extra_axis" and fault:
        feats += ".unsqueeze(0)"
    if mut == "getitem_keeps_label_column" and fault:
        feats = "torch.from_numpy(self.table[i])"
    label = "torch.tensor(self.table[i, -1], dtype=torch.float32)" if (mut == "label_float" and fault) else "torch.tensor(int(self.table[i, -1]))"
    ret = f'{{"features": {feats}, "label": {label}}}' if item == "dict" else f"{feats}, {label}"
    ds = [f"class {cls}(Dataset):", "    def __init__(self, table):", "        self.table = table", "",
          "    def __len__(self):", "        return len(self.table)", "", "    def __getitem__(self, i):", f"        return {ret}"]
    coll = []
    if use_collate:
        if item == "dict":
            coll = ["def collate(batch):", '    x = torch.stack([b["features"] for b in batch])', '    y = torch.stack([b["label"] for b in batch])', "    return x, y"]
        elif mut == "collate_list" and fault:
            coll = ["def collate(batch):", "    xs, ys = zip(*batch)", "    return list(xs), torch.stack(ys)"]
        elif mut == "collate_tensor_of_tensors" and fault:
            coll = ["def collate(batch):", "    xs, ys = zip(*batch)", "    return torch.tensor(xs), torch.tensor(ys)"]
        elif mut == "collate_cat" and fault:
            coll = ["def collate(batch):", "    xs, ys = zip(*batch)", "    return torch.cat(xs), torch.stack(ys)"]
        else:
            coll = ["def collate(batch):", "    xs, ys = zip(*batch)", "    return torch.stack(xs), torch.stack(ys)"]
    model = module("MLP", [f"self.net = nn.Sequential(nn.Linear({Fd}, {h}), nn.ReLU(), nn.Linear({h}, {C}))"], ["return self.net(x)"]) + \
        ["", "", f"model = MLP(){to}"]
    if mut == "batch_of_one":
        model = module("MLP", [f"self.net = nn.Sequential(nn.Linear({Fd}, {h}), nn.BatchNorm1d({h}), nn.ReLU(), nn.Linear({h}, {C}))"],
                       ["return self.net(x)"]) + ["", "", f"model = MLP(){to}"]
    if mut == "embedding_after_linear":
        body = f"nn.Linear({Fd}, {h}), nn.Embedding({h}, {h}), nn.ReLU()" if fault else f"nn.Linear({Fd}, {h}), nn.ReLU(), nn.Linear({h}, {h}), nn.ReLU()"
        model = module("MLP", [f"self.net = nn.Sequential({body})", f"self.out = nn.Linear({h}, {C})"],
                       ["return self.out(self.net(x))"]) + ["", "", f"model = MLP(){to}"]
    if mut == "conv1d_after_linear":
        unf = [] if fault else ["x = x.unsqueeze(1)   # (batch, 1, hidden) for Conv1d"]
        model = module("MLP", [f"self.fc = nn.Linear({Fd}, {h})", "self.conv = nn.Conv1d(1, 6, 3, padding=1)", "self.pool = nn.AdaptiveMaxPool1d(4)",
                               f"self.out = nn.Linear(24, {C})"],
                       ["x = torch.relu(self.fc(x))"] + unf + ["x = self.pool(torch.relu(self.conv(x)))", "return self.out(x.flatten(1))"]) + \
            ["", "", f"model = MLP(){to}"]
    if mut == "residual_width":
        model = module("MLP", [f"self.inp = nn.Linear({Fd}, {h})", f"self.block = nn.Sequential(nn.Linear({h}, {w if fault else h}), nn.ReLU())",
                               f"self.out = nn.Linear({h}, {C})"],
                       ["x = torch.relu(self.inp(x))", "x = x + self.block(x)   # residual block", "return self.out(x)"]) + ["", "", f"model = MLP(){to}"]
    cf = ", collate_fn=collate" if use_collate else ""
    dl = ", drop_last=True" if (mut == "batch_of_one" and not fault) else ""
    loader = [f"loader = DataLoader({cls}(table), batch_size={B}, shuffle=True{cf}{dl})", "criterion = nn.CrossEntropyLoss()", optim_line(p)]
    unpack = "batch" if (item == "dict" and not use_collate) else "xb, yb"
    if unpack == "batch":
        loop = [f"for epoch in range({p.choice('epochs', [1, 2])}):", "    model.train()", "    for batch in loader:",
                f'        xb, yb = batch["features"]{to}, batch["label"]{to}', "        optimizer.zero_grad()", "        out = model(xb)",
                "        loss = criterion(out, yb)", "        loss.backward()", "        optimizer.step()", '    print(f"epoch {epoch}: loss {loss.item():.4f}")']
    else:
        loop = train_loop(p, "loader", dev=to)
    if mut == "argmax_batch_axis":
        loop += ["", "model.eval()", "with torch.no_grad():", f"    feats = torch.from_numpy(table[:, :-1]){to}",
                 f"    classes = torch.from_numpy(table[:, -1]).long(){to}", f"    pred = model(feats).argmax({0 if fault else 1})",
                 '    print("train accuracy", (pred == classes).float().mean().item())']
    s = lines_to_script([head, dev, data, ds, coll, model, loader, loop])
    fixes = {
        "getitem_float64": ("return float32 features from __getitem__: torch.from_numpy(row) of a float32 array (or .float())", "__getitem__ builds float64 tensors"),
        "getitem_extra_axis": ("return each sample without a leading axis (drop .unsqueeze(0)); the DataLoader adds the batch axis", "__getitem__ adds a batch axis to each sample"),
        "getitem_keeps_label_column": (f"slice the label column off the features: self.table[i, :-1] ({Fd} features)", f"__getitem__ returns all {Fd + 1} columns as features"),
        "label_float": ("return the class id as an integer tensor: torch.tensor(int(label))", "class ids returned as float32 for CrossEntropyLoss"),
        "collate_list": ("stack the samples in collate: torch.stack(xs)", "collate_fn returns a Python list of tensors as the input batch"),
        "collate_tensor_of_tensors": ("use torch.stack(xs) in collate; torch.tensor() cannot build a tensor from a list of tensors", "collate_fn calls torch.tensor on a tuple of tensors"),
        "file_missing": ("point np.load at the file that exists (data/train_table.npy is never written)", "data file missing"),
        "batch_of_one": (f"drop the incomplete last batch: DataLoader(..., drop_last=True) ({N} rows in batches of {B} leave 1)",
                         f"{N} rows in batches of {B}: the last batch has one row for BatchNorm1d in training"),
        "collate_cat": ("stack the samples into a batch axis in collate: torch.stack(xs), not torch.cat(xs)", "collate_fn concatenates the feature rows into one long vector"),
        "embedding_after_linear": (f"nn.Embedding takes integer ids: use nn.Linear({h}, {h}) here (embed only id columns)", "nn.Embedding applied to a Linear layer's float output"),
        "residual_width": (f"the residual block must keep the width {h}: nn.Linear({h}, {h})", f"residual add of widths {h} and {w}"),
        "argmax_batch_axis": ("take the argmax over the class axis: model(feats).argmax(1)", "accuracy uses argmax over the batch axis"),
        "conv1d_after_linear": ("add a channel axis before nn.Conv1d: x.unsqueeze(1) -> (batch, 1, hidden)", "nn.Conv1d fed the 2-D Linear output"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_dataset", t_dataset, [
    ("getitem_float64", "data_preprocessing", "forward"),
    ("getitem_extra_axis", "data_preprocessing", "loss"),
    ("getitem_keeps_label_column", "data_preprocessing", "forward"),
    ("label_float", "loss_label_mismatch", "loss"),
    ("collate_list", "input_pipeline", "forward"),
    ("collate_tensor_of_tensors", "input_pipeline", "collate"),
    ("file_missing", "other", "load", 1, {"expect": ("FileNotFoundError",)}),
    # fourth generation: kinds that existed on one architecture only
    ("batch_of_one", "input_pipeline", "forward"),
    ("collate_cat", "input_pipeline", "forward"),
    ("embedding_after_linear", "layer_combination", "forward"),
    ("residual_width", "layer_definition", "forward"),
    ("argmax_batch_axis", "loss_label_mismatch", "validation"),
    ("conv1d_after_linear", "layer_combination", "forward"),
])


# =============================================================================================
# ResNet-ish residual blocks
# =============================================================================================
def t_resnet(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", [16, 20, 24, 30]), p.choice("batch_size", [4, 5, 8])
    H, W = p.choice("hw", [(32, 32), (28, 28), (24, 40), (36, 36), (20, 20)])
    Ch = p.choice("channels", [1, 3])
    c1 = p.choice("width", [8, 16])
    C = p.randint("classes", 2, 1000) if p.flag("many_classes", 0.3) else p.randint("classes_small", 2, 20)
    if mut in ("missing_channel_axis", "getitem_no_channel"):
        Ch = p.set("channels", 1)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"] + (["from torch.utils.data import Dataset"] if mut == "getitem_no_channel" else []))
    data = [f"images = torch.randn({N}, {Ch}, {H}, {W})", f"labels = torch.randint(0, {C}, ({N},))"]
    if mut == "channels_last" and fault:
        data = [f"images = torch.randn({N}, {H}, {W}, {Ch})   # HWC from PIL", f"labels = torch.randint(0, {C}, ({N},))"]
    if mut == "missing_channel_axis":
        data = [f"images = torch.rand({N}, {H}, {W})   # grayscale scans"] + ([] if fault else ["images = images.unsqueeze(1)   # (N, 1, H, W)"]) + \
            [f"labels = torch.randint(0, {C}, ({N},))"]
    if mut == "getitem_no_channel":
        data = [f"scans = torch.randint(0, 256, ({N}, {H}, {W}), dtype=torch.uint8)   # grayscale", f"labels = torch.randint(0, {C}, ({N},))", "", "",
                "class Scans(Dataset):", "    def __init__(self, scans, labels):", "        self.scans, self.labels = scans, labels", "",
                "    def __len__(self):", "        return len(self.scans)", "", "    def __getitem__(self, i):",
                "        img = self.scans[i].float() / 255.0", "        return " + ("img" if fault else "img.unsqueeze(0)") + ", self.labels[i]"]
    stride_down = mut == "stride_no_projection" and fault
    proj = not (mut == "width_no_projection" and fault)
    bn_c = c1 if (mut == "bn_channels" and fault) else 2 * c1
    block = module("BasicBlock", [
        "self.conv1 = nn.Conv2d(in_ch, out_ch, 3, stride=stride, padding=1, bias=False)",
        "self.bn1 = nn.BatchNorm2d(out_ch)",
        "self.conv2 = nn.Conv2d(in_ch, out_ch, 3, padding=1, bias=False)" if (mut == "conv2_in_channels" and fault) else
        "self.conv2 = nn.Conv2d(out_ch, out_ch, 3, padding=1, bias=False)",
        "self.bn2 = nn.BatchNorm2d(out_ch)",
        "self.shortcut = nn.Identity()",
        "if stride != 1 or in_ch != out_ch:" if proj else "if stride != 1:",
        "    self.shortcut = nn.Sequential(nn.Conv2d(in_ch, out_ch, 1, stride=stride, bias=False), nn.BatchNorm2d(out_ch))"
        if not stride_down else "    pass   # downsampling of the shortcut left for later"],
        ["out = torch.relu(self.bn1(self.conv1(x)))", "out = self.bn2(self.conv2(out))",
         "return torch.relu(out + self.shortcut(x))" if not (mut == "skip_from_wrong_tensor" and fault) else "return torch.relu(out + self.shortcut(out))"],
        args="in_ch, out_ch, stride=1")
    pool = "nn.AdaptiveAvgPool2d(1)"
    fc_in = 2 * c1 * 4 if (mut == "fc_in_features" and fault) else 2 * c1
    net = module("ResNetSmall", [f"self.stem = nn.Sequential(nn.Conv2d({Ch}, {c1}, 3, padding=1, bias=False), nn.BatchNorm2d({c1}), nn.ReLU())",
                                 f"self.layer1 = BasicBlock({c1}, {c1})", f"self.layer2 = BasicBlock({c1}, {2 * c1}, stride={1 if mut == 'width_no_projection' else 2})",
                                 f"self.norm = nn.BatchNorm2d({bn_c})", f"self.pool = {pool}", f"self.fc = nn.Linear({fc_in}, {C})"],
                 ["x = self.layer2(self.layer1(self.stem(x)))", "x = self.pool(torch.relu(self.norm(x)))", "return self.fc(torch.flatten(x, 1))"])
    model = ["model = ResNetSmall()" + ('.to("gpu")' if (mut == "device_string" and fault) else "")] + (["print(model)"] if p.flag("print_model", 0.3) else [])
    ds_expr = "Scans(scans, labels)" if mut == "getitem_no_channel" else "TensorDataset(images, labels)"
    bsz = "None" if (mut == "loader_unbatched" and fault) else str(B)
    coll = []
    if mut == "collate_cat":
        coll = ["def collate(batch):", "    xs, ys = zip(*batch)", f"    return {'torch.cat' if fault else 'torch.stack'}(xs), torch.stack(ys)"]
    cf = ", collate_fn=collate" if mut == "collate_cat" else ""
    loop = [f"loader = DataLoader({ds_expr}, batch_size={bsz}, shuffle=True{cf})",
            "criterion = nn.CrossEntropyLoss()", optim_line(p)] + train_loop(p, "loader")
    s = lines_to_script([head, data, block, [""], net, model, coll, loop])
    fixes = {
        "stride_no_projection": ("downsample the shortcut too: a 1x1 Conv2d with stride=2 (+ BatchNorm) when stride != 1", "strided block whose identity shortcut keeps the full resolution"),
        "width_no_projection": ("project the shortcut when the width changes: 1x1 Conv2d(in_ch, out_ch) if in_ch != out_ch", "block changes width without a projection shortcut"),
        "bn_channels": (f"BatchNorm2d after layer2 must have {2 * c1} features", f"BatchNorm2d({c1}) on a {2 * c1}-channel map"),
        "fc_in_features": (f"after AdaptiveAvgPool2d(1) the features are {2 * c1}: nn.Linear({2 * c1}, {C})", f"nn.Linear({fc_in}, ...) after global pooling of {2 * c1} channels"),
        "channels_last": ("permute the images to (N, C, H, W): images.permute(0, 3, 1, 2)", "HWC images into Conv2d"),
        "skip_from_wrong_tensor": ("add the shortcut of the block input x, not of the branch output", "residual shortcut applied to the branch output instead of the input"),
        "device_string": ('use a valid device: model.to("cuda") if torch.cuda.is_available() else model.to("cpu")', 'model.to("gpu"): not a device type'),
        "missing_channel_axis": ("add the channel axis: images.unsqueeze(1) -> (N, 1, H, W)", "grayscale images without a channel axis"),
        "getitem_no_channel": ("return each scan with its channel axis from __getitem__: img.unsqueeze(0) -> (1, H, W)", "Dataset returns grayscale images without channel axis"),
        "conv2_in_channels": ("the block's second conv takes the first conv's out_ch: nn.Conv2d(out_ch, out_ch, 3, padding=1)", "second conv of the block declared with in_ch input channels"),
        "collate_cat": ("stack the images into a batch axis in collate: torch.stack(xs), not torch.cat(xs)", "collate_fn concatenates the images along the channel axis"),
        "loader_unbatched": (f"give the DataLoader a batch size: batch_size={B}", "DataLoader(batch_size=None) yields single images"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_resnet", t_resnet, [
    ("stride_no_projection", "layer_definition", "forward"),
    ("width_no_projection", "layer_definition", "forward"),
    ("bn_channels", "layer_definition", "forward"),
    ("fc_in_features", "layer_definition", "forward"),
    ("channels_last", "data_preprocessing", "forward"),
    ("skip_from_wrong_tensor", "layer_combination", "forward"),
    ("device_string", "other", "build", 1),
    # fourth generation
    ("missing_channel_axis", "data_preprocessing", "forward"),
    ("getitem_no_channel", "data_preprocessing", "forward"),
    ("conv2_in_channels", "layer_definition", "forward"),
    ("collate_cat", "input_pipeline", "forward"),
    ("loader_unbatched", "input_pipeline", "forward"),
])


# =============================================================================================
# Conv3d video
# =============================================================================================
def t_conv3d(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", [12, 16, 20]), p.choice("batch_size", [2, 4, 5])
    T = p.choice("frames", [4, 6, 8, 5])
    H, W = p.choice("hw", [(16, 16), (12, 20), (24, 24), (14, 18)])
    Ch = p.choice("channels", [3, 1])
    if mut == "frames_before_channels":
        Ch = p.set("channels", 3)
    if mut == "missing_channel":
        Ch = p.set("channels", 1)
    f = p.choice("filters", [4, 8])
    C = p.randint("classes", 2, 15)
    if mut == "frames_not_resized":
        H2, W2 = p.choice("raw_hw", [hw for hw in [(20, 20), (18, 24), (28, 22), (32, 32), (10, 14)] if (hw[0] // 2, hw[1] // 2) != (H // 2, W // 2)])
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    if mut == "frames_not_resized" and fault:
        data = [f"clips = torch.rand({N}, {Ch}, {T}, {H2}, {W2})   # frames decoded at {H2}x{W2}, not resized"]
    elif mut == "frames_before_channels" and fault:
        data = [f"clips = torch.rand({N}, {T}, {Ch}, {H}, {W})   # (clips, frames, channels, H, W) as decoded"]
    elif mut == "missing_channel":
        data = [f"clips = torch.rand({N}, {T}, {H}, {W})   # grayscale"] + ([] if fault else ["clips = clips.unsqueeze(1)"])
    else:
        data = [f"clips = torch.rand({N}, {Ch}, {T}, {H}, {W})   # (clips, channels, frames, H, W)"]
    data.append(f"labels = torch.randint(0, {C}, ({N},))")
    k = f"({T + 2}, 3, 3)" if (mut == "kernel_time" and fault) else "(3, 3, 3)"
    pad = "0" if mut == "kernel_time" else "1"
    conv = f"nn.Conv3d({Ch}, {f}, {k}, padding={pad})" if not (mut == "conv2d_on_video" and fault) else f"nn.Conv2d({Ch}, {f}, 3, padding=1)"
    d_t = T if mut != "kernel_time" else T - 2
    d_h, d_w = (H if mut != "kernel_time" else H - 2) // 2, (W if mut != "kernel_time" else W - 2) // 2
    flat = f * d_t * d_h * d_w
    fc_in = f * T * H * W // 4 if (mut == "fc_in_features" and fault) else flat
    if fc_in == flat and mut == "fc_in_features" and fault:
        fc_in = flat * 2
    npool = p.randint("pools", 4, 5)
    pools = ["nn.MaxPool3d(2)"] * npool if (mut == "pool_stack" and fault) else ["nn.MaxPool3d((1, 2, 2))"]
    fc = f"nn.Linear({fc_in}, {C})" if mut != "pool_stack" else f"nn.LazyLinear({C})"
    seq = ["model = nn.Sequential(", f"    {conv},", "    nn.ReLU(),"] + [f"    {q}," for q in pools] + ["    nn.Flatten(),", f"    {fc},", ")"]
    bsz = "None" if (mut == "loader_unbatched" and fault) else str(B)
    loop = [f"loader = DataLoader(TensorDataset(clips, labels), batch_size={bsz}, shuffle=True)", "criterion = nn.CrossEntropyLoss()",
            optim_line(p)] + train_loop(p, "loader")
    s = lines_to_script([head, data, seq, loop])
    fixes = {
        "frames_before_channels": ("Conv3d wants (N, C, T, H, W): clips.permute(0, 2, 1, 3, 4)", "clips stored (N, T, C, H, W)"),
        "missing_channel": ("add the channel axis: clips.unsqueeze(1) -> (N, 1, T, H, W)", "grayscale clips without channel axis"),
        "kernel_time": (f"use a temporal kernel of at most {T} frames (e.g. 3) or padding", f"Conv3d temporal kernel {T + 2} for {T} frames"),
        "conv2d_on_video": ("use nn.Conv3d for (N, C, T, H, W) clips", "nn.Conv2d on 5-D clips"),
        "fc_in_features": (f"set in_features to the flattened size {flat} (= {f}x{d_t}x{d_h}x{d_w}) or use nn.LazyLinear", f"nn.Linear({fc_in}) after a map of {flat} values"),
        "pool_stack": (f"pool only spatially (MaxPool3d((1, 2, 2))): {T} frames cannot be halved {npool} times", f"{npool} MaxPool3d(2) on {T} frames"),
        "frames_not_resized": (f"resize the frames to {H}x{W}, the size the classifier was built for", "video frames not resized to the model's frame size"),
        "loader_unbatched": (f"give the DataLoader a batch size: batch_size={B}", "DataLoader(batch_size=None) yields single clips"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_conv3d", t_conv3d, [
    ("frames_before_channels", "data_preprocessing", "forward"),
    ("missing_channel", "data_preprocessing", "forward"),
    ("kernel_time", "layer_definition", "forward"),
    ("conv2d_on_video", "layer_combination", "forward"),
    ("fc_in_features", "layer_definition", "forward"),
    ("pool_stack", "layer_definition", "forward"),
    # fourth generation
    ("frames_not_resized", "data_preprocessing", "forward"),
    ("loader_unbatched", "input_pipeline", "forward"),
])


# =============================================================================================
# LSTM / GRU with batch_first both ways
# =============================================================================================
def t_lstm(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    T = p.randint("steps", 5, 40)
    Fd = p.randint("features", 2, 16)
    u = p.choice("hidden", [8, 16, 32, 20])
    C = p.randint("classes", 2, 12)
    cell = p.choice("cell", ["LSTM", "GRU"])
    bf = p.choice("batch_first", [True, False])
    layers_ = p.choice("num_layers", [1, 2])
    bidir = p.flag("bidirectional", 0.3)
    if mut == "bidir_fc_width":
        bidir = p.set("bidirectional", True)
    if mut in ("missing_batch_first", "seq_major_data", "time_feature_swapped", "bn_on_rnn_output", "ce_batch_mismatch", "numpy_into_model"):
        bf = p.set("batch_first", True)
    if mut == "h0_layers":
        layers_ = p.set("num_layers", 2)
    if T == B:
        T += 1
    # fourth generation: draws and guards of the new mutations only
    off = p.choice("input_off", [1, 2, 3, -1]) if mut == "input_size_wrong" else 0
    if mut in ("time_feature_swapped", "bn_on_rnn_output"):
        while T in (Fd, u, 2 * u, B):
            T = p.set("steps", T + 1)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"], numpy=mut == "numpy_into_model")
    data = [f"X = torch.randn({N}, {T}, {Fd})   # (batch, steps, features)", f"y = torch.randint(0, {C}, ({N},))"]
    if mut == "time_feature_swapped":
        data = [f"X = torch.randn({N}, {Fd}, {T})   # (batch, features, steps) as exported"] + \
            ([] if fault else ["X = X.transpose(1, 2)   # (batch, steps, features)"]) + [f"y = torch.randint(0, {C}, ({N},))"]
    if mut == "numpy_into_model":
        data = [f'X = np.random.randn({N}, {T}, {Fd}).astype("float32")   # (batch, steps, features)', f"y = torch.randint(0, {C}, ({N},))"]
    dirs = 2 if bidir else 1
    fc_in = u if (mut == "bidir_fc_width" and fault) else u * dirs
    bf_kw = "" if (mut == "missing_batch_first" and fault) else (", batch_first=True" if bf else "")
    kw = f"{bf_kw}" + (f", num_layers={layers_}" if layers_ > 1 else "") + (", bidirectional=True" if bidir else "")
    init = [f"self.rnn = nn.{cell}({Fd + off if fault else Fd}, {u}{kw})", f"self.fc = nn.Linear({fc_in}, {C})"]
    if mut == "bn_on_rnn_output":
        init.insert(1, f"self.bn = nn.BatchNorm1d({u * dirs})")
    fwd = []
    if not bf:
        fwd.append("x = x.transpose(0, 1)   # (steps, batch, features)")
    if mut == "h0_layers":
        bd = 0 if bf else 1
        h0 = f"torch.zeros({1 if fault else layers_ * dirs}, x.size({bd}), {u})"
        fwd.append(f"h0 = {h0}")
        if cell == "LSTM":
            fwd.append(f"out, _ = self.rnn(x, (h0, torch.zeros({layers_ * dirs}, x.size({bd}), {u})))")
        else:
            fwd.append("out, _ = self.rnn(x, h0)")
    elif mut == "use_hidden_state":
        if cell == "LSTM":
            fwd.append("out, (h, c) = self.rnn(x)")
        else:
            fwd.append("out, h = self.rnn(x)")
        fwd.append("return self.fc(h)" if fault else "return self.fc(h[-1])")
    elif mut == "missing_batch_first":
        fwd.append("_, (h, _) = self.rnn(x)" if cell == "LSTM" else "_, h = self.rnn(x)")
        fwd.append("return self.fc(torch.cat([h[-2], h[-1]], dim=1))" if bidir else "return self.fc(h[-1])")
    else:
        fwd.append("out, _ = self.rnn(x)")
    if mut == "bn_on_rnn_output":
        fwd.append("out = self.bn(out)" if fault else "out = self.bn(out.transpose(1, 2)).transpose(1, 2)   # normalise each unit")
    if mut not in ("use_hidden_state", "missing_batch_first"):
        last = "out[:, -1]" if bf else "out[-1]"
        if mut == "missing_batch_first":
            last = "out[:, -1]"
        fwd.append(f"return self.fc({last})")
    if mut == "use_hidden_state" and bidir:
        fwd[-1] = "return self.fc(h)" if fault else "return self.fc(torch.cat([h[-2], h[-1]], dim=1))"
    net = module("SeqClassifier", init, fwd) + ["", "", "model = SeqClassifier()"]
    if mut == "seq_major_data" and fault:
        data.append("X = X.transpose(0, 1)   # the loader below was written for (steps, batch, features)")
    if mut == "seq_major_data":
        loop = ["criterion = nn.CrossEntropyLoss()", optim_line(p), f"for i in range(0, {N}, {B}):",
                f"    xb = X[:, i:i + {B}]" if fault else f"    xb = X[i:i + {B}]", f"    yb = y[i:i + {B}]",
                "    optimizer.zero_grad()", "    loss = criterion(model(xb), yb)", "    loss.backward()", "    optimizer.step()", 'print("loss", loss.item())']
    elif mut in ("ce_batch_mismatch", "numpy_into_model"):
        yb = f"y[i:i + {B - 1}]" if (mut == "ce_batch_mismatch" and fault) else f"y[i:i + {B}]"
        xb = f"torch.from_numpy(X[i:i + {B}])" if (mut == "numpy_into_model" and not fault) else f"X[i:i + {B}]"
        loop = ["criterion = nn.CrossEntropyLoss()", optim_line(p), f"for epoch in range({p.choice('epochs', [1, 2])}):",
                f"    for i in range(0, {N}, {B}):", f"        xb, yb = {xb}, {yb}",
                "        optimizer.zero_grad()", "        loss = criterion(model(xb), yb)", "        loss.backward()", "        optimizer.step()",
                '    print(f"epoch {epoch}: loss {loss.item():.4f}")']
    else:
        loop = [f"loader = DataLoader(TensorDataset(X, y), batch_size={B}, shuffle=True, drop_last=True)", "criterion = nn.CrossEntropyLoss()",
                optim_line(p)] + train_loop(p, "loader")
    if mut == "argmax_batch_axis":
        loop += ["", "model.eval()", "with torch.no_grad():", f"    pred = model(X).argmax({0 if fault else 1})",
                 '    print("accuracy", (pred == y).float().mean().item())']
    s = lines_to_script([head, data, net, loop])
    fixes = {
        "missing_batch_first": (f"construct the {cell} with batch_first=True for (batch, steps, features) input", f"{cell} without batch_first=True fed batch-major data"),
        "bidir_fc_width": (f"a bidirectional {cell} outputs 2*{u}: nn.Linear({2 * u}, {C})", f"nn.Linear({u}) after a bidirectional {cell}"),
        "h0_layers": (f"h0 must be (num_layers * directions, batch, hidden) = ({layers_ * dirs}, batch, {u})", f"h0 built for 1 layer, the {cell} has {layers_}"),
        "use_hidden_state": ("h_n is (num_layers * directions, batch, hidden): take its last layer, h[-1]", "h_n passed to the Linear with its layer axis"),
        "seq_major_data": ("keep the data batch-major for a batch_first model: X[i:i + B]", "data transposed to (steps, batch, features) for a batch_first RNN"),
        "input_size_wrong": (f"set input_size to the {Fd} features: nn.{cell}({Fd}, {u}, ...)", f"{cell} input_size {Fd + off} for {Fd}-feature steps"),
        "time_feature_swapped": (f"transpose to (batch, steps, features): X.transpose(1, 2) -> ({N}, {T}, {Fd})", "features and time axes swapped for a batch_first RNN"),
        "bn_on_rnn_output": (f"BatchNorm1d wants (batch, {u * dirs}, steps): transpose the RNN output before and after it", "BatchNorm1d on a (batch, steps, units) RNN output"),
        "ce_batch_mismatch": (f"slice inputs and labels with the same bounds: y[i:i + {B}]", "labels sliced with a different batch bound than inputs"),
        "numpy_into_model": ("convert the numpy batch to a tensor first: torch.from_numpy(X[i:i + B])", "numpy array passed to the model"),
        "argmax_batch_axis": ("take the argmax over the class axis: model(X).argmax(1)", "accuracy uses argmax over the batch axis"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_lstm", t_lstm, [
    ("missing_batch_first", "layer_definition", "loss"),
    ("bidir_fc_width", "layer_definition", "forward"),
    ("h0_layers", "layer_definition", "forward"),
    ("use_hidden_state", "layer_combination", "loss"),
    ("seq_major_data", "data_preprocessing", "forward"),
    # fourth generation
    ("input_size_wrong", "layer_definition", "forward"),
    ("time_feature_swapped", "data_preprocessing", "forward"),
    ("bn_on_rnn_output", "layer_combination", "forward"),
    ("ce_batch_mismatch", "loss_label_mismatch", "loss"),
    ("numpy_into_model", "data_preprocessing", "forward", 2, {"expect": ("AttributeError", "TypeError")}),
    ("argmax_batch_axis", "loss_label_mismatch", "validation"),
])


# =============================================================================================
# transformer encoder
# =============================================================================================
def t_transformer(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    L = p.randint("seq_len", 8, 40)
    V = p.choice("vocab", [50, 128, 300, 1000])
    d = p.choice("d_model", [16, 32, 24, 48])
    nh = p.choice("nhead", [2, 4])
    ffw = p.choice("ff_dim", [32, 64])
    C = p.randint("classes", 2, 20)
    style = p.choice("encoder_style", ["TransformerEncoder", "MultiheadAttention"])
    if mut == "mha_kdim":
        style = p.set("encoder_style", "MultiheadAttention")
    if mut == "padding_mask_transposed":
        style = p.set("encoder_style", "TransformerEncoder")
    if mut == "heads_not_divisor":
        style = p.set("encoder_style", "TransformerEncoder")
    short = p.choice("short", [2, 4, 5])
    if mut == "conv1d_after_embedding":
        while L == d:
            L = p.set("seq_len", L + 1)
    Lpos = L - short if (mut == "pos_len" and fault) else L
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    data = [f"tokens = torch.randint(1, {V}, ({N}, {L}))", f"lengths = torch.randint({L // 2}, {L + 1}, ({N},))",
            f"tokens[torch.arange({L})[None, :] >= lengths[:, None]] = 0   # pad id 0", f"labels = torch.randint(0, {C}, ({N},))"]
    if mut == "padded_len_data" and fault:
        data[0] = f"tokens = torch.randint(1, {V}, ({N}, {L + 6}))   # padded with another max length"
        data[2] = f"tokens[torch.arange({L + 6})[None, :] >= lengths[:, None]] = 0   # pad id 0"
    nh_eff = (nh + 1 if d % (nh + 1) else nh + 3) if (mut == "heads_not_divisor" and fault) else nh
    init = [f"self.embed = nn.Embedding({V}, {d}, padding_idx=0)", f"self.pos = nn.Parameter(torch.zeros(1, {Lpos}, {d}))"]
    if style == "TransformerEncoder":
        init += [f"layer = nn.TransformerEncoderLayer(d_model={d}, nhead={nh_eff}, dim_feedforward={ffw}, batch_first=True)",
                 "self.encoder = nn.TransformerEncoder(layer, num_layers=2)"]
    else:
        kd = d // 2 if (mut == "mha_kdim" and fault) else d
        init += [f"self.proj = nn.Linear({d}, {kd})", f"self.attn = nn.MultiheadAttention({d}, {nh}, batch_first=True)",
                 f"self.norm = nn.LayerNorm({d})"]
    init.append(f"self.fc = nn.Linear({d}, {C})")
    fwd = ["pad = tokens == 0", "x = self.embed(tokens) + self.pos"]
    if mut == "conv1d_after_embedding":
        init.insert(2, f"self.local = nn.Conv1d({d}, {d}, 3, padding=1)   # local n-gram features")
        fwd.append("x = x + torch.relu(self.local(x))" if fault else "x = x + torch.relu(self.local(x.transpose(1, 2))).transpose(1, 2)")
    if style == "TransformerEncoder":
        mask = "pad.T" if (mut == "padding_mask_transposed" and fault) else "pad"
        fwd.append(f"x = self.encoder(x, src_key_padding_mask={mask})")
    else:
        fwd += ["kv = self.proj(x)", "a, _ = self.attn(x, kv, kv, key_padding_mask=pad)", "x = self.norm(x + a)"]
    if mut == "no_pooling" and fault:
        fwd.append("return self.fc(x)")
    else:
        fwd.append("return self.fc(x.mean(dim=1))")
    net = module("TextTransformer", init, fwd, fwd_args="tokens") + ["", "", "model = TextTransformer()"]
    loop = [f"loader = DataLoader(TensorDataset(tokens, labels), batch_size={B}, shuffle=True)", "criterion = nn.CrossEntropyLoss()",
            optim_line(p)] + train_loop(p, "loader")
    s = lines_to_script([head, data, net, loop])
    fixes = {
        "pos_len": (f"size the positional parameter for the sequence length: torch.zeros(1, {L}, {d})", f"positional table of {Lpos} positions for {L}-token batches"),
        "heads_not_divisor": (f"d_model={d} must be divisible by nhead: use nhead={nh}", f"nhead={nh_eff} does not divide d_model={d}"),
        "padding_mask_transposed": ("src_key_padding_mask must be (batch, seq): pass pad, not pad.T", "key padding mask transposed to (seq, batch)"),
        "mha_kdim": (f"project keys/values to embed_dim={d} (or pass kdim/vdim to nn.MultiheadAttention)", f"keys projected to {d // 2} dims for a {d}-dim attention"),
        "no_pooling": ("pool over the tokens before the classifier (x.mean(dim=1))", "per-token logits passed to CrossEntropyLoss with sequence labels"),
        "padded_len_data": (f"pad the token ids to the {L} positions the model was built for", f"tokens padded to {L + 6}, the positional table has {L}"),
        "conv1d_after_embedding": (f"transpose the embeddings to (batch, {d}, length) for Conv1d and back: self.local(x.transpose(1, 2)).transpose(1, 2)",
                                   "Conv1d applied to (batch, length, dim) embeddings"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_transformer", t_transformer, [
    ("pos_len", "layer_definition", "forward"),
    ("heads_not_divisor", "layer_definition", "build", 2, {"expect": ("AssertionError",)}),
    ("padding_mask_transposed", "input_pipeline", "forward"),
    ("mha_kdim", "layer_combination", "forward"),
    ("no_pooling", "layer_definition", "loss"),
    ("padded_len_data", "data_preprocessing", "forward"),
    # fourth generation
    ("conv1d_after_embedding", "layer_combination", "forward"),
])


# =============================================================================================
# autoencoders (dense and convolutional), MSELoss(recon, x)
# =============================================================================================
def t_autoencoder(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    kind_ = p.choice("ae_kind", ["dense", "conv"])
    if mut in ("decoder_out_features", "images_not_flattened", "code_size", "images_not_resized"):
        kind_ = p.set("ae_kind", "dense")
    if mut in ("output_padding", "decoder_channels", "enc_in_channels", "missing_channel_axis", "size_not_divisible", "dec_missing_upsample"):
        kind_ = p.set("ae_kind", "conv")
    H, W = p.choice("hw", [(28, 28), (16, 16), (32, 32), (24, 24), (20, 20)])
    Ch = p.choice("channels", [1, 3])
    if mut == "decoder_channels":
        Ch = p.set("channels", 3)
    code = p.choice("code", [4, 8, 16, 10])
    k = p.choice("off", [1, 4, 7])
    # fourth generation: draws of the new mutations only
    if mut == "missing_channel_axis":
        Ch = p.set("channels", 1)
    if mut == "images_not_resized":
        H2, W2 = p.choice("raw_hw", [hw for hw in [(30, 30), (26, 22), (36, 36), (18, 18), (40, 28)] if hw != (H, W)])
    odd = p.choice("odd_off", [2, 6]) if mut == "size_not_divisible" else 0
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    D = H * W * Ch
    if kind_ == "dense":
        data = [f"images = torch.rand({N}, {Ch}, {H}, {W})", "X = images.flatten(1)" if not (mut == "images_not_flattened" and fault) else "X = images"]
        if mut == "images_not_resized" and fault:
            data[0] = f"images = torch.rand({N}, {Ch}, {H2}, {W2})   # photos at {H2}x{W2}, not resized to {H}x{W}"
        out_f = D - k if (mut == "decoder_out_features" and fault) else D
        dec_in = code * 2 if (mut == "code_size" and fault) else code
        model = ["model = nn.Sequential(", f"    nn.Linear({D}, 64),", "    nn.ReLU(),", f"    nn.Linear(64, {code}),   # code",
                 "    nn.ReLU(),", f"    nn.Linear({dec_in}, 64),", "    nn.ReLU(),", f"    nn.Linear(64, {out_f}),", "    nn.Sigmoid(),", ")"]
    else:
        data = [f"X = torch.rand({N}, {Ch}, {H}, {W})"]
        if mut == "missing_channel_axis":
            data = [f"X = torch.rand({N}, {H}, {W})   # grayscale"] + ([] if fault else ["X = X.unsqueeze(1)   # (N, 1, H, W)"])
        if mut == "size_not_divisible" and fault:
            data = [f"X = torch.rand({N}, {Ch}, {H + odd}, {W + odd})   # crops of {H + odd}x{W + odd}"]
        op = ", output_padding=1"
        op1 = "" if (mut == "output_padding" and fault) else op
        dch = 2 if (mut == "decoder_channels" and fault) else Ch
        ein = Ch if (mut == "enc_in_channels" and fault) else 8
        model = module("ConvAE", [f"self.enc = nn.Sequential(nn.Conv2d({Ch}, 8, 3, stride=2, padding=1), nn.ReLU(), nn.Conv2d({ein}, 16, 3, stride=2, padding=1), nn.ReLU())",
                                  f"self.dec = nn.Sequential(nn.ConvTranspose2d(16, 8, 3, stride=2, padding=1{op1}), nn.ReLU(), "
                                  + (f"nn.Conv2d(8, {dch}, 3, padding=1), nn.Sigmoid())" if (mut == "dec_missing_upsample" and fault) else
                                     f"nn.ConvTranspose2d(8, {dch}, 3, stride=2, padding=1{op}), nn.Sigmoid())")],
                       ["return self.dec(self.enc(x))"]) + ["", "", "model = ConvAE()"]
    loop = [f"loader = DataLoader(TensorDataset(X), batch_size={B}, shuffle=True)", "criterion = nn.MSELoss()", optim_line(p),
            f"for epoch in range({p.choice('epochs', [1, 2])}):", "    for (xb,) in loader:", "        optimizer.zero_grad()",
            "        recon = model(xb)", "        loss = criterion(recon, xb)", "        loss.backward()", "        optimizer.step()",
            '    print("epoch", epoch, "mse", loss.item())']
    s = lines_to_script([head, data, model, loop])
    fixes = {
        "decoder_out_features": (f"the decoder must output all {D} values: nn.Linear(64, {D})", f"decoder outputs {D - k} values for {D}-value inputs"),
        "images_not_flattened": (f"flatten the images for the dense autoencoder: X = images.flatten(1) -> ({N}, {D})", "images fed unflattened to nn.Linear"),
        "code_size": (f"the decoder's first Linear takes the {code}-dim code: nn.Linear({code}, 64)", f"decoder expects a {code * 2}-dim code, the encoder gives {code}"),
        "output_padding": ("add output_padding=1 to the ConvTranspose2d layers so 7 -> 14 -> 28 (sizes that were even before the stride-2 convs)",
                           "ConvTranspose2d without output_padding gives a smaller reconstruction"),
        "decoder_channels": (f"reconstruct {Ch} channels: the last ConvTranspose2d outputs {Ch}", "decoder reconstructs the wrong channel count"),
        "images_not_resized": (f"resize the images to {H}x{W} before flattening ({D} values per image)", "images not resized to the size the autoencoder was built for"),
        "dec_missing_upsample": ("upsample twice in the decoder (two stride-2 ConvTranspose2d) to undo the two stride-2 encoder convs", "decoder upsamples once: the reconstruction has half the input size"),
        "enc_in_channels": ("the second encoder conv takes the first conv's 8 output channels: nn.Conv2d(8, 16, 3, stride=2, padding=1)",
                            f"second encoder Conv2d declared with {Ch} input channels after a conv with 8 outputs"),
        "missing_channel_axis": ("add the channel axis: X.unsqueeze(1) -> (N, 1, H, W)", "grayscale images without a channel axis"),
        "size_not_divisible": (f"resize or pad the crops to a multiple of 4 (e.g. {H}x{W}) so two stride-2 convs and two ConvTranspose2d restore the size",
                               f"{H + odd}x{W + odd} crops: the reconstruction comes back at another size"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_autoencoder", t_autoencoder, [
    ("decoder_out_features", "layer_definition", "loss"),
    ("images_not_flattened", "data_preprocessing", "forward"),
    ("code_size", "layer_definition", "forward"),
    ("output_padding", "layer_definition", "loss"),
    ("decoder_channels", "layer_definition", "loss"),
    # fourth generation
    ("images_not_resized", "data_preprocessing", "forward"),
    ("enc_in_channels", "layer_definition", "forward"),
    ("missing_channel_axis", "data_preprocessing", "forward"),
    ("size_not_divisible", "data_preprocessing", "loss"),
    ("dec_missing_upsample", "layer_definition", "loss"),
])


# =============================================================================================
# EmbeddingBag text classifier with offsets
# =============================================================================================
def t_embbag(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    V = p.choice("vocab", [100, 250, 1000, 5000])
    d = p.choice("embed_dim", [16, 32, 64])
    C = p.randint("classes", 2, 10)
    small = p.choice("small_vocab", [20, 50])
    mode = p.choice("mode", ["mean", "sum", "max"])
    head = thead(p, ["from torch.utils.data import DataLoader"])
    data = [f"docs = [torch.randint(1, {V}, (int(n),)) for n in torch.randint(3, 30, ({N},))]", f"labels = torch.randint(0, {C}, ({N},))",
            "dataset = list(zip(docs, labels))"]
    if mut == "float_ids" and fault:
        data[0] = f"docs = [torch.randint(1, {V}, (int(n),)).float() / {V} for n in torch.randint(3, 30, ({N},))]   # normalised ids"
    if mut == "offsets_wrong" and fault:
        off = "offsets = torch.tensor([0] + [len(t) for t in texts]).cumsum(0)   # one offset per boundary"
    else:
        off = "offsets = torch.tensor([0] + [len(t) for t in texts[:-1]]).cumsum(0)"
    coll = ["def collate_batch(batch):", "    texts, ys = zip(*batch)", f"    {off}", "    return torch.cat(texts), offsets, torch.stack(ys)"]
    emb_v = small if (mut == "vocab_small" and fault) else V
    fc_in = d * 2 if (mut == "fc_in" and fault) else d
    net = module("BagClassifier", [f'self.bag = nn.EmbeddingBag({emb_v}, {d}, mode="{mode}")', f"self.fc = nn.Linear({fc_in}, {C})"],
                 ["return self.fc(self.bag(text, offsets))"], fwd_args="text, offsets") + ["", "", "model = BagClassifier()"]
    call = "model(text)" if (mut == "offsets_missing" and fault) else "model(text, offsets)"
    loop = [f"loader = DataLoader(dataset, batch_size={B}, shuffle=True, collate_fn=collate_batch)", "criterion = nn.CrossEntropyLoss()",
            optim_line(p)] + train_loop(p, "loader", fwd=f"out = {call}", unpack="text, offsets, yb")
    if mut == "offsets_missing":
        net = module("BagClassifier", [f'self.bag = nn.EmbeddingBag({emb_v}, {d}, mode="{mode}")', f"self.fc = nn.Linear({fc_in}, {C})"],
                     ["return self.fc(self.bag(text, offsets))"], fwd_args="text, offsets=None") + ["", "", "model = BagClassifier()"]
    s = lines_to_script([head, data, coll, net, loop])
    fixes = {
        "vocab_small": (f"size the EmbeddingBag for the vocabulary: nn.EmbeddingBag({V}, {d})", f"EmbeddingBag({small}) for ids up to {V - 1}"),
        "fc_in": (f"the bag output is {d}-dim: nn.Linear({d}, {C})", f"nn.Linear({d * 2}) after a {d}-dim EmbeddingBag"),
        "float_ids": ("keep the token ids as int64 tensors", "token ids normalised to floats"),
        "offsets_wrong": ("offsets are start positions: [0] + cumulative lengths without the last", "offsets computed as end positions"),
        "offsets_missing": ("pass the offsets for the flat 1-D token tensor: model(text, offsets)", "1-D concatenated tokens passed to EmbeddingBag without offsets"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_embbag", t_embbag, [
    ("vocab_small", "layer_definition", "forward", 2, {"expect": ("IndexError",)}),
    ("fc_in", "layer_definition", "forward"),
    ("float_ids", "data_preprocessing", "forward"),
    ("offsets_wrong", "input_pipeline", "forward"),
    ("offsets_missing", "input_pipeline", "forward"),
])


# =============================================================================================
# regression with MSELoss
# =============================================================================================
def t_regression(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Fd = p.randint("features", 3, 40)
    K = p.randint("targets", 2, 4)
    h = p.choice("hidden", [16, 32, 64])
    lossc = p.choice("loss", ["MSELoss", "L1Loss", "SmoothL1Loss", "HuberLoss"])
    if mut == "batch_of_one":
        N = p.set("n_samples", B * p.randint("full_batches", 2, 5) + 1)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"], numpy=True)
    dev, to = device_lines(p)
    data = [f'x_np = np.random.rand({N}, {Fd}).astype("float32")', f'y_np = np.random.rand({N}, {K}).astype("float32")']
    if mut == "targets_float64" and fault:
        data[1] = f"y_np = np.random.rand({N}, {K})   # float64"
    if mut == "stats_with_target":
        data += ["table = np.hstack([x_np, y_np])" if fault else "table = x_np",
                 "mean, std = table.mean(0), table.std(0) + 1e-6", "x_np = (x_np - mean) / std" if not fault else "x_np = (x_np - mean) / std   # column stats of the whole table"]
    if mut == "nan_targets" and fault:
        data.append("y_np[2, 0] = np.nan   # a missing measurement")
    data += ["X, Y = torch.from_numpy(x_np), torch.from_numpy(y_np)"]
    out = K + 1 if (mut == "out_units" and fault) else K
    net = ["model = nn.Sequential(", f"    nn.Linear({Fd}, {h}),", "    nn.ReLU(),", f"    nn.Linear({h}, {out}),", f"){to}"]
    if mut == "batch_of_one":
        net.insert(2, f"    nn.BatchNorm1d({h}),")
    if mut == "conv1d_after_linear":
        net = ["model = nn.Sequential(", f"    nn.Linear({Fd}, {h}),", "    nn.ReLU(),"] + ([] if fault else [f"    nn.Unflatten(1, (1, {h})),   # one channel of {h} values"]) + \
            ["    nn.Conv1d(1, 4, 5, padding=2),", "    nn.ReLU(),", "    nn.AdaptiveAvgPool1d(8),", "    nn.Flatten(),", f"    nn.Linear(32, {out}),", f"){to}"]
    pred_x = f'x_new = torch.rand(4, {Fd + 1 if (mut == "predict_extra_column" and fault) else Fd})'
    pred = f"    print(model(x_new{to}))"
    if mut == "numpy_into_model":
        pred_x = f'x_new = np.random.rand(4, {Fd}).astype("float32")   # new measurements'
        pred = "    print(model(x_new))" if fault else f"    print(model(torch.from_numpy(x_new){to}))"
    dl = ", drop_last=True" if (mut == "batch_of_one" and not fault) else ""
    loop = [f"loader = DataLoader(TensorDataset(X, Y), batch_size={B}, shuffle=True{dl})", f"criterion = nn.{lossc}()", optim_line(p)] + \
        train_loop(p, "loader", dev=to) + ["", "model.eval()", pred_x, "with torch.no_grad():", pred]
    s = lines_to_script([head, dev, data, net, loop])
    fixes = {
        "targets_float64": ("cast the targets to float32: y_np.astype('float32')", "float64 targets with float32 predictions"),
        "out_units": (f"one output per target: nn.Linear({h}, {K})", f"{K + 1} outputs for {K} targets"),
        "predict_extra_column": (f"predict on the {Fd} feature columns", f"prediction rows with {Fd + 1} columns"),
        "stats_with_target": (f"compute the normalisation stats on the {Fd} feature columns only", "mean/std computed over features + targets"),
        "nan_targets": ("drop or impute the NaN targets before training (no exception: the loss becomes nan)", "NaN in the regression targets"),
        "batch_of_one": (f"drop the incomplete last batch: DataLoader(..., drop_last=True) ({N} rows in batches of {B} leave 1)",
                         f"{N} rows in batches of {B}: the last batch has one row for BatchNorm1d in training"),
        "numpy_into_model": ("convert the array to a tensor first: model(torch.from_numpy(x_new))", "numpy array passed to the model at prediction"),
        "conv1d_after_linear": (f"add nn.Unflatten(1, (1, {h})) before nn.Conv1d", "nn.Conv1d fed the 2-D Linear output"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_regression", t_regression, [
    ("targets_float64", "data_preprocessing", "backward"),
    ("out_units", "layer_definition", "loss"),
    ("predict_extra_column", "data_preprocessing", "predict"),
    ("stats_with_target", "data_preprocessing", "data"),
    ("nan_targets", "other", "fit", 1),
    # fourth generation
    ("batch_of_one", "input_pipeline", "forward"),
    ("numpy_into_model", "data_preprocessing", "predict"),
    ("conv1d_after_linear", "layer_combination", "forward"),
])


# =============================================================================================
# multi-label with BCEWithLogitsLoss
# =============================================================================================
def t_multilabel(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Fd = p.randint("features", 5, 50)
    K = p.randint("tags", 3, 25)
    h = p.choice("hidden", [32, 64])
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    data = [f"X = torch.randn({N}, {Fd})", f"Y = (torch.rand({N}, {K}) > 0.7).float()   # multi-hot tags"]
    if mut == "targets_long" and fault:
        data[1] = f"Y = (torch.rand({N}, {K}) > 0.7).long()   # multi-hot tags"
    if mut == "targets_class_index" and fault:
        data[1] = f"Y = torch.randint(0, {K}, ({N},))   # first tag only"
    out = K - 2 if (mut == "out_units" and fault) else K
    net = module("Tagger", [f"self.body = nn.Sequential(nn.Linear({Fd}, {h}), nn.ReLU())", f"self.head = nn.Linear({h}, {out})"],
                 ["return self.head(self.body(x))"]) + ["", "", "model = Tagger()"]
    crit = "nn.BCELoss()" if (mut == "bce_on_logits" and fault) else "nn.BCEWithLogitsLoss()"
    loop = [f"loader = DataLoader(TensorDataset(X, Y), batch_size={B}, shuffle=True)", f"criterion = {crit}", optim_line(p)] + \
        train_loop(p, "loader") + ["", "with torch.no_grad():", "    probs = torch.sigmoid(model(X[:3]))", "    print((probs > 0.5).int())"]
    s = lines_to_script([head, data, net, loop])
    fixes = {
        "targets_long": ("BCEWithLogitsLoss needs float targets: Y.float()", "int64 multi-hot targets"),
        "targets_class_index": (f"multi-label targets are (N, {K}) multi-hot floats, not class indices", "class indices for a multi-label BCE loss"),
        "out_units": (f"one logit per tag: nn.Linear({h}, {K})", f"{K - 2} logits for {K} tags"),
        "bce_on_logits": ("use nn.BCEWithLogitsLoss on raw logits (or apply torch.sigmoid before nn.BCELoss)", "nn.BCELoss on unbounded logits"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_multilabel", t_multilabel, [
    ("targets_long", "loss_label_mismatch", "loss"),
    ("targets_class_index", "loss_label_mismatch", "loss"),
    ("out_units", "layer_definition", "loss"),
    ("bce_on_logits", "other", "loss", 1),
])


# =============================================================================================
# segmentation: per-pixel CrossEntropyLoss, (N, C, H, W) logits vs (N, H, W) targets
# =============================================================================================
def t_segmentation(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", [12, 16, 20]), p.choice("batch_size", [2, 4, 5])
    H, W = p.choice("hw", [(32, 32), (24, 24), (16, 40), (28, 28)])
    Ch = p.choice("channels", [1, 3])
    K = p.randint("mask_classes", 2, 8)
    f = p.choice("filters", [8, 16])
    # fourth generation: draws of the new mutations only
    if mut in ("missing_channel_axis", "getitem_no_channel"):
        Ch = p.set("channels", 1)
    odd = p.choice("odd_off", [1, 3]) if mut == "size_not_divisible" else 0
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"] + (["from torch.utils.data import Dataset"] if mut == "getitem_no_channel" else []))
    data = [f"images = torch.rand({N}, {Ch}, {H}, {W})", f"masks = torch.randint(0, {K}, ({N}, {H}, {W}))"]
    if mut == "missing_channel_axis":
        data = [f"images = torch.rand({N}, {H}, {W})   # grayscale"] + ([] if fault else ["images = images.unsqueeze(1)   # (N, 1, H, W)"]) + [data[1]]
    if mut == "size_not_divisible" and fault:
        data = [f"images = torch.rand({N}, {Ch}, {H + odd}, {W + odd})   # tiles cut at {H + odd}x{W + odd}",
                f"masks = torch.randint(0, {K}, ({N}, {H + odd}, {W + odd}))"]
    if mut == "getitem_no_channel":
        data = [f"scans = torch.randint(0, 256, ({N}, {H}, {W}), dtype=torch.uint8)   # grayscale", data[1], "", "",
                "class Tiles(Dataset):", "    def __init__(self, scans, masks):", "        self.scans, self.masks = scans, masks", "",
                "    def __len__(self):", "        return len(self.scans)", "", "    def __getitem__(self, i):",
                "        img = self.scans[i].float() / 255.0", "        return " + ("img" if fault else "img.unsqueeze(0)") + ", self.masks[i]"]
    if mut == "mask_channel_axis" and fault:
        data[1] = f"masks = torch.randint(0, {K}, ({N}, 1, {H}, {W}))   # loaded as 1-channel PNGs"
    if mut == "mask_onehot_last" and fault:
        data.append(f"masks = nn.functional.one_hot(masks, {K}).float()   # (N, H, W, K)")
    if mut == "masks_not_resized" and fault:
        data[1] = f"masks = torch.randint(0, {K}, ({N}, {H * 2}, {W * 2}))   # full-resolution annotations"
    outK = K - 1 if (mut == "out_classes" and fault) else K
    up = "" if (mut == "missing_upsample" and fault) else ", nn.Upsample(scale_factor=2)"
    skip_pad = "0" if (mut == "skip_cat_size" and fault) else "1"
    mid_in = Ch if (mut == "mid_in_channels" and fault) else f
    cat_dim = 0 if (mut == "cat_batch_dim" and fault) else 1
    net = module("TinySeg", [f"self.down = nn.Sequential(nn.Conv2d({Ch}, {f}, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2))",
                             f"self.mid = nn.Sequential(nn.Conv2d({mid_in}, {f}, 3, padding={skip_pad}), nn.ReLU(){up})",
                             f"self.skip = nn.Conv2d({Ch}, {f}, 1)",
                             f"self.head = nn.Conv2d({2 * f}, {outK}, 1)"],
                 ["s = self.skip(x)", "h = self.mid(self.down(x))", f"h = torch.cat([h, s], dim={cat_dim})", "return self.head(h)   # (N, K, H, W)"]) + \
        ["", "", "model = TinySeg()"]
    if mut == "missing_upsample" and fault:
        net = [ln.replace("h = torch.cat([h, s], dim=1)", "h = torch.cat([h, s[:, :, ::2, ::2]], dim=1)   # skip resized to match") for ln in net]
    ds_expr = "Tiles(scans, masks)" if mut == "getitem_no_channel" else "TensorDataset(images, masks)"
    loop = [f"loader = DataLoader({ds_expr}, batch_size={B}, shuffle=True)", "criterion = nn.CrossEntropyLoss()", optim_line(p)] + \
        train_loop(p, "loader")
    s = lines_to_script([head, data, net, loop])
    fixes = {
        "mask_channel_axis": ("squeeze the mask channel: masks[:, 0] -> (N, H, W) class ids", "masks kept as (N, 1, H, W)"),
        "mask_onehot_last": ("pass class-id masks (N, H, W), or one-hot masks permuted to (N, K, H, W)", "one-hot masks in (N, H, W, K) layout"),
        "masks_not_resized": (f"resize the masks to the {H}x{W} images (nearest)", "masks at twice the image resolution"),
        "out_classes": (f"output one channel per mask class: nn.Conv2d({2 * f}, {K}, 1)", f"{K - 1} output channels for mask ids up to {K - 1}"),
        "missing_upsample": ("upsample the decoder back to the input size (nn.Upsample(scale_factor=2))", "logits at half the mask resolution"),
        "skip_cat_size": ("use padding=1 so the decoder map keeps the skip connection's size", "unpadded conv makes the decoder map smaller than the skip"),
        "missing_channel_axis": ("add the channel axis: images.unsqueeze(1) -> (N, 1, H, W)", "grayscale images without a channel axis"),
        "getitem_no_channel": ("return each scan with its channel axis from __getitem__: img.unsqueeze(0) -> (1, H, W)", "Dataset returns grayscale images without channel axis"),
        "size_not_divisible": (f"cut the tiles at an even size (e.g. {H}x{W}) so pooling and upsampling give back the skip's size",
                               f"{H + odd}x{W + odd} tiles: the pooled and upsampled map is smaller than the skip"),
        "mid_in_channels": (f"the middle conv takes the {f} channels of the down block: nn.Conv2d({f}, {f}, 3, padding=1)", f"middle Conv2d declared with {Ch} input channels"),
        "cat_batch_dim": ("concatenate the decoder map and the skip on the channel axis: torch.cat([h, s], dim=1)", "skip concatenated on the batch axis (dim=0)"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_segmentation", t_segmentation, [
    ("mask_channel_axis", "loss_label_mismatch", "loss"),
    ("mask_onehot_last", "loss_label_mismatch", "loss"),
    ("masks_not_resized", "data_preprocessing", "loss"),
    ("out_classes", "loss_label_mismatch", "loss", 2, {"expect": ("IndexError",)}),
    ("missing_upsample", "layer_definition", "loss"),
    ("skip_cat_size", "layer_combination", "forward"),
    # fourth generation
    ("missing_channel_axis", "data_preprocessing", "forward"),
    ("getitem_no_channel", "data_preprocessing", "forward"),
    ("size_not_divisible", "data_preprocessing", "forward"),
    ("mid_in_channels", "layer_definition", "forward"),
    ("cat_batch_dim", "layer_combination", "forward"),
])


# =============================================================================================
# random_split + training loop + validation loop (faults in the eval phase too)
# =============================================================================================
def t_trainval(p: P, mut: str, fault: bool):
    N = p.choice("n_samples", [40, 50, 64, 75])
    B = p.choice("batch_size", BS_OPTS)
    Fd = p.randint("features", 4, 30)
    C = p.randint("classes", 2, 15)
    h = p.choice("hidden", [16, 32, 64])
    frac = p.choice("val_fraction", [0.2, 0.25, 0.3])
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset, random_split"])
    dev, to = device_lines(p)
    data = [f"X = torch.randn({N}, {Fd})", f"y = torch.randint(0, {C}, ({N},))", "dataset = TensorDataset(X, y)",
            f"n_val = int(len(dataset) * {frac})",
            "train_set, val_set = random_split(dataset, [len(dataset) - n_val, n_val + 1])" if (mut == "split_lengths" and fault) else
            "train_set, val_set = random_split(dataset, [len(dataset) - n_val, n_val])"]
    net = module("Classifier", [f"self.fc1 = nn.Linear({Fd}, {h})", "self.drop = nn.Dropout(0.2)", f"self.fc2 = nn.Linear({h}, {C})"],
                 ["return self.fc2(self.drop(torch.relu(self.fc1(x))))"]) + ["", "", f"model = Classifier(){to}"]
    if mut == "residual_width":
        w = p.choice("block_width", [h // 2, h + 16, 3 * h])
        net = module("Classifier", [f"self.fc1 = nn.Linear({Fd}, {h})", f"self.res = nn.Linear({h}, {w if fault else h})", "self.drop = nn.Dropout(0.2)",
                                    f"self.fc2 = nn.Linear({h}, {C})"],
                     ["x = torch.relu(self.fc1(x))", "x = x + torch.relu(self.res(x))   # skip connection", "return self.fc2(self.drop(x))"]) + \
            ["", "", f"model = Classifier(){to}"]
    vbs = "None" if (mut == "val_loader_unbatched" and fault) else str(B * 2)
    loaders = [f"train_loader = DataLoader(train_set, batch_size={B}, shuffle=True)",
               f"val_loader = DataLoader(val_set, batch_size={vbs})", "criterion = nn.CrossEntropyLoss()", optim_line(p)]
    argm = "0" if (mut == "argmax_batch_axis" and fault) else "1"
    vloss = "criterion(out, yb.float())" if (mut == "val_loss_float_targets" and fault) else "criterion(out, yb)"
    vx = "torch.cat([xb, torch.ones(len(xb), 1)], dim=1)" if (mut == "val_extra_feature" and fault) else "xb"
    evl = ["    model.eval()", "    correct, total, val_loss = 0, 0, 0.0", "    with torch.no_grad():", "        for xb, yb in val_loader:"] + \
        ([f"            xb, yb = xb{to}, yb{to}"] if to else []) + \
        (["            # a bias column is appended for the validation batches"] if vx != "xb" else []) + [
        f"            out = model({vx})"] + (["            criterion(out, yb).backward()   # gradient check left in"] if (mut == "backward_in_eval" and fault) else []) + [
        f"            val_loss += {vloss}.item() * len(yb)",
        f"            correct += (out.argmax({argm}) == yb).sum().item()", "            total += len(yb)",
        '    print(f"epoch {epoch}: val loss {val_loss / total:.3f} acc {correct / total:.2f}")']
    tl = train_loop(p, "train_loader", dev=to)
    tl = tl[:-1] + evl
    s = lines_to_script([head, dev, data, net, loaders, tl])
    fixes = {
        "split_lengths": (f"random_split lengths must add up to {N}: [len(dataset) - n_val, n_val]", "random_split lengths sum to one more than the dataset"),
        "val_loader_unbatched": (f"give the validation loader a batch size: DataLoader(val_set, batch_size={B * 2})", "validation DataLoader(batch_size=None) yields single samples"),
        "argmax_batch_axis": ("take the argmax over the class axis: out.argmax(1)", "accuracy uses argmax over the batch axis"),
        "val_loss_float_targets": ("keep the validation targets as int64 class ids (no .float())", "float class-index targets in the validation loss"),
        "val_extra_feature": (f"prepare the validation batches like the training ones ({Fd} features)", f"validation batches get an extra column ({Fd + 1} features)"),
        "backward_in_eval": ("do not call backward inside torch.no_grad(); the validation loop only measures", "backward() on a loss computed under torch.no_grad()"),
        "residual_width": (f"the residual layer must keep the width {h}: nn.Linear({h}, {h})", f"residual add of widths {h} and {p.params.get('block_width')}"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_trainval", t_trainval, [
    ("split_lengths", "input_pipeline", "data"),
    ("val_loader_unbatched", "input_pipeline", "validation"),
    ("argmax_batch_axis", "loss_label_mismatch", "validation"),
    ("val_loss_float_targets", "loss_label_mismatch", "validation"),
    ("val_extra_feature", "data_preprocessing", "validation"),
    ("backward_in_eval", "other", "validation", 1),
    # fourth generation
    ("residual_width", "layer_definition", "forward"),
])


# =============================================================================================
# pure nn.Sequential models (Flatten / Unflatten / LazyLinear / recurrent layer inside)
# =============================================================================================
def t_sequential(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    H, W = p.choice("hw", [(28, 28), (16, 16), (20, 24), (32, 32)])
    C = p.randint("classes", 2, 20)
    f = p.choice("filters", [4, 8])
    lazy = p.flag("lazy_linear", 0.4)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    if mut == "unflatten_wrong":
        data = [f"X = torch.rand({N}, {H * W})   # flattened pixels from the CSV"]
        unf = f"nn.Unflatten(1, (1, {W + 2}, {H}))" if fault else f"nn.Unflatten(1, (1, {H}, {W}))"
        flat = f * ((H - 2) // 2) * ((W - 2) // 2)
        seq = ["model = nn.Sequential(", f"    {unf},", f"    nn.Conv2d(1, {f}, 3),", "    nn.ReLU(),", "    nn.MaxPool2d(2),", "    nn.Flatten(),",
               f"    nn.Linear({flat}, {C}),", ")"]
    elif mut in ("lstm_in_sequential", "steps_features_swapped"):
        T, Fd = p.choice("tf", [(10, 4), (15, 6), (22, 3)] if mut == "lstm_in_sequential" else [(12, 5), (18, 7), (25, 2), (9, 3)])
        data = [f"X = torch.randn({N}, {T}, {Fd})"]
        if mut == "steps_features_swapped":
            data = [f"X = torch.randn({N}, {Fd}, {T})   # (samples, channels, steps) as recorded"] + ([] if fault else ["X = X.transpose(1, 2)"])
        seq = ["class LastStep(nn.Module):", "    def forward(self, x):", "        out, _ = x", "        return out[:, -1]", "", "",
               "model = nn.Sequential(", f"    nn.LSTM({Fd}, 16, batch_first=True),"] + ([] if (fault and mut == "lstm_in_sequential") else ["    LastStep(),"]) + \
            [f"    nn.Linear(16, {C}),", ")"]
    elif mut == "images_not_flattened":   # fourth generation
        h = p.choice("hidden", [32, 48, 64])
        data = [f"X = torch.rand({N}, 1, {H}, {W})   # grayscale images"] + ([] if fault else ["X = X.flatten(1)   # one row of pixels per image"])
        seq = ["model = nn.Sequential(", f"    nn.Linear({H * W}, {h}),", "    nn.ReLU(),", f"    nn.Linear({h}, {C}),", ")"]
    elif mut == "conv1d_after_linear":
        T = p.choice("steps", [20, 32, 40])
        data = [f"X = torch.randn({N}, {T})   # one signal per row"]
        seq = ["model = nn.Sequential(", f"    nn.Linear({T}, 64),", "    nn.ReLU(),"] + ([] if fault else ["    nn.Unflatten(1, (1, 64)),"]) + \
            ["    nn.Conv1d(1, 8, 5),", "    nn.ReLU(),", "    nn.AdaptiveAvgPool1d(1),", "    nn.Flatten(),", f"    nn.Linear(8, {C}),", ")"]
    else:   # flatten_missing / linear_in_wrong
        data = [f"X = torch.rand({N}, 1, {H}, {W})"]
        if mut == "image_not_resized":
            H2, W2 = p.choice("raw_hw", [hw for hw in [(30, 30), (24, 20), (36, 28), (26, 26)] if ((hw[0] - 2) // 2) * ((hw[1] - 2) // 2) != ((H - 2) // 2) * ((W - 2) // 2)])
            if fault:
                data = [f"X = torch.rand({N}, 1, {H2}, {W2})   # scans at {H2}x{W2}, not resized to {H}x{W}"]
        if mut == "missing_channel_axis":
            data = [f"X = torch.rand({N}, {H}, {W})   # grayscale"] + ([] if fault else ["X = X.unsqueeze(1)"])
        flat = f * ((H - 2) // 2) * ((W - 2) // 2)
        lin = f"nn.LazyLinear({C})" if (lazy and mut not in ("linear_in_wrong", "image_not_resized")) else \
            f"nn.Linear({f * (H // 2) * (W // 2) if (mut == 'linear_in_wrong' and fault) else flat}, {C})"
        conv = f"nn.Conv1d(1, {f}, 3)" if (mut == "conv1d_on_images" and fault) else f"nn.Conv2d(1, {f}, 3)"
        seq = ["model = nn.Sequential(", f"    {conv},", "    nn.ReLU(),", "    nn.MaxPool2d(2),"] + \
            ([] if (mut == "flatten_missing" and fault) else ["    nn.Flatten(),"]) + [f"    {lin},", ")"]
    data.append(f"y = torch.randint(0, {C}, ({N},))")
    pm = ["print(model)"] if p.flag("print_model", 0.4) else []
    loop = [f"loader = DataLoader(TensorDataset(X, y), batch_size={B}, shuffle=True)", "criterion = nn.CrossEntropyLoss()", optim_line(p)] + \
        train_loop(p, "loader")
    s = lines_to_script([head, data, seq, pm, loop])
    fixes = {
        "unflatten_wrong": (f"unflatten to the real image size: nn.Unflatten(1, (1, {H}, {W}))", f"nn.Unflatten to (1, {W + 2}, {H}) for {H * W} pixels"),
        "lstm_in_sequential": ("nn.LSTM returns (output, (h, c)): add a module that picks output[:, -1] before the Linear", "nn.LSTM's tuple output fed to nn.Linear inside nn.Sequential"),
        "conv1d_after_linear": ("add nn.Unflatten(1, (1, 64)) before nn.Conv1d", "nn.Conv1d fed the 2-D Linear output"),
        "flatten_missing": ("add nn.Flatten() before the classifier", "no nn.Flatten between conv and Linear"),
        "linear_in_wrong": (f"in_features = {f}x{(H - 2) // 2}x{(W - 2) // 2} = {f * ((H - 2) // 2) * ((W - 2) // 2)} (the 3x3 conv shrinks the map by 2)",
                            "nn.Linear in_features computed without the conv's shrinkage"),
        "image_not_resized": (f"resize the scans to {H}x{W} (F.interpolate(X, size=({H}, {W}))), the size the Linear was computed for", "images not resized to the size the model was built for"),
        "missing_channel_axis": ("add the channel axis: X.unsqueeze(1) -> (N, 1, H, W)", "grayscale images without a channel axis"),
        "steps_features_swapped": ("transpose the recordings to (batch, steps, features) for the batch_first LSTM: X.transpose(1, 2)", "features and time axes swapped for a batch_first LSTM"),
        "conv1d_on_images": ("use nn.Conv2d on (batch, channels, H, W) images", "nn.Conv1d applied to a 4-D image batch"),
        "images_not_flattened": (f"flatten the images for the Linear layers: X.flatten(1) -> ({N}, {H * W})", "images fed unflattened to nn.Linear"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_sequential", t_sequential, [
    ("unflatten_wrong", "layer_definition", "forward"),
    ("lstm_in_sequential", "layer_combination", "forward", 2, {"expect": ("TypeError",)}),
    ("conv1d_after_linear", "layer_combination", "forward"),
    ("flatten_missing", "layer_definition", "forward"),
    ("linear_in_wrong", "layer_definition", "forward"),
    # fourth generation
    ("image_not_resized", "data_preprocessing", "forward"),
    ("missing_channel_axis", "data_preprocessing", "forward"),
    ("steps_features_swapped", "data_preprocessing", "forward"),
    ("conv1d_on_images", "layer_combination", "forward"),
    ("images_not_flattened", "data_preprocessing", "forward"),
])


def build_cases(env: str, framework: str, backend: str):
    return _build(REG, env, framework, backend, keras=False)
