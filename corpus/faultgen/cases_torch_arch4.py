"""PyTorch fourth generation, part two: mutations on the first generation's recurrent architectures
(torch_rnn, torch_text) written with the archgen template contract.

Why a separate file: the first generation's kinds are one function per fault with a fixed arch list,
and these two mistakes (an RNN constructed without batch_first and read through its final hidden
state; data transposed to (steps, batch, ...) for a batch_first model) existed on torch_lstm only,
so a held-out torch_lstm had never seen them. The scripts reuse the first generation's task class
`T` (same data, model and loop idioms as the torch_rnn / torch_text records), so the records read
like the other runs of those architectures. The rest of the fourth generation are new mutation
points inside the second and third generation templates (cases_torch_arch.py, cases_torch_arch3.py)
and arch lists widened in cases_torch.py.

Same contract as cases_torch_arch.py (see archgen.py); labels are the registered cause of the
planted mutation.
"""
from __future__ import annotations

from archgen import Mut, register
from archgen import build_cases as _build
from cases_torch import T, hdr, join
from kbuild import P

REG: list[Mut] = []


def t_recurrent(p: P, mut: str, fault: bool, base: str):
    t = T(p, base)
    steps = t.T if base == "rnn" else t.L
    cell = t.cell if base == "rnn" else "GRU"
    u = t.u if base == "rnn" else 16
    fin = t.F if base == "rnn" else t.d
    if mut == "seq_major_data":
        t.loop = p.set("loop", "manual")
    # the fault must change a shape the loss sees: steps may equal neither the batch nor the sample count
    while steps in (t.B, t.N, t.N % t.B):
        steps += 1
    if base == "rnn":
        t.T = p.set("steps", steps)
        t.xshape = (t.T, t.F)
    else:
        t.L = p.set("seq_len", steps)
        t.xshape = (t.L,)
    emb = [f"self.emb = nn.Embedding({t.V}, {t.d})"] if base == "text" else []
    pre = ["x = self.emb(x)"] if base == "text" else []
    if mut == "use_hidden_state":
        init = emb + [f"self.rnn = nn.{cell}({fin}, {u}, batch_first=True)", f"self.fc = nn.Linear({u}, {t.C})"]
        fwd = pre + (["out, (h, c) = self.rnn(x)"] if cell == "LSTM" else ["out, h = self.rnn(x)"]) + \
            ["return self.fc(h)   # final hidden state" if fault else "return self.fc(h[-1])   # final hidden state of the last layer"]
        s = join(hdr(), [t.x_line(), t.y_line()], t.model_def(init, fwd), t.loop_lines())
        return s, "h_n is (num_layers * directions, batch, hidden): take its last layer, h[-1]", "h_n passed to the Linear with its layer axis"
    if mut == "missing_batch_first":
        bf = "" if fault else ", batch_first=True"
        init = emb + [f"self.rnn = nn.{cell}({fin}, {u}{bf})", f"self.fc = nn.Linear({u}, {t.C})"]
        fwd = pre + (["_, (h, _) = self.rnn(x)"] if cell == "LSTM" else ["_, h = self.rnn(x)"]) + ["return self.fc(h[-1])   # last layer's final state"]
        s = join(hdr(), [t.x_line(), t.y_line()], t.model_def(init, fwd), t.loop_lines())
        return s, f"construct the {cell} with batch_first=True for (batch, steps, features) input", \
            f"{cell} without batch_first=True fed batch-major data"
    # seq_major_data: the batch-first model is right; the data was transposed for an older loop
    init = emb + [f"self.rnn = nn.{cell}({fin}, {u}, batch_first=True)", f"self.fc = nn.Linear({u}, {t.C})"]
    fwd = pre + ["out, _ = self.rnn(x)", "return self.fc(out[:, -1])"]
    data = [t.x_line(), t.y_line()]
    if fault:
        data.append("X = X.transpose(0, 1)   # the loop below was written for (steps, batch" + (", features)" if base == "rnn" else ")"))
    xb = f"X[:, i:i + {t.B}]" if fault else f"X[i:i + {t.B}]"
    loop = ["loss_fn = nn.CrossEntropyLoss()", "opt = torch.optim.SGD(model.parameters(), lr=0.05)", "",
            f"for i in range(0, {t.N}, {t.B}):", f"    xb, yb = {xb}, y[i:i + {t.B}]", "    opt.zero_grad()",
            "    loss = loss_fn(model(xb), yb)", "    loss.backward()", "    opt.step()", 'print("final loss", loss.item())']
    s = join(hdr(), data, t.model_def(init, fwd), loop)
    return s, "keep the data batch-major for a batch_first model: X[i:i + B]", \
        "data transposed to (steps, batch, ...) for a batch_first RNN"


def t_rnn4(p: P, mut: str, fault: bool):
    return t_recurrent(p, mut, fault, "rnn")


def t_text4(p: P, mut: str, fault: bool):
    return t_recurrent(p, mut, fault, "text")


for _arch, _tmpl in (("torch_rnn", t_rnn4), ("torch_text", t_text4)):
    register(REG, _arch, _tmpl, [
        ("missing_batch_first", "layer_definition", "loss"),
        ("seq_major_data", "data_preprocessing", "loss"),
        ("use_hidden_state", "layer_combination", "loss"),
    ])



# =============================================================================================
# fourth generation, part three: the first generation's cnn-only layer_definition kinds behind
# "mat1 and mat2 shapes cannot be multiplied" (pt_linear_in_features_wrong, pt_missing_flatten,
# pt_flatten_start_dim_zero, pt_view_hardcoded_batch) planted on the second / third generation's
# convolutional templates. The template is called unchanged (fault=False, one of its own
# generic mutations), so fault and control share every draw; the planted mistake is an edit of
# exactly one line of that correct script (the control may get the equivalent correct idiom, e.g.
# x.view(x.size(0), -1), so that the two scripts differ only by the mistake).
# =============================================================================================
from cases_torch_arch import t_conv3d, t_resnet  # noqa: E402
from cases_torch_arch3 import t_multi_input, t_vit  # noqa: E402


def _edit(s: str, old: str, new: str) -> str:
    assert s.count(old) == 1, f"edit target not unique in the template script: {old!r}"
    return s.replace(old, new)


def _base(p: P, tmpl, base_mut: str, ok=None) -> str:
    """The template's correct script; with `ok`, redraw (same rng, so fault and control redraw alike)
    until the drawn parameters make the planted mistake observable."""
    for _ in range(40):
        s = tmpl(p, base_mut, False)[0]
        if ok is None or ok(p.params):
            return s
    raise AssertionError("no draw satisfied the mutation's guard")


def _ragged(par: dict) -> bool:
    return par["n_samples"] % par["batch_size"] != 0


def t_resnet4(p: P, mut: str, fault: bool):
    s = _base(p, t_resnet, "fc_in_features", _ragged if mut == "view_hardcoded_batch" else None)
    B = p.params["batch_size"]
    line = "        return self.fc(torch.flatten(x, 1))"
    if mut == "missing_flatten":
        if fault:
            s = _edit(s, line, "        return self.fc(x)")
        return s, "flatten the pooled map before the Linear: self.fc(torch.flatten(x, 1)) - it is (batch, C, 1, 1)", \
            "(batch, C, 1, 1) pooled map passed to nn.Linear without flattening"
    if mut == "flatten_start_dim_zero":
        if fault:
            s = _edit(s, line, "        return self.fc(torch.flatten(x))")
        return s, "flatten from dim 1 to keep the batch axis: torch.flatten(x, 1)", "torch.flatten(x) also flattens the batch axis"
    # view_hardcoded_batch
    s = _edit(s, line, f"        x = x.view({B if fault else 'x.size(0)'}, -1)\n        return self.fc(x)")
    return s, "don't hard-code the batch size: x = x.view(x.size(0), -1)", \
        f"view() hard-codes batch {B}; the last batch has {p.params['n_samples'] % B}"


def t_multi_input4(p: P, mut: str, fault: bool):
    s = _base(p, t_multi_input, "head_in_features", _ragged if mut == "view_hardcoded_batch" else None)
    B = p.params["batch_size"]
    line = "a = torch.relu(self.img_fc(self.cnn(img).flatten(1)))"
    if mut == "missing_flatten":
        if fault:
            s = _edit(s, line, "a = torch.relu(self.img_fc(self.cnn(img)))")
        return s, "flatten the image feature map before img_fc: self.cnn(img).flatten(1)", "4-D conv feature map passed to nn.Linear without flattening"
    if mut == "flatten_start_dim_zero":
        if fault:
            s = _edit(s, line, "a = torch.relu(self.img_fc(self.cnn(img).flatten()))")
        return s, "flatten from dim 1 to keep the batch axis: self.cnn(img).flatten(1)", ".flatten() also flattens the batch axis"
    s = _edit(s, line, f"a = torch.relu(self.img_fc(self.cnn(img).view({B if fault else 'img.size(0)'}, -1)))")
    return s, "don't hard-code the batch size: self.cnn(img).view(img.size(0), -1)", \
        f"view() hard-codes batch {B}; the last batch has {p.params['n_samples'] % B}"


def t_conv3d4(p: P, mut: str, fault: bool):
    s = _base(p, t_conv3d, "fc_in_features")
    if mut == "missing_flatten":
        if fault:
            s = _edit(s, "    nn.Flatten(),\n", "")
        return s, "add nn.Flatten() between the conv stack and the classifier", "no nn.Flatten between Conv3d and Linear"
    # flatten_start_dim_zero
    if fault:
        s = _edit(s, "    nn.Flatten(),\n", "    nn.Flatten(0),   # flatten the feature map\n")
    return s, "keep the batch axis: nn.Flatten() (start_dim=1)", "nn.Flatten(0) also flattens the batch axis"


def _vit_ragged(par: dict) -> bool:
    # the hard-coded view must fail on the last batch (view error or a wrong token count into the Linear)
    b = par["n_samples"] % par["batch_size"]
    gh, gw = par["grid"]
    return b != 0 and (b * gh * gw) % par["batch_size"] != 0


def t_vit4(p: P, mut: str, fault: bool):
    s = _base(p, t_vit, "ce_onehot_long", _vit_ragged if mut == "view_hardcoded_batch" else None)
    B, C = p.params["batch_size"], p.params["classes"]
    if mut == "head_in_features":
        if fault:
            s = _edit(s, f"self.head = nn.Linear(DIM, {C})", f"self.head = nn.Linear(N_PATCHES * DIM, {C})   # all patch tokens")
        return s, f"the head sees one pooled DIM-vector per image: nn.Linear(DIM, {C})", \
            "head in_features N_PATCHES * DIM after pooling the tokens to DIM"
    # view_hardcoded_batch
    old = "x = self.patch(x).flatten(2).transpose(1, 2)   # (B, N_PATCHES, DIM)"
    s = _edit(s, old, f"x = self.patch(x).view({B if fault else 'x.size(0)'}, DIM, -1).transpose(1, 2)   # (B, N_PATCHES, DIM)")
    return s, "don't hard-code the batch size: self.patch(x).view(x.size(0), DIM, -1)", \
        f"view() hard-codes batch {B}; the last batch has {p.params['n_samples'] % B}"


register(REG, "torch_resnet", t_resnet4, [
    ("missing_flatten", "layer_definition", "forward"),
    ("flatten_start_dim_zero", "layer_definition", "forward"),
    ("view_hardcoded_batch", "layer_definition", "forward"),
])
register(REG, "torch_multi_input", t_multi_input4, [
    ("missing_flatten", "layer_definition", "forward"),
    ("flatten_start_dim_zero", "layer_definition", "forward"),
    ("view_hardcoded_batch", "layer_definition", "forward"),
])
register(REG, "torch_conv3d", t_conv3d4, [
    ("missing_flatten", "layer_definition", "forward"),
    ("flatten_start_dim_zero", "layer_definition", "forward"),
])
register(REG, "torch_vit", t_vit4, [
    ("head_in_features", "layer_definition", "forward"),
    ("view_hardcoded_batch", "layer_definition", "forward"),
])

def build_cases(env: str, framework: str, backend: str):
    return _build(REG, env, framework, backend, keras=False)
