"""PyTorch architectures of the third generation: a siamese network with a shared encoder, a
two-head (classification + regression) model with two losses, a GRU/LSTM encoder-decoder with
teacher forcing, a U-Net with torch.cat skip connections, an image + tabular two-branch model, a
small vision transformer (Conv2d patch embedding, flatten/transpose, nn.TransformerEncoder) and a
text RNN over variable-length documents (pad_sequence collate, pack_padded_sequence) and a temporal
convolutional network (dilated Conv1d residual blocks with a causal chomp).

Why: leave-one-architecture-out misses concentrate on architectures that have no sibling in the
other framework (siamese, multi_output, seq2seq exist only in Keras; the torch transformer has no
vision variant). These give each a PyTorch sibling, written in other loop styles (manual batch
slicing, a device variable, two loss terms, pad_sequence collate functions, nn.ModuleDict heads).

Same template contract as cases_torch_arch.py (see archgen.py); labels are the registered cause of
the planted mutation.
"""
from __future__ import annotations

from archgen import Mut, lines_to_script, register
from archgen import build_cases as _build
from cases_torch_arch import BS_OPTS, N_OPTS, device_lines, module, optim_line, thead, train_loop
from kbuild import P

REG: list[Mut] = []


# =============================================================================================
# siamese: shared encoder, two inputs, |e1 - e2| head with BCEWithLogitsLoss
# =============================================================================================
def t_siamese(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Fd = p.randint("features", 5, 36)
    d = p.choice("embed_dim", [8, 12, 16, 6])
    h = p.choice("hidden", [24, 32, 40])
    merge = p.choice("merge", ["absdiff", "concat3"])
    if mut == "cat_batch_dim":
        merge = p.set("merge", "concat3")
    off = p.choice("off", [1, 2, 3])
    enc_style = p.choice("encoder_style", ["sequential", "module"])
    if mut == "batch_of_one":   # fourth generation
        N = p.set("n_samples", B * p.randint("full_batches", 2, 5) + 1)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    dev, to = device_lines(p)
    data = [f"left = torch.randn({N}, {Fd})",
            f"right = torch.randn({N}, {Fd + off if (mut == 'pair_width' and fault) else Fd})" +
            ("   # second table still has its id columns" if (mut == "pair_width" and fault) else ""),
            f"same = torch.randint(0, 2, ({N},)).float()   # 1 = same item"]
    if mut == "targets_shape" and not fault:
        data[-1] = f"same = torch.randint(0, 2, ({N}, 1)).float()   # 1 = same item"
    elif mut != "targets_shape":
        data.append("same = same.unsqueeze(1)")
    n_same = f"{N} - {off}" if (mut == "dataset_pair_count" and fault) else f"{N}"
    if mut == "dataset_pair_count":
        data.append(f"same = same[:{n_same}]" + ("   # the last pairs had no label" if fault else ""))
    if enc_style == "sequential":
        enc = [f"self.encoder = nn.Sequential(nn.Linear({Fd}, {h}), nn.ReLU(), nn.Linear({h}, {d}))"]
    else:
        enc = [f"self.fc1 = nn.Linear({Fd}, {h})", f"self.fc2 = nn.Linear({h}, {d})"]
    if mut == "batch_of_one":
        enc = [f"self.encoder = nn.Sequential(nn.Linear({Fd}, {h}), nn.BatchNorm1d({h}), nn.ReLU(), nn.Linear({h}, {d}))"] if enc_style == "sequential" else \
            [f"self.fc1 = nn.Linear({Fd}, {h})", f"self.bn = nn.BatchNorm1d({h})", f"self.fc2 = nn.Linear({h}, {d})"]
    head_in = {"absdiff": d, "concat3": 3 * d}[merge]
    if mut == "head_in_features" and fault:
        head_in = 2 * d   # counted a and b, or the concatenation instead of |a - b|
    init = enc + [f"self.head = nn.Linear({head_in}, 1)"]
    encf = ["def embed(self, x):", "    return self.encoder(x)"] if enc_style == "sequential" else \
        ["def embed(self, x):", "    return self.fc2(torch.relu(self.fc1(x)))"]
    if mut == "batch_of_one" and enc_style != "sequential":
        encf = ["def embed(self, x):", "    return self.fc2(torch.relu(self.bn(self.fc1(x))))"]
    if merge == "absdiff":
        fwd = ["a, b = self.embed(x1), self.embed(x2)", "return self.head(torch.abs(a - b))"]
    else:
        dim = 0 if (mut == "cat_batch_dim" and fault) else 1
        fwd = ["a, b = self.embed(x1), self.embed(x2)", f"return self.head(torch.cat([a, b, torch.abs(a - b)], dim={dim}))"]
    net = module("Siamese", init, fwd, fwd_args="x1, x2")
    net = net[:net.index("    def forward(self, x1, x2):")] + ["    " + ln for ln in encf] + [""] + net[net.index("    def forward(self, x1, x2):"):]
    net += ["", "", f"model = Siamese(){to}"]
    loop = ["pairs = TensorDataset(left, right, same)", f"loader = DataLoader(pairs, batch_size={B}, shuffle=True{', drop_last=True' if (mut == 'batch_of_one' and not fault) else ''})",
            "criterion = nn.BCEWithLogitsLoss()", optim_line(p)] + \
        train_loop(p, "loader", fwd="out = model(x1, x2)", dev=to, unpack="x1, x2, yb")
    s = lines_to_script([head, dev, data, net, loop])
    fixes = {
        "pair_width": (f"give both sides of a pair the same {Fd} feature columns (right has {Fd + off})", f"right rows have {Fd + off} features, the shared encoder takes {Fd}"),
        "head_in_features": (f"the head sees {3 * d if merge == 'concat3' else d} features ({'a, b, |a - b|' if merge == 'concat3' else '|a - b|'}): nn.Linear({3 * d if merge == 'concat3' else d}, 1)",
                             f"nn.Linear({2 * d}, 1) after a merge of {3 * d if merge == 'concat3' else d} features"),
        "cat_batch_dim": ("concatenate the embeddings on the feature axis: torch.cat([a, b, |a - b|], dim=1)", "embeddings concatenated on the batch axis (dim=0)"),
        "targets_shape": ("give the targets the logits' shape (batch, 1): same.unsqueeze(1)", "(batch,) targets for (batch, 1) logits in BCEWithLogitsLoss"),
        "dataset_pair_count": (f"keep one label per pair: {N} labels for {N} pairs", f"{N - off} labels for {N} pairs in TensorDataset"),
        "batch_of_one": (f"drop the incomplete last batch: DataLoader(..., drop_last=True) ({N} pairs in batches of {B} leave 1)",
                         f"{N} pairs in batches of {B}: the last batch has one pair for BatchNorm1d in training"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_siamese", t_siamese, [
    ("pair_width", "data_preprocessing", "forward"),
    ("head_in_features", "layer_definition", "forward"),
    ("cat_batch_dim", "layer_combination", "forward"),
    ("targets_shape", "loss_label_mismatch", "loss"),
    ("dataset_pair_count", "input_pipeline", "data"),
    # fourth generation
    ("batch_of_one", "input_pipeline", "forward"),
])


# =============================================================================================
# two heads (class logits + regression), two losses summed
# =============================================================================================
def t_multi_output(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Fd = p.randint("features", 4, 30)
    C = p.randint("classes", 3, 15)
    K = p.randint("reg_targets", 2, 5)
    if K == C:
        C += 1
    h = p.choice("hidden", [32, 48, 64])
    h2 = p.choice("trunk_out", [16, 24])
    alpha = p.choice("reg_weight", [0.5, 1.0, 0.1])
    heads = p.choice("head_style", ["attributes", "moduledict"])
    # fourth generation: draws of the new mutations only
    if mut == "batch_of_one":
        N = p.set("n_samples", B * p.randint("full_batches", 2, 5) + 1)
    w = p.choice("block_width", [h2 // 2, h2 + 8, 2 * h2]) if mut == "residual_width" else h2
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"], numpy=True)
    data = [f'table = np.random.rand({N}, {Fd + 1}).astype("float32")   # column 0: customer id',
            "X = torch.from_numpy(table)" if (mut == "id_column_kept" and fault) else "X = torch.from_numpy(table[:, 1:])",
            f"y_cls = torch.randint(0, {C}, ({N},))", f"y_reg = torch.rand({N}, {K})"]
    if mut == "cls_onehot_long" and fault:
        data.append(f"y_cls = nn.functional.one_hot(y_cls, {C})   # one-hot class targets")
    head_in = h2 + 8 if (mut == "trunk_width" and fault) else h2
    cls_out = C - 1 if (mut == "cls_head_units" and fault) else C
    reg_out = K + 1 if (mut == "reg_head_units" and fault) else K
    init = [f"self.trunk = nn.Sequential(nn.Linear({Fd}, {h}), nn.ReLU(), nn.Linear({h}, {h2}), nn.ReLU())"]
    if mut == "batch_of_one":
        init = [f"self.trunk = nn.Sequential(nn.Linear({Fd}, {h}), nn.BatchNorm1d({h}), nn.ReLU(), nn.Linear({h}, {h2}), nn.ReLU())"]
    if mut == "embedding_after_linear" and fault:
        init = [f"self.trunk = nn.Sequential(nn.Linear({Fd}, {h}), nn.ReLU(), nn.Embedding({h}, {h2}), nn.ReLU())   # dense representation"]
    if mut == "residual_width":
        init = [f"self.trunk = nn.Sequential(nn.Linear({Fd}, {h}), nn.ReLU(), nn.Linear({h}, {h2}), nn.ReLU())",
                f"self.block = nn.Sequential(nn.Linear({h2}, {w if fault else h2}), nn.ReLU())"]
    zl = "z = self.trunk(x)" if mut != "residual_width" else "z = self.trunk(x)\n        z = z + self.block(z)   # residual refinement"
    if heads == "attributes":
        init += [f"self.cls_head = nn.Linear({head_in}, {cls_out})", f"self.reg_head = nn.Linear({head_in}, {reg_out})"]
        fwd = [zl, "return self.cls_head(z), self.reg_head(z)"]
    else:
        init += [f'self.heads = nn.ModuleDict({{"label": nn.Linear({head_in}, {cls_out}), "value": nn.Linear({head_in}, {reg_out})}})']
        fwd = [zl, 'return self.heads["label"](z), self.heads["value"](z)']
    net = module("TwoHeads", init, fwd) + ["", "", "model = TwoHeads()"]
    unpack = "xb, yr, yc" if (mut == "targets_swapped" and fault) else "xb, yc, yr"
    loop = [f"loader = DataLoader(TensorDataset(X, y_cls, y_reg), batch_size={B}, shuffle=True{', drop_last=True' if (mut == 'batch_of_one' and not fault) else ''})",
            "ce, mse = nn.CrossEntropyLoss(), nn.MSELoss()", optim_line(p),
            f"for epoch in range({p.choice('epochs', [1, 2])}):", f"    for {unpack} in loader:",
            "        optimizer.zero_grad()", "        logits, value = model(xb)",
            f"        loss = ce(logits, yc) + {alpha} * mse(value, yr)", "        loss.backward()", "        optimizer.step()",
            '    print(f"epoch {epoch}: loss {loss.item():.4f}")']
    if mut == "argmax_batch_axis":
        loop += ["", "model.eval()", "with torch.no_grad():", "    logits, value = model(X)", f"    pred = logits.argmax(dim={0 if fault else 1})",
                 '    print("accuracy", (pred == y_cls).float().mean().item(), "mae", (value - y_reg).abs().mean().item())']
    s = lines_to_script([head, data, net, loop])
    fixes = {
        "cls_head_units": (f"one logit per class: nn.Linear({h2}, {C}) (class ids go up to {C - 1})", f"{C - 1} logits for {C} classes"),
        "reg_head_units": (f"one output per regression target: nn.Linear({h2}, {K})", f"regression head has {K + 1} outputs for {K} targets"),
        "targets_swapped": ("unpack the batch in the dataset's order: for xb, yc, yr in loader", "class and regression targets unpacked in swapped order"),
        "trunk_width": (f"the heads take the trunk's {h2} features: nn.Linear({h2}, ...)", f"heads declared for {h2 + 8} features, the trunk gives {h2}"),
        "id_column_kept": (f"drop the id column: X = table[:, 1:] ({Fd} features)", f"all {Fd + 1} columns (id kept) into a {Fd}-feature trunk"),
        "cls_onehot_long": ("pass class ids (N,) to CrossEntropyLoss, not int64 one-hot rows", "int64 one-hot class targets for CrossEntropyLoss"),
        "batch_of_one": (f"drop the incomplete last batch: DataLoader(..., drop_last=True) ({N} rows in batches of {B} leave 1)",
                         f"{N} rows in batches of {B}: the last batch has one row for BatchNorm1d in training"),
        "embedding_after_linear": (f"nn.Embedding takes integer ids: use nn.Linear({h}, {h2}) in the trunk", "nn.Embedding applied to a Linear layer's float output"),
        "residual_width": (f"the residual block must keep the trunk width {h2}: nn.Linear({h2}, {h2})", f"residual add of widths {h2} and {w}"),
        "argmax_batch_axis": ("take the argmax over the class axis: logits.argmax(dim=1)", "accuracy uses argmax over the batch axis"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_multi_output", t_multi_output, [
    ("cls_head_units", "loss_label_mismatch", "loss", 2, {"expect": ("IndexError",)}),
    ("reg_head_units", "layer_definition", "loss"),
    ("targets_swapped", "input_pipeline", "loss"),
    ("trunk_width", "layer_definition", "forward"),
    ("id_column_kept", "data_preprocessing", "forward"),
    ("cls_onehot_long", "loss_label_mismatch", "loss"),
    # fourth generation
    ("batch_of_one", "input_pipeline", "forward"),
    ("embedding_after_linear", "layer_combination", "forward"),
    ("residual_width", "layer_definition", "forward"),
    ("argmax_batch_axis", "loss_label_mismatch", "validation"),
])


# =============================================================================================
# seq2seq: GRU/LSTM encoder-decoder with teacher forcing
# =============================================================================================
def t_seq2seq(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Ts = p.randint("src_steps", 6, 16)
    Fs = p.randint("src_features", 3, 9)
    Tt = p.randint("tgt_steps", 5, 13)
    V = p.choice("tgt_vocab", [29, 40, 64, 101])
    u = p.choice("hidden", [16, 24, 32])
    e = p.choice("embed_dim", [8, 12, 16])
    cell = p.choice("cell", ["GRU", "LSTM"])
    du = u + p.choice("hidden_off", [8, -8])
    if Tt == B:
        Tt += 1
    # fourth generation: draws and guards of the new mutations only
    off = p.choice("input_off", [1, 2, -1]) if mut in ("encoder_input_size", "src_extra_column") else 0
    if mut == "src_features_swapped":
        while Ts == Fs:
            Ts = p.set("src_steps", Ts + 1)
    if mut == "encoder_batch_first_missing":
        while Ts == B:
            Ts = p.set("src_steps", Ts + 1)
    if mut == "conv1d_after_embedding":
        while Tt in (e, B):
            Tt = p.set("tgt_steps", Tt + 1)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"] +
                 (["from torch.nn.utils.rnn import pad_sequence"] if mut == "collate_unpadded" else []))
    dev, to = device_lines(p)
    if mut == "collate_unpadded":
        data = [f"src = torch.randn({N}, {Ts}, {Fs})",
                f"tgt = [torch.randint(1, {V}, (int(n),)) for n in torch.randint(4, {Tt + 2}, ({N},))]   # variable-length, 0 = pad",
                "pairs = list(zip(src, tgt))"]
        coll = ["def collate(batch):", "    xs, ys = zip(*batch)"] + \
            (["    return torch.stack(xs), torch.stack(ys)"] if fault else
             ["    return torch.stack(xs), pad_sequence(list(ys), batch_first=True, padding_value=0)"])
    else:
        data = [f"src = torch.randn({N}, {Ts}, {Fs})   # (batch, steps, features)",
                f"tgt = torch.randint(1, {V}, ({N}, {Tt + 1}))   # target tokens with <bos> first"]
        coll = []
    if mut == "src_features_swapped":
        data = [f"src = torch.randn({N}, {Fs}, {Ts})   # (batch, features, steps) as stored"] + ([] if fault else ["src = src.transpose(1, 2)"]) + data[1:]
    if mut == "src_extra_column" and fault:
        data[0] = f"src = torch.randn({N}, {Ts}, {Fs + abs(off)})   # the timestamp column{'s were' if abs(off) > 1 else ' was'} not dropped"
    dec_h = du if (mut == "decoder_hidden" and fault) else u
    dec_bf = "" if (mut == "decoder_batch_first_missing" and fault) else ", batch_first=True"
    enc_in = Fs + off if (mut == "encoder_input_size" and fault) else Fs
    enc_bf = "" if (mut == "encoder_batch_first_missing" and fault) else ", batch_first=True"
    init = [f"self.encoder = nn.{cell}({enc_in}, {u}{enc_bf})", f"self.embed = nn.Embedding({V}, {e}, padding_idx=0)",
            f"self.decoder = nn.{cell}({e}, {dec_h}{dec_bf})", f"self.out = nn.Linear({dec_h}, {V})"]
    if mut == "conv1d_after_embedding":
        init.insert(2, f"self.conv = nn.Conv1d({e}, {e}, 3, padding=1)   # local context of the target tokens")
    if cell == "LSTM":
        enc = ["enc_out, (h, c) = self.encoder(src)"]
        st = "(enc_out, c)" if (mut == "state_from_output" and fault) else "(h, c)"
    else:
        enc = ["enc_out, h = self.encoder(src)"]
        st = "enc_out" if (mut == "state_from_output" and fault) else "h"
    conv = []
    if mut == "conv1d_after_embedding":
        conv = ["x = torch.relu(self.conv(x))" if fault else "x = torch.relu(self.conv(x.transpose(1, 2))).transpose(1, 2)"]
    fwd = enc + ["x = self.embed(tgt_in)"] + conv + [f"dec_out, _ = self.decoder(x, {st})", "return self.out(dec_out)   # (batch, steps, vocab)"]
    net = module("Seq2Seq", init, fwd, fwd_args="src, tgt_in") + ["", "", f"model = Seq2Seq(){to}"]
    shift = "yb" if (mut == "targets_not_shifted" and fault) else "yb[:, 1:]"
    if mut == "ce_no_flatten" and fault:
        lossl = "loss = criterion(logits, target)"
    else:
        lossl = f"loss = criterion(logits.reshape(-1, {V}), target.reshape(-1))"
    loader = f"DataLoader(pairs, batch_size={B}, shuffle=True, collate_fn=collate)" if mut == "collate_unpadded" else \
        f"DataLoader(TensorDataset(src, tgt), batch_size={B}, shuffle=True)"
    loop = [f"loader = {loader}", "criterion = nn.CrossEntropyLoss(ignore_index=0)", optim_line(p),
            f"for epoch in range({p.choice('epochs', [1, 2])}):", "    model.train()", "    for xb, yb in loader:"] + \
        ([f"        xb, yb = xb{to}, yb{to}"] if to else []) + [
        "        optimizer.zero_grad()", "        logits = model(yb[:, :-1], xb)   # teacher forcing" if (mut == "inputs_swapped" and fault) else
        "        logits = model(xb, yb[:, :-1])   # teacher forcing", f"        target = {shift}",
        f"        {lossl}", "        loss.backward()", "        nn.utils.clip_grad_norm_(model.parameters(), 1.0)", "        optimizer.step()",
        '    print("epoch", epoch, "loss", round(loss.item(), 4))']
    s = lines_to_script([head, dev, data, coll, net, loop])
    fixes = {
        "decoder_hidden": (f"give the decoder {cell} the encoder's hidden size {u} so the encoder state can initialise it", f"decoder {cell} hidden size {du}, encoder state is {u}"),
        "ce_no_flatten": (f"flatten steps into the batch for CrossEntropyLoss: criterion(logits.reshape(-1, {V}), target.reshape(-1)), or permute logits to (batch, vocab, steps)",
                          "(batch, steps, vocab) logits passed to CrossEntropyLoss with (batch, steps) targets"),
        "targets_not_shifted": ("shift the targets by one token: target = yb[:, 1:] (the decoder sees yb[:, :-1])", f"targets keep all {Tt + 1} tokens, the decoder predicts {Tt}"),
        "decoder_batch_first_missing": (f"construct the decoder {cell} with batch_first=True like the encoder", "decoder without batch_first=True while the encoder state is (layers, batch, hidden)"),
        "state_from_output": ("initialise the decoder with the encoder's final state h (layers, batch, hidden), not its output sequence", "encoder output sequence passed as the decoder's initial state"),
        "collate_unpadded": ("pad the variable-length targets in collate: pad_sequence(list(ys), batch_first=True, padding_value=0)", "collate_fn stacks variable-length target sequences"),
        "encoder_input_size": (f"set the encoder's input_size to the {Fs} source features: nn.{cell}({Fs}, {u}, batch_first=True)", f"encoder input_size {Fs + off} for {Fs}-feature steps"),
        "src_features_swapped": (f"transpose the source to (batch, steps, features): src.transpose(1, 2) -> ({N}, {Ts}, {Fs})", "features and time axes swapped for a batch_first encoder"),
        "src_extra_column": (f"drop the extra column(s): the encoder takes the {Fs} source features", f"{Fs + abs(off)} source columns into a {Fs}-feature encoder"),
        "encoder_batch_first_missing": (f"construct the encoder {cell} with batch_first=True for (batch, steps, features) input", f"encoder {cell} without batch_first=True fed batch-major data"),
        "conv1d_after_embedding": (f"transpose the embeddings to (batch, {e}, steps) for Conv1d and back", "Conv1d applied to (batch, steps, dim) embeddings"),
        "inputs_swapped": ("pass the inputs in forward's order: model(src, tgt_in)", "source and target inputs swapped"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_seq2seq", t_seq2seq, [
    ("decoder_hidden", "layer_definition", "forward"),
    ("ce_no_flatten", "loss_label_mismatch", "loss"),
    ("targets_not_shifted", "data_preprocessing", "loss"),
    ("decoder_batch_first_missing", "layer_definition", "forward"),
    ("state_from_output", "layer_combination", "forward"),
    ("collate_unpadded", "input_pipeline", "collate"),
    # fourth generation
    ("encoder_input_size", "layer_definition", "forward"),
    ("src_features_swapped", "data_preprocessing", "forward"),
    ("src_extra_column", "data_preprocessing", "forward"),
    ("encoder_batch_first_missing", "layer_definition", "forward"),
    ("conv1d_after_embedding", "layer_combination", "forward"),
    ("inputs_swapped", "input_pipeline", "forward"),
])


# =============================================================================================
# U-Net with torch.cat skip connections, per-pixel CrossEntropyLoss
# =============================================================================================
def t_unet(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", [10, 12, 16]), p.choice("batch_size", [2, 3, 4])
    H, W = p.choice("hw", [(32, 32), (24, 24), (16, 32), (40, 40), (28, 28)])
    Ch = p.choice("channels", [1, 3])
    if mut == "missing_channel_axis":
        Ch = p.set("channels", 1)
    K = p.randint("mask_classes", 2, 7)
    f = p.choice("filters", [4, 8, 6])
    dH = p.choice("odd_off", [2, 6])
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    Hd, Wd = (H + dH, W + dH) if (mut == "size_not_divisible" and fault) else (H, W)
    if mut == "missing_channel_axis":
        data = [f"images = torch.rand({N}, {Hd}, {Wd})   # grayscale"] + ([] if fault else ["images = images.unsqueeze(1)"])
    else:
        data = [f"images = torch.rand({N}, {Ch}, {Hd}, {Wd})"]
    data.append(f"masks = torch.randint(0, {K}, ({N}, {'1, ' if (mut == 'mask_channel_axis' and fault) else ''}{Hd}, {Wd}))"
                + ("   # read as 1-channel PNGs" if (mut == "mask_channel_axis" and fault) else ""))
    blk = ["def block(cin, cout):", "    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), "
           + ("nn.BatchNorm2d(cin)" if (mut == "bn_channels" and fault) else "nn.BatchNorm2d(cout)") + ", nn.ReLU(inplace=True),",
           "                         nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True))"]
    dec2_in = f"{2 * f}" if (mut == "decoder_in_channels" and fault) else f"{4 * f}"
    up_stride = 1 if (mut == "upconv_stride_one" and fault) else 2
    up_k = 1 if up_stride == 1 else 2
    init = [f"self.enc1 = block({Ch}, {f})", f"self.enc2 = block({2 * f if (mut == 'enc2_in_channels' and fault) else f}, {2 * f})", "self.pool = nn.MaxPool2d(2)",
            f"self.mid = nn.Sequential(nn.Conv2d({2 * f}, {4 * f}, 3), nn.ReLU(inplace=True))   # bottleneck" if (mut == "mid_unpadded" and fault) else
            f"self.mid = block({2 * f}, {4 * f})",
            f"self.up2 = nn.ConvTranspose2d({4 * f}, {2 * f}, {up_k}, stride={up_stride})", f"self.dec2 = block({dec2_in}, {2 * f})",
            f"self.up1 = nn.ConvTranspose2d({2 * f}, {f}, 2, stride=2)", f"self.dec1 = block({2 * f}, {f})",
            f"self.head = nn.Conv2d({f}, {K}, 1)"]
    s1 = "e2" if (mut == "skip_wrong_level" and fault) else "e1"
    fwd = ["e1 = self.enc1(x)", "e2 = self.enc2(self.pool(e1))", "m = self.mid(self.pool(e2))",
           "d2 = self.dec2(torch.cat([self.up2(m), e2], dim=1))", f"d1 = self.dec1(torch.cat([self.up1(d2), {s1}], dim=1))",
           "return self.head(d1)"]
    net = module("UNet", init, fwd) + ["", "", "model = UNet()"] + (["print(model)"] if p.flag("print_model", 0.3) else [])
    bsz = "None" if (mut == "loader_unbatched" and fault) else str(B)
    coll = []
    if mut == "collate_cat":
        coll = ["def collate(batch):", "    imgs, ms = zip(*batch)", f"    return {'torch.cat' if fault else 'torch.stack'}(imgs), torch.stack(ms)"]
    cf = ", collate_fn=collate" if mut == "collate_cat" else ""
    loop = [f"loader = DataLoader(TensorDataset(images, masks), batch_size={bsz}, shuffle=True{cf})", "criterion = nn.CrossEntropyLoss()",
            optim_line(p)] + train_loop(p, "loader")
    s = lines_to_script([head, data, blk, [""], net, coll, loop])
    fixes = {
        "size_not_divisible": (f"resize or pad the images to a multiple of 4 (e.g. {H}x{W}) so the upsampled maps match the skips", f"{Hd}x{Wd} images: pooling floors, torch.cat gets unequal maps"),
        "missing_channel_axis": ("add the channel axis: images.unsqueeze(1) -> (N, 1, H, W)", "grayscale images without a channel axis"),
        "skip_wrong_level": ("concatenate up1's output with e1 (same resolution), not e2", "skip connection taken from the wrong encoder level"),
        "decoder_in_channels": (f"the decoder block after torch.cat takes up + skip channels: block({4 * f}, {2 * f})", f"block({2 * f}, ...) after concatenating {4 * f} channels"),
        "mask_channel_axis": ("squeeze the mask channel: masks[:, 0] -> (N, H, W) class ids", "masks kept as (N, 1, H, W)"),
        "upconv_stride_one": ("upsample by 2: nn.ConvTranspose2d(..., 2, stride=2)", "ConvTranspose2d with stride 1 does not restore the skip's resolution"),
        "bn_channels": ("BatchNorm2d after the block's first conv normalises its cout output channels: nn.BatchNorm2d(cout)", "BatchNorm2d(cin) after a conv with cout outputs"),
        "enc2_in_channels": (f"the second encoder block takes enc1's {f} channels: block({f}, {2 * f})", f"block({2 * f}, ...) after a block with {f} outputs"),
        "collate_cat": ("stack the images into a batch axis in collate: torch.stack(imgs), not torch.cat(imgs)", "collate_fn concatenates the images along the channel axis"),
        "loader_unbatched": (f"give the DataLoader a batch size: batch_size={B}", "DataLoader(batch_size=None) yields single images"),
        "mid_unpadded": ("pad the bottleneck conv (padding=1) so the upsampled map matches the skip's size", "unpadded bottleneck conv makes the upsampled map smaller than the skip"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_unet", t_unet, [
    ("size_not_divisible", "data_preprocessing", "forward"),
    ("missing_channel_axis", "data_preprocessing", "forward"),
    ("skip_wrong_level", "layer_combination", "forward"),
    ("decoder_in_channels", "layer_definition", "forward"),
    ("mask_channel_axis", "loss_label_mismatch", "loss"),
    ("upconv_stride_one", "layer_definition", "forward"),
    # fourth generation
    ("bn_channels", "layer_definition", "forward"),
    ("enc2_in_channels", "layer_definition", "forward"),
    ("collate_cat", "input_pipeline", "forward"),
    ("loader_unbatched", "input_pipeline", "forward"),
    ("mid_unpadded", "layer_combination", "forward"),
])


# =============================================================================================
# two-branch model: image CNN + tabular MLP, concatenated, binary head
# =============================================================================================
def t_multi_input(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", [20, 24, 30, 36]), p.choice("batch_size", [4, 5, 6, 8])
    H, W = p.choice("hw", [(32, 32), (24, 24), (28, 36), (20, 20)])
    Ch = p.choice("channels", [3, 1])
    if mut == "channels_last_images":
        Ch = p.set("channels", 3)
    if mut == "missing_channel_axis":   # fourth generation
        Ch = p.set("channels", 1)
    M = p.randint("meta_features", 3, 14)
    f = p.choice("filters", [6, 8, 12])
    hm = p.choice("meta_hidden", [8, 16])
    extra = p.choice("extra_cols", [1, 2])
    loop_style = p.choice("loop", ["dataloader", "manual"])
    if mut == "images_not_resized":
        H2, W2 = p.choice("raw_hw", [hw for hw in [(36, 36), (40, 32), (30, 30), (44, 28), (16, 16)] if (hw[0] // 4) * (hw[1] // 4) != (H // 4) * (W // 4)])
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    dev, to = device_lines(p)
    if mut == "channels_last_images" and fault:
        data = [f"images = torch.rand({N}, {H}, {W}, {Ch})   # HWC as loaded with PIL"]
    elif mut == "images_not_resized" and fault:
        data = [f"images = torch.rand({N}, {Ch}, {H2}, {W2})   # photos at {H2}x{W2}, not resized to {H}x{W}"]
    elif mut == "missing_channel_axis":
        data = [f"images = torch.rand({N}, {H}, {W})   # grayscale"] + ([] if fault else ["images = images.unsqueeze(1)   # (N, 1, H, W)"])
    else:
        data = [f"images = torch.rand({N}, {Ch}, {H}, {W})"]
    data += [f"meta = torch.randn({N}, {M + extra if (mut == 'meta_width' and fault) else M})" +
             ("   # age, weight, ... plus the row id columns" if (mut == "meta_width" and fault) else "   # tabular features"),
             f"y = torch.randint(0, 2, ({N}, 1)).float()" if not (mut == "targets_shape" and fault) else f"y = torch.randint(0, 2, ({N},)).float()"]
    flat = 2 * f * (H // 4) * (W // 4)
    fc_in = 2 * f * (H // 2) * (W // 2) if (mut == "head_in_features" and fault) else flat
    c2_in = Ch if (mut == "conv_in_channels" and fault) else f
    bn = ""
    if mut == "bn_channels":
        bn = f" nn.BatchNorm2d({f if fault else 2 * f}),"
    init = [f"self.cnn = nn.Sequential(nn.{'Conv1d' if (mut == 'conv1d_on_images' and fault) else 'Conv2d'}({Ch}, {f}, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),",
            f"                         nn.Conv2d({c2_in}, {2 * f}, 3, padding=1),{bn} nn.ReLU(), nn.MaxPool2d(2))",
            f"self.img_fc = nn.Linear({fc_in}, 32)",
            f"self.meta = nn.Sequential(nn.Linear({M}, {hm}), nn.ReLU())",
            f"self.head = nn.Linear(32 + {hm}, 1)"]
    if mut == "concat_unflattened" and fault:
        fwd = ["a = self.cnn(img)", "b = self.meta(tab)", "z = torch.cat([a, b], dim=1)", "return self.head(z)"]
    else:
        fwd = ["a = torch.relu(self.img_fc(self.cnn(img).flatten(1)))", "b = self.meta(tab)",
               f"z = torch.cat([a, b], dim={0 if (mut == 'cat_batch_dim' and fault) else 1})", "return self.head(z)"]
    net = module("ImageTabular", init, fwd, fwd_args="img, tab") + ["", "", f"model = ImageTabular(){to}"]
    call = "model(mb, xb)" if (mut == "inputs_swapped" and fault) else "model(xb, mb)"
    if loop_style == "dataloader":
        loop = [f"loader = DataLoader(TensorDataset(images, meta, y), batch_size={B}, shuffle=True)", "criterion = nn.BCEWithLogitsLoss()", optim_line(p)] + \
            train_loop(p, "loader", fwd=f"out = {call}", dev=to, unpack="xb, mb, yb")
    else:
        loop = ["criterion = nn.BCEWithLogitsLoss()", optim_line(p), f"perm = torch.randperm({N})",
                f"for i in range(0, {N}, {B}):", f"    idx = perm[i:i + {B}]", f"    xb, mb, yb = images[idx]{to}, meta[idx]{to}, y[idx]{to}",
                "    optimizer.zero_grad()", f"    out = {call}", "    loss = criterion(out, yb)", "    loss.backward()", "    optimizer.step()",
                'print("loss", loss.item())']
    s = lines_to_script([head, dev, data, net, loop])
    fixes = {
        "head_in_features": (f"after two MaxPool2d(2) the image features are {2 * f}x{H // 4}x{W // 4} = {flat}: nn.Linear({flat}, 32)", f"nn.Linear({fc_in}, 32) counts one pooling only"),
        "meta_width": (f"select the {M} tabular feature columns (drop the id columns)", f"{M + extra} tabular columns into nn.Linear({M}, ...)"),
        "concat_unflattened": ("flatten (and project) the image feature map before torch.cat with the tabular vector", "4-D feature map concatenated with a 2-D tabular vector"),
        "inputs_swapped": ("pass the inputs in forward's order: model(images, meta)", "image and tabular inputs swapped"),
        "targets_shape": ("give the targets the logits' shape: y of shape (N, 1)", "(batch,) targets for (batch, 1) logits"),
        "channels_last_images": ("permute the images to (N, C, H, W): images.permute(0, 3, 1, 2)", "HWC images into Conv2d"),
        "images_not_resized": (f"resize the images to {H}x{W}, the size img_fc was computed for", "images not resized to the size the model was built for"),
        "missing_channel_axis": ("add the channel axis: images.unsqueeze(1) -> (N, 1, H, W)", "grayscale images without a channel axis"),
        "conv_in_channels": (f"the second conv takes the first conv's {f} channels: nn.Conv2d({f}, {2 * f}, 3, padding=1)", f"second Conv2d declared with {Ch} input channels"),
        "bn_channels": (f"BatchNorm2d after the second conv must have {2 * f} features", f"BatchNorm2d({f}) on a {2 * f}-channel map"),
        "cat_batch_dim": ("concatenate the image and tabular features on the feature axis: torch.cat([a, b], dim=1)", "branches concatenated on the batch axis (dim=0)"),
        "conv1d_on_images": ("use nn.Conv2d for the (batch, channels, H, W) image branch", "nn.Conv1d applied to a 4-D image batch"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_multi_input", t_multi_input, [
    ("head_in_features", "layer_definition", "forward"),
    ("meta_width", "data_preprocessing", "forward"),
    ("concat_unflattened", "layer_combination", "forward"),
    ("inputs_swapped", "input_pipeline", "forward"),
    ("targets_shape", "loss_label_mismatch", "loss"),
    ("channels_last_images", "data_preprocessing", "forward"),
    # fourth generation
    ("images_not_resized", "data_preprocessing", "forward"),
    ("missing_channel_axis", "data_preprocessing", "forward"),
    ("conv_in_channels", "layer_definition", "forward"),
    ("bn_channels", "layer_definition", "forward"),
    ("cat_batch_dim", "layer_combination", "forward"),
    ("conv1d_on_images", "layer_combination", "forward"),
])


# =============================================================================================
# vision transformer: Conv2d patch embedding, flatten(2).transpose(1, 2), cls token, encoder
# =============================================================================================
def t_vit(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", [16, 20, 24, 30]), p.choice("batch_size", [4, 5, 8])
    Pt = p.choice("patch", [4, 8])
    gh, gw = p.choice("grid", [(4, 4), (3, 5), (4, 5), (6, 3)])
    H, W = Pt * gh, Pt * gw
    Ch = p.choice("channels", [3, 1])
    if mut == "images_channels_last":
        Ch = p.set("channels", 3)
    d = p.choice("dim", [24, 32, 48])
    nh = p.choice("heads", [2, 4])
    C = p.randint("classes", 2, 12)
    depth = p.choice("depth", [1, 2])
    grow = p.choice("resize_off", [Pt, 2 * Pt])
    cls_tok = p.flag("cls_token", 0.6)
    if mut == "pos_len":
        cls_tok = p.set("cls_token", True)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    dev, to = device_lines(p)
    if mut == "images_channels_last" and fault:
        data = [f"images = torch.rand({N}, {H}, {W}, {Ch})   # HWC"]
    elif mut == "images_not_resized" and fault:
        data = [f"images = torch.rand({N}, {Ch}, {H + grow}, {W})   # photos not resized to {H}x{W}"]
    else:
        data = [f"images = torch.rand({N}, {Ch}, {H}, {W})"]
    data.append(f"labels = torch.randint(0, {C}, ({N},))")
    if mut == "ce_onehot_long" and fault:
        data.append(f"labels = nn.functional.one_hot(labels, {C})")
    consts = [f"IMG_H, IMG_W, PATCH, DIM = {H}, {W}, {Pt}, {d}", "N_PATCHES = (IMG_H // PATCH) * (IMG_W // PATCH)"]
    emb_out = "DIM // 2" if (mut == "embed_channels" and fault) else "DIM"
    npos = "N_PATCHES + 1" if cls_tok and not (mut == "pos_len" and fault) else "N_PATCHES"
    init = [f"self.patch = nn.Conv2d({Ch}, {emb_out}, kernel_size=PATCH, stride=PATCH)"]
    if cls_tok:
        init.append("self.cls = nn.Parameter(torch.zeros(1, 1, DIM))")
    init += [f"self.pos = nn.Parameter(torch.randn(1, {npos}, DIM) * 0.02)",
             f"layer = nn.TransformerEncoderLayer(DIM, {nh}, dim_feedforward=2 * DIM, dropout=0.0, batch_first=True)",
             f"self.encoder = nn.TransformerEncoder(layer, num_layers={depth})", "self.norm = nn.LayerNorm(DIM)", f"self.head = nn.Linear(DIM, {C})"]
    tok = "x = self.patch(x).flatten(2)   # (B, DIM, N_PATCHES)" if (mut == "no_transpose" and fault) else \
        "x = self.patch(x).flatten(2).transpose(1, 2)   # (B, N_PATCHES, DIM)"
    fwd = [tok]
    if cls_tok:
        fwd.append("x = torch.cat([self.cls.expand(x.size(0), -1, -1), x], dim=1)")
    fwd += ["x = x + self.pos", "x = self.encoder(x)", "x = self.norm(x[:, 0])" if cls_tok else "x = self.norm(x.mean(dim=1))",
            "return self.head(x)"]
    net = module("TinyViT", init, fwd) + ["", "", f"model = TinyViT(){to}"] + (["print(model)"] if p.flag("print_model", 0.3) else [])
    bsz = "None" if (mut == "loader_unbatched" and fault) else str(B)
    loop = [f"loader = DataLoader(TensorDataset(images, labels), batch_size={bsz}, shuffle=True)", "criterion = nn.CrossEntropyLoss()", optim_line(p)] + \
        train_loop(p, "loader", dev=to)
    s = lines_to_script([head, dev, data, consts, net, loop])
    fixes = {
        "no_transpose": ("turn the patch map into tokens with .flatten(2).transpose(1, 2) -> (B, N_PATCHES, DIM) for a batch_first encoder", "patch map flattened to (B, DIM, N_PATCHES) without the transpose"),
        "pos_len": ("size the position table for the patches plus the cls token: torch.randn(1, N_PATCHES + 1, DIM)", "position table without the cls token's row"),
        "embed_channels": ("the patch embedding must output DIM channels: nn.Conv2d(C, DIM, PATCH, stride=PATCH)", "patch Conv2d outputs DIM // 2 channels"),
        "images_channels_last": ("permute the images to (N, C, H, W): images.permute(0, 3, 1, 2)", "HWC images into the patch Conv2d"),
        "images_not_resized": (f"resize the images to {H}x{W} (the position table has {gh * gw} patches)", f"{H + grow}x{W} images give more patches than the position table"),
        "ce_onehot_long": ("pass class ids to CrossEntropyLoss (or one-hot .float() probabilities)", "int64 one-hot targets for CrossEntropyLoss"),
        "loader_unbatched": (f"give the DataLoader a batch size: batch_size={B}", "DataLoader(batch_size=None) yields single images"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_vit", t_vit, [
    ("no_transpose", "layer_combination", "forward", 2, {"expect": ("AssertionError",)}),
    ("pos_len", "layer_definition", "forward"),
    ("embed_channels", "layer_definition", "forward", 2, {"expect": ("AssertionError",)}),
    ("images_channels_last", "data_preprocessing", "forward"),
    ("images_not_resized", "data_preprocessing", "forward"),
    ("ce_onehot_long", "loss_label_mismatch", "loss"),
    ("loader_unbatched", "input_pipeline", "forward"),
])


# =============================================================================================
# text RNN over variable-length documents: pad_sequence collate + pack_padded_sequence
# =============================================================================================
def t_packed_rnn(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    V = p.choice("vocab", [80, 200, 611, 3000])
    d = p.choice("embed_dim", [16, 24, 32])
    u = p.choice("hidden", [16, 20, 32])
    C = p.randint("classes", 2, 9)
    cell = p.choice("cell", ["LSTM", "GRU"])
    bidir = p.flag("bidirectional", 0.4)
    if mut == "bidir_fc_width":
        bidir = p.set("bidirectional", True)
    if mut == "hidden_layer_axis":
        bidir = p.set("bidirectional", False)
    maxlen = p.randint("max_len", 18, 30)
    # fourth generation: draws of the new mutations only
    if mut == "conv1d_after_embedding":
        d = p.set("embed_dim", 32)   # longer than any document, so the channel check always fires
    d_bad = p.choice("input_size_bad", [d // 2, d + 8, 2 * d]) if mut == "rnn_input_size" else d
    head = thead(p, ["from torch.nn.utils.rnn import pad_sequence, pack_padded_sequence", "from torch.utils.data import DataLoader"])
    dev, to = device_lines(p)
    data = [f"docs = [torch.randint(1, {V}, (int(n),)) for n in torch.randint(3, {maxlen}, ({N},))]   # token ids, 0 = pad",
            f"labels = torch.randint(0, {C}, ({N},))" + (".float()" if (mut == "labels_float" and fault) else ""),
            "dataset = list(zip(docs, labels))"]
    if mut == "collate_no_padding" and fault:
        padl = "    padded = torch.stack(seqs)"
    elif mut == "pad_not_batch_first" and fault:
        padl = "    padded = pad_sequence(list(seqs), padding_value=0)"
    else:
        padl = "    padded = pad_sequence(list(seqs), batch_first=True, padding_value=0)"
    coll = ["def collate(batch):", "    seqs, ys = zip(*batch)", "    lengths = torch.tensor([len(s) for s in seqs])", padl,
            "    return padded, lengths, torch.stack(ys)"]
    dirs = 2 if bidir else 1
    fc_in = u if (mut == "bidir_fc_width" and fault) else u * dirs
    emb_v = V - 1 if (mut == "vocab_off_by_one" and fault) else V
    init = [f"self.embed = nn.Embedding({emb_v}, {d}, padding_idx=0)",
            f"self.rnn = nn.{cell}({d_bad if fault else d}, {u}, batch_first=True" + (", bidirectional=True)" if bidir else ")"),
            f"self.fc = nn.Linear({fc_in}, {C})"]
    fwd = ["e = self.embed(x)", "packed = pack_padded_sequence(e, lengths.cpu(), batch_first=True, enforce_sorted=False)"]
    if mut == "conv1d_after_embedding":
        init.insert(1, f"self.conv = nn.Conv1d({d}, {d}, 3, padding=1)   # n-gram features")
        fwd.insert(1, "e = torch.relu(self.conv(e))" if fault else "e = torch.relu(self.conv(e.transpose(1, 2))).transpose(1, 2)")
    if mut == "packed_output_to_linear" and fault:
        fwd += ["out, _ = self.rnn(packed)", "return self.fc(out)"]
    else:
        fwd.append("_, (h, _) = self.rnn(packed)" if cell == "LSTM" else "_, h = self.rnn(packed)")
        if mut == "hidden_layer_axis" and fault:
            fwd.append("return self.fc(h)")
        elif bidir:
            fwd.append("return self.fc(torch.cat([h[-2], h[-1]], dim=1))")
        else:
            fwd.append("return self.fc(h[-1])")
    net = module("DocClassifier", init, fwd, fwd_args="x, lengths") + ["", "", f"model = DocClassifier(){to}"]
    loop = [f"loader = DataLoader(dataset, batch_size={B}, shuffle=True, collate_fn=collate)", "criterion = nn.CrossEntropyLoss()", optim_line(p),
            f"for epoch in range({p.choice('epochs', [1, 2])}):", "    model.train()", "    for xb, lengths, yb in loader:"] + \
        ([f"        xb, yb = xb{to}, yb{to}"] if to else []) + [
        "        optimizer.zero_grad()", "        loss = criterion(model(lengths, xb), yb)" if (mut == "inputs_swapped" and fault) else
        "        loss = criterion(model(xb, lengths), yb)", "        loss.backward()", "        optimizer.step()",
        '    print(f"epoch {epoch}: loss {loss.item():.4f}")']
    s = lines_to_script([head, dev, data, coll, net, loop])
    fixes = {
        "collate_no_padding": ("pad the documents in collate: pad_sequence(list(seqs), batch_first=True, padding_value=0)", "collate_fn stacks variable-length documents"),
        "pad_not_batch_first": ("pad with batch_first=True: the embedding, the batch_first RNN and pack_padded_sequence expect (batch, steps)", "pad_sequence without batch_first gives (steps, batch)"),
        "bidir_fc_width": (f"a bidirectional {cell} gives 2*{u} features: nn.Linear({2 * u}, {C})", f"nn.Linear({u}) after a bidirectional {cell}"),
        "packed_output_to_linear": ("unpack the output (pad_packed_sequence) or use the final hidden state h[-1] for the classifier", "PackedSequence output passed to nn.Linear"),
        "vocab_off_by_one": (f"size the Embedding for ids up to {V - 1}: nn.Embedding({V}, {d})", f"nn.Embedding({V - 1}) for token ids up to {V - 1}"),
        "labels_float": ("class ids for CrossEntropyLoss must be int64: drop .float()", "float class ids"),
        "hidden_layer_axis": ("h_n is (layers * directions, batch, hidden): take h[-1]", "h_n passed to the Linear with its layer axis"),
        "rnn_input_size": (f"set the {cell} input_size to the embedding dim {d}", f"{cell} input_size {d_bad} after a {d}-dim Embedding"),
        "conv1d_after_embedding": (f"transpose the embeddings to (batch, {d}, steps) for Conv1d and back", "Conv1d applied to (batch, steps, dim) embeddings"),
        "inputs_swapped": ("pass the inputs in forward's order: model(tokens, lengths)", "token batch and lengths swapped in the model call"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_packed_rnn", t_packed_rnn, [
    ("collate_no_padding", "input_pipeline", "collate"),
    ("pad_not_batch_first", "input_pipeline", "forward"),
    ("bidir_fc_width", "layer_definition", "forward"),
    ("packed_output_to_linear", "layer_combination", "forward", 2, {"expect": ("TypeError", "AttributeError")}),
    ("vocab_off_by_one", "layer_definition", "forward", 2, {"expect": ("IndexError",)}),
    ("labels_float", "loss_label_mismatch", "loss"),
    ("hidden_layer_axis", "layer_combination", "loss"),
    # fourth generation
    ("rnn_input_size", "layer_definition", "forward"),
    ("conv1d_after_embedding", "layer_combination", "forward"),
    ("inputs_swapped", "input_pipeline", "forward"),
])


# =============================================================================================
# temporal convolutional network: dilated Conv1d residual blocks with a chomp for causality
# =============================================================================================
def t_tcn(p: P, mut: str, fault: bool):
    N, B = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    T = p.randint("steps", 24, 61)
    Fd = p.randint("channels", 2, 9)
    f = p.choice("filters", [8, 12, 16])
    k = p.choice("kernel", [2, 3])
    C = p.randint("classes", 2, 11)
    nblocks = p.choice("blocks", [2, 3])
    if Fd == T:
        T += 1
    if mut == "skip_from_wrong_tensor" and Fd == f:   # fourth generation: the first block must change the width
        Fd = p.set("channels", Fd + 1)
    head = thead(p, ["from torch.utils.data import DataLoader, TensorDataset"])
    dev, to = device_lines(p)
    if mut == "data_channels_first" and fault:
        data = [f"X = torch.randn({N}, {Fd}, {T})   # (recordings, sensors, steps) as exported"]
    else:
        data = [f"X = torch.randn({N}, {T}, {Fd})   # (recordings, steps, sensors)"]
    data.append(f"y = torch.randint(0, {C}, ({N}, {T}))   # activity per step" if (mut == "targets_per_step" and fault) else
                f"y = torch.randint(0, {C}, ({N},))")
    chomp = not (mut == "no_chomp" and fault)
    blk = module("TemporalBlock", [
        "self.pad = (kernel - 1) * dilation",
        "self.conv1 = nn.Conv1d(cin, cout, kernel, padding=self.pad, dilation=dilation)",
        "self.conv2 = nn.Conv1d(cout, cout, kernel, padding=self.pad, dilation=dilation)",
        "self.down = nn.Conv1d(cin, cout, 1) if cin != cout else nn.Identity()" if not (mut == "residual_width_no_downsample" and fault)
        else "self.down = nn.Identity()   # skip kept as is"],
        (["h = torch.relu(self.conv1(x)[:, :, :-self.pad])   # chomp: keep the causal part",
          "h = torch.relu(self.conv2(h)[:, :, :-self.pad])"] if chomp else
         ["h = torch.relu(self.conv1(x))", "h = torch.relu(self.conv2(h))"]) +
        ["return torch.relu(h + self.down(h))" if (mut == "skip_from_wrong_tensor" and fault) else "return torch.relu(h + self.down(x))"],
        args="cin, cout, kernel, dilation")
    widths = [f] * nblocks
    if mut == "residual_width_no_downsample":
        widths[-1] = 2 * f
    chans = [Fd] + widths
    blocks = ", ".join(f"TemporalBlock({chans[i]}, {chans[i + 1]}, {k}, {2 ** i})" for i in range(nblocks))
    conv_cls = "nn.Conv2d" if (mut == "conv2d_on_signal" and fault) else "nn.Conv1d"
    fc_in = f"{widths[-1]} * {T}" if (mut == "fc_in_features" and fault) else f"{widths[-1]}"
    init = [f"self.inp = {conv_cls}({Fd}, {Fd}, 1)   # per-sensor mixing", f"self.blocks = nn.Sequential({blocks})",
            f"self.fc = nn.Linear({fc_in}, {C})"]
    fwd = ["x = x.transpose(1, 2)   # (batch, sensors, steps) for Conv1d", "x = self.blocks(self.inp(x))", "return self.fc(x.mean(dim=2))   # average over time"]
    if mut == "bn_before_transpose":
        init.insert(0, f"self.norm = nn.BatchNorm1d({Fd})   # per-sensor normalisation")
        if fault:
            fwd = ["x = self.norm(x)"] + fwd
        else:
            fwd.insert(1, "x = self.norm(x)")
    net = module("TCN", init, fwd) + ["", "", f"model = TCN(){to}"]
    loop = [f"loader = DataLoader(TensorDataset(X, y), batch_size={B}, shuffle=True)", "criterion = nn.CrossEntropyLoss()", optim_line(p)] + \
        train_loop(p, "loader", dev=to)
    s = lines_to_script([head, dev, data, blk, [""], net, loop])
    fixes = {
        "no_chomp": ("chomp the padded tail after each causal conv (h[:, :, :-self.pad]) so the branch keeps the input length", "causal padding without the chomp makes the branch longer than the skip"),
        "residual_width_no_downsample": (f"project the skip with a 1x1 Conv1d whenever a block changes the width (the first block maps {Fd} sensors to {f} channels)",
                                         "identity skips in blocks that change the channel count"),
        "data_channels_first": ("keep the recordings (samples, steps, sensors): the model transposes them itself", "recordings exported (samples, sensors, steps) into a model that transposes"),
        "fc_in_features": (f"after averaging over time the features are {widths[-1]}: nn.Linear({widths[-1]}, {C})", f"nn.Linear({widths[-1]} * {T}) after a mean over time"),
        "targets_per_step": (f"one class id per recording: y of shape ({N},)", "per-step targets for a sequence classifier"),
        "conv2d_on_signal": ("use nn.Conv1d on (batch, sensors, steps) signals", "nn.Conv2d applied to a 3-D signal batch"),
        "skip_from_wrong_tensor": ("apply the skip projection to the block input x: h + self.down(x)", "residual projection applied to the branch output instead of the input"),
        "bn_before_transpose": (f"BatchNorm1d wants (batch, {Fd} sensors, steps): normalise after x.transpose(1, 2)", "BatchNorm1d on (batch, steps, sensors) recordings"),
    }
    return (s,) + fixes[mut]


register(REG, "torch_tcn", t_tcn, [
    ("no_chomp", "layer_definition", "forward"),
    ("residual_width_no_downsample", "layer_definition", "forward"),
    ("data_channels_first", "data_preprocessing", "forward"),
    ("fc_in_features", "layer_definition", "forward"),
    ("targets_per_step", "loss_label_mismatch", "loss"),
    ("conv2d_on_signal", "layer_combination", "forward"),
    # fourth generation
    ("skip_from_wrong_tensor", "layer_combination", "forward"),
    ("bn_before_transpose", "layer_combination", "forward"),
])


def build_cases(env: str, framework: str, backend: str):
    return _build(REG, env, framework, backend, keras=False)
