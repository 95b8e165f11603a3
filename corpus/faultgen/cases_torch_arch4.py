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
from cases_torch import T, join, hdr
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


def build_cases(env: str, framework: str, backend: str):
    return _build(REG, env, framework, backend, keras=False)
