"""diagnoser.engine.source: facts read from training scripts with `ast`, never by running them."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from diagnoser.engine.source import (
    Dataset,
    Declared,
    LayerCall,
    SourceFacts,
    read_source,
    summary,
)

REPO = Path(__file__).resolve().parents[2]
GENERATED = REPO / "corpus" / "generated"
SCRIPTS = sorted((REPO / "tests" / "fixtures" / "real" / "scripts").glob("*.py")) + sorted(
    (REPO / "tests" / "fixtures" / "real2" / "scripts").glob("*.py")
)


def read(code: str) -> SourceFacts:
    facts = read_source(textwrap.dedent(code))
    assert facts is not None
    return facts


def kinds(facts: SourceFacts) -> list[str]:
    return [la.kind for la in facts.layers]


def ds(facts: SourceFacts, var: str) -> Dataset:
    found = [d for d in facts.datasets if d.var == var]
    assert found, f"no dataset {var!r} in {facts.datasets}"
    return found[-1]


# --------------------------------------------------------------------------------------------------- input


@pytest.mark.parametrize("code", [None, "", "   \n\t\n"])
def test_no_script_is_none(code: str | None) -> None:
    assert read_source(code) is None


@pytest.mark.parametrize(
    "code",
    [
        "\x00\x01 ))) ((( def class : : :\n" * 5,
        "x = " + "(" * 500 + "1" + ")" * 500 + "\n",
        "x = 1" + " + 1" * 20000 + "\n",
        "def f(:\n    return [\n",
        '"""unterminated\nimport keras\n',
        "\ufeffimport keras\r\nm = keras.layers.Dense(3)\r\n",
        "if True:\n\tx = 1\n        y = 2\n",
        "é = 'ü'; import keras; keras.layers.Dense(ünits := 3)",
        "lambda: (yield)",
        "class A(metaclass=type): pass\n" * 3,
        "model.fit(*args, **kwargs)\nlayers.Dense(*a)\nnn.Linear(**cfg)\n",
        "from . import x\nfrom .. import *\nimport a.b.c as d\n",
    ],
)
def test_never_raises(code: str) -> None:
    facts = read_source(code)
    assert facts is not None
    json.dumps(summary(facts))


def test_unicode_offsets_keep_text_whole() -> None:
    f = read(
        """
        import keras
        model = keras.Sequential([keras.layers.Dense(1)])
        données = {"é": 1}
        model.fit(données["é"], y, validation_data=(données["é"], y))
        """
    )
    assert f.fit_calls[0].x == 'données["é"]'
    assert f.fit_calls[0].validation_data == '(données["é"], y)'


# --------------------------------------------------------------------------------------------------- Keras models


def test_keras_sequential_list() -> None:
    f = read(
        """
        import tensorflow as tf
        model = tf.keras.models.Sequential([
            tf.keras.layers.Flatten(input_shape=(28, 28)),
            tf.keras.layers.Dense(128, activation='relu'),
            tf.keras.layers.Dropout(0.2),
            tf.keras.layers.Dense(10, activation='softmax', name="out"),
        ])
        model.compile(optimizer='adam', loss='sparse_categorical_crossentropy')
        model.fit(x_train, y_train, epochs=5, batch_size=32)
        """
    )
    assert f.models == ("sequential",)
    assert kinds(f) == ["flatten", "dense", "dropout", "dense"]
    assert all(la.in_sequential and la.framework == "keras" for la in f.layers)
    assert f.layers[1].args == {"units": 128, "activation": "relu"}
    assert f.layers[2].args == {"rate": 0.2}
    assert f.layers[3].name == "out" and f.layers[3].line == 7
    assert f.declared_inputs == (Declared(shape=(28, 28), via="input_shape", line=4, layer="Flatten"),)
    assert f.losses == ("sparse_categorical_crossentropy",)
    assert f.fit_calls[0].x == "x_train" and f.fit_calls[0].y == "y_train" and f.fit_calls[0].batch_size == 32
    assert f.parse_ok and f.frameworks == ("keras",)


def test_keras_model_add_and_wrappers() -> None:
    f = read(
        """
        from keras.models import Sequential
        from keras.layers import *
        model = Sequential()
        model.add(Embedding(1000, 16, input_length=10))
        model.add(Bidirectional(LSTM(8, return_sequences=True)))
        model.add(TimeDistributed(Dense(4)))
        model.add(GlobalAveragePooling1D())
        model.add(Dense(1, activation="sigmoid", input_dim=4))
        """
    )
    assert kinds(f) == ["embedding", "bidirectional", "lstm", "time_distributed", "dense", "global_pool1d", "dense"]
    assert all(la.in_sequential for la in f.layers)
    emb, bi, lstm, td, inner = f.layers[:5]
    assert emb.args == {"input_dim": 1000, "output_dim": 16, "input_length": 10}
    assert bi.args == {"layer": "lstm"} and lstm.wrapper == "bidirectional"
    assert lstm.args == {"units": 8, "return_sequences": True}
    assert td.args == {"layer": "dense"} and inner.wrapper == "time_distributed"
    # Embedding's input_dim is its vocabulary, not an input shape; input_length is
    assert [(d.via, d.shape, d.shape_int) for d in f.declared_inputs] == [
        ("input_length", (10,), None),
        ("input_dim", (4,), 4),
    ]


def test_keras_functional_chain() -> None:
    f = read(
        """
        from tensorflow import keras
        from tensorflow.keras import layers
        inp = keras.Input(shape=(28, 28, 1), name="img")
        x = layers.Conv2D(32, 3, padding="same", strides=2)(inp)
        x = layers.MaxPooling2D(2)(x)
        x = layers.Reshape((7, 7, 64))(x)
        a = layers.GlobalAveragePooling2D()(x)
        b = layers.Flatten()(x)
        x = layers.Concatenate()([a, b])
        x = layers.Add()([x, x])
        out = layers.Dense(10)(x)
        model = keras.Model(inputs=inp, outputs=out)
        """
    )
    assert f.models == ("functional",)
    assert kinds(f) == [
        "input",
        "conv2d",
        "pool2d",
        "reshape",
        "global_pool2d",
        "flatten",
        "concatenate",
        "add",
        "dense",
    ]
    assert f.layers[1].args == {"filters": 32, "kernel_size": 3, "padding": "same", "strides": 2}
    assert f.layers[2].args == {"pool_size": 2}
    assert f.layers[3].args == {"target_shape": (7, 7, 64)}
    assert not any(la.in_sequential for la in f.layers)
    assert f.declared_inputs[0].shape == (28, 28, 1) and f.declared_inputs[0].via == "Input"


def test_keras_subclassed() -> None:
    f = read(
        """
        import keras
        class Net(keras.Model):
            def __init__(self, **kwargs):
                super().__init__(**kwargs)
                self.conv = keras.layers.Conv1D(8, 3, activation="relu")
                self.pool = keras.layers.GlobalMaxPooling1D()
                self.out = keras.layers.Dense(3, activation="softmax")
            def call(self, inputs):
                return self.out(self.pool(self.conv(inputs)))
        model = Net()
        model.build((None, 20, 4))
        """
    )
    assert f.models == ("subclassed",)
    assert kinds(f) == ["conv1d", "global_pool1d", "dense"]
    assert [la.assigned_to for la in f.layers] == ["self.conv", "self.pool", "self.out"]
    assert f.declared_inputs == (Declared(shape=(None, 20, 4), via="build", line=12),)


def test_custom_keras_layer_is_a_layer() -> None:
    f = read(
        """
        from tensorflow import keras
        class Projection(keras.layers.Layer):
            def __init__(self, units):
                super().__init__()
                self.units = units
        model = keras.Sequential([keras.Input(shape=(12,)), Projection(8, name="proj")])
        """
    )
    assert [(la.cls, la.kind, la.name) for la in f.layers] == [
        ("Input", "input", None),
        ("Projection", "other", "proj"),
    ]
    assert f.models == ("sequential",)


@pytest.mark.parametrize(
    ("call", "shape", "shape_int", "via"),
    [
        ("keras.Input(shape=(28, 28))", (28, 28), None, "Input"),
        ("Input((28, 28, 1))", (28, 28, 1), None, "Input"),
        ("tf.keras.layers.Input(shape=[20])", (20,), None, "Input"),
        ("keras.Input(shape=20)", None, 20, "Input"),
        ("keras.Input(shape=(None, 8))", (None, 8), None, "Input"),
        ("keras.Input(batch_shape=(4, 10))", (4, 10), None, "batch_input_shape"),
        ("keras.layers.InputLayer(input_shape=(5,))", (5,), None, "input_shape"),
        ("keras.layers.Dense(3, batch_input_shape=(None, 28, 28))", (None, 28, 28), None, "batch_input_shape"),
        ("keras.layers.LSTM(4, input_shape=(21, 5))", (21, 5), None, "input_shape"),
        ("keras.layers.Dense(4, input_dim=20)", (20,), 20, "input_dim"),
        ("keras.Input(shape=(IMG, IMG))", (28, 28), None, "Input"),
        ("keras.Input(shape=SHAPE)", (32, 32, 3), None, "Input"),
        ("keras.Input(shape=(*SHAPE[:2], 1))", (32, 32, 1), None, "Input"),
        ("keras.Input(shape=(H * W,))", (1024,), None, "Input"),
        ("keras.Input(shape=(unknown, 3))", (None, 3), None, "Input"),
        ("keras.Input(shape=x_train.shape[1:])", (30, 7), None, "Input"),
        ("keras.Input(shape=(x_train.shape[-1],))", (7,), None, "Input"),
        ("keras.Input(shape=get_shape())", None, None, "Input"),
    ],
)
def test_declared_inputs(call: str, shape: tuple | None, shape_int: int | None, via: str) -> None:
    f = read(
        f"""
        import numpy as np
        import tensorflow as tf
        import keras
        from keras import Input
        IMG = 28
        SHAPE = (32, 32, 3)
        H, W = 32, 32
        x_train = np.random.rand(24, 30, 7)
        layer = {call}
        """
    )
    assert len(f.declared_inputs) == 1
    d = f.declared_inputs[0]
    assert (d.shape, d.shape_int, d.via, d.line) == (shape, shape_int, via, 10)


def test_constants_follow_reassignment_and_defaults() -> None:
    f = read(
        """
        import keras
        N = 10
        a = keras.Input(shape=(N,))
        N = 20
        b = keras.Input(shape=(N,))
        def build(input_shape=(8, 8, 3), n_out=4):
            inp = keras.Input(shape=input_shape)
            return keras.layers.Dense(n_out)(inp)
        """
    )
    assert [d.shape for d in f.declared_inputs] == [(10,), (20,), (8, 8, 3)]
    assert f.layers[-1].args == {"units": 4}


def test_unresolved_arguments_keep_their_names() -> None:
    f = read(
        """
        import keras
        def build(units):
            return keras.layers.Dense(units, activation=keras.activations.relu)
        """
    )
    assert f.layers[0].args == {"units": "units", "activation": "keras.activations.relu"}


# --------------------------------------------------------------------------------------------------- PyTorch models


def test_torch_module() -> None:
    f = read(
        """
        import torch
        from torch import nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.conv = nn.Conv2d(3, 16, 3, padding=1)
                self.pool = nn.MaxPool2d(2)
                self.lstm = nn.LSTM(10, 20, batch_first=True)
                self.emb = nn.Embedding(1000, 16)
                self.bn = nn.BatchNorm1d(32)
                self.gap = nn.AdaptiveAvgPool2d(1)
                self.head = nn.Sequential(nn.Flatten(), nn.Linear(16 * 16 * 16, 10), nn.ReLU())
            def forward(self, x):
                return self.head(self.pool(self.conv(x)))
        model = Net()
        """
    )
    assert f.models == ("torch_module",)
    assert f.frameworks == ("torch",)
    assert kinds(f) == ["conv2d", "pool2d", "lstm", "embedding", "batchnorm", "pool2d", "flatten", "linear", "other"]
    by_name = {la.name: la for la in f.layers}
    assert by_name["conv"].args == {"in_channels": 3, "out_channels": 16, "kernel_size": 3, "padding": 1}
    assert by_name["pool"].args == {"kernel_size": 2}
    assert by_name["lstm"].args == {"input_size": 10, "hidden_size": 20, "batch_first": True}
    assert by_name["emb"].args == {"num_embeddings": 1000, "embedding_dim": 16}
    assert by_name["bn"].args == {"num_features": 32}
    assert by_name["gap"].args == {"output_size": 1}
    linear = [la for la in f.layers if la.kind == "linear"][0]
    assert linear.args == {"in_features": 4096, "out_features": 10} and linear.in_sequential
    assert not by_name["conv"].in_sequential
    assert by_name["conv"].assigned_to == "self.conv" and by_name["conv"].cls == "Conv2d"


@pytest.mark.parametrize(
    "imports",
    ["import torch.nn as nn", "from torch import nn", "import torch\nnn = torch.nn", "", "from torch.nn import *"],
)
def test_torch_aliases(imports: str) -> None:
    prefix = "" if "*" in imports else "nn."
    f = read(imports + f"\nmodel = {prefix or 'nn.'}Sequential({prefix}Linear(784, 10), {prefix}Flatten())\n")
    assert [(la.framework, la.kind, la.in_sequential) for la in f.layers] == [
        ("torch", "linear", True),
        ("torch", "flatten", True),
    ]
    assert f.models == ("torch_module",)


def test_torch_custom_block_inside_module() -> None:
    f = read(
        """
        import torch.nn as nn
        class Block(nn.Module):
            def __init__(self, c):
                super().__init__()
                self.conv = nn.Conv2d(c, c, 3)
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.block = Block(8)
        net = Net()
        """
    )
    assert [(la.cls, la.kind) for la in f.layers] == [("Conv2d", "conv2d"), ("Block", "other")]


def test_lightning_module_is_a_torch_module() -> None:
    f = read(
        """
        import pytorch_lightning as pl
        from torch import nn
        class Lit(pl.LightningModule):
            def __init__(self):
                super().__init__()
                self.fc = nn.Linear(4, 2)
        """
    )
    assert f.models == ("torch_module",) and f.layers[0].name == "fc"


# --------------------------------------------------------------------------------------------------- aliases


@pytest.mark.parametrize(
    ("imports", "dense"),
    [
        ("from tensorflow.keras import layers as L", "L.Dense"),
        ("from keras.layers import *", "Dense"),
        ("from tensorflow.keras.layers import Dense as D", "D"),
        ("import tf_keras as keras", "keras.layers.Dense"),
        ("import tensorflow.keras as K2", "K2.layers.Dense"),
        ("", "layers.Dense"),
        ("", "Dense"),
    ],
)
def test_keras_aliases(imports: str, dense: str) -> None:
    f = read(f"{imports}\nmodel = Sequential([{dense}(4, input_shape=(3,))])\n")
    assert [(la.framework, la.kind, la.args["units"]) for la in f.layers] == [("keras", "dense", 4)]
    assert f.declared_inputs[0].shape == (3,)


def test_ambiguous_bare_names_follow_the_script_framework() -> None:
    torch_f = read("import torch\nlayer = LSTM(10, 20)\n")
    keras_f = read("import keras\nlayer = LSTM(10)\n")
    assert torch_f.layers[0].framework == "torch" and torch_f.layers[0].args == {"input_size": 10, "hidden_size": 20}
    assert keras_f.layers[0].framework == "keras" and keras_f.layers[0].args == {"units": 10}


# --------------------------------------------------------------------------------------------------- losses


@pytest.mark.parametrize(
    ("code", "losses"),
    [
        ('model.compile(loss="sparse_categorical_crossentropy")', ("sparse_categorical_crossentropy",)),
        ('model.compile("adam", "mean_squared_error")', ("mse",)),
        ("model.compile(loss=keras.losses.CategoricalCrossentropy())", ("categorical_crossentropy",)),
        ("model.compile(loss=tf.keras.losses.binary_crossentropy)", ("binary_crossentropy",)),
        ('model.compile(loss=["mse", "mae"])', ("mse", "mae")),
        ('model.compile(loss={"a": "mse", "b": "categorical_crossentropy"})', ("mse", "categorical_crossentropy")),
        ("model.compile(loss=LOSS)", ("huber",)),
        ("model.compile(loss=my_loss)", ("custom:my_loss",)),
        ("crit = nn.CrossEntropyLoss()", ("cross_entropy",)),
        ("crit = nn.BCELoss()", ("bce",)),
        ("crit = nn.BCEWithLogitsLoss()", ("bce_with_logits",)),
        ("crit = nn.MSELoss()", ("mse",)),
        ("crit = nn.NLLLoss()", ("nll",)),
        ("crit = torch.nn.L1Loss()", ("mae",)),
        ("loss = F.cross_entropy(out, y)", ("cross_entropy",)),
        ("loss = F.nll_loss(out, y)", ("nll",)),
        ("loss = nn.functional.mse_loss(out, y)", ("mse",)),
        (
            "loss = tf.nn.sparse_softmax_cross_entropy_with_logits(labels=y, logits=z)",
            ("sparse_softmax_cross_entropy_with_logits",),
        ),
        (
            "fn = tf.keras.losses.SparseCategoricalCrossentropy()\nmodel.compile(loss=fn)",
            ("sparse_categorical_crossentropy",),
        ),
    ],
)
def test_losses(code: str, losses: tuple[str, ...]) -> None:
    f = read(
        "import torch\nimport torch.nn as nn\nimport tensorflow as tf\nfrom tensorflow import keras\nLOSS = 'huber_loss'\n"
        + code
    )
    assert f.losses == losses


def test_loss_args_keep_configuration_only() -> None:
    f = read(
        """
        import tensorflow as tf
        import torch.nn as nn
        model.compile(loss=tf.keras.losses.SparseCategoricalCrossentropy(from_logits=True))
        crit = nn.CrossEntropyLoss(ignore_index=-1, label_smoothing=0.1)
        z = tf.nn.softmax_cross_entropy_with_logits(labels=y, logits=out)
        """
    )
    assert f.loss_args == {
        "sparse_categorical_crossentropy": {"from_logits": True},
        "cross_entropy": {"ignore_index": -1, "label_smoothing": 0.1},
    }


# --------------------------------------------------------------------------------------------------- class counts


def test_num_classes_and_their_sources() -> None:
    f = read(
        """
        import numpy as np
        import torch
        import torch.nn.functional as F
        from tensorflow.keras.utils import to_categorical
        NUM_CLASSES = 5
        n_classes = 7
        class_names = ["cat", "dog", "bird"]
        images = np.random.randint(0, 256, (32, 20, 20, 1))
        y = np.random.randint(0, 10, size=(32,))
        y_cat = to_categorical(y, 5)
        y_kw = to_categorical(y, num_classes=NUM_CLASSES)
        t = F.one_hot(torch.tensor([1, 2]), 4)
        tgt = torch.randint(12, (8,))
        model.fit(images, labels_for_fit)
        labels_for_fit = np.random.randint(0, 6, 32)
        """
    )
    assert set(f.class_sources) == {
        (5, "constant:NUM_CLASSES"),
        (7, "constant:n_classes"),
        (3, "constant:class_names"),
        (5, "to_categorical"),
        (4, "one_hot"),
        (10, "randint:y"),
        (12, "randint:tgt"),
        (6, "randint:labels_for_fit"),
    }
    assert 256 not in f.num_classes  # pixel values drawn at random are not classes
    assert f.num_classes[:3] == (5, 7, 3)


# --------------------------------------------------------------------------------------------------- datasets


def test_tf_data_chain_through_reassignments() -> None:
    f = read(
        """
        import tensorflow as tf
        BATCH = 32
        ds = tf.data.Dataset.from_tensor_slices((x, y))
        ds = ds.shuffle(100)
        ds = ds.map(lambda a, b: (a, b)).batch(BATCH, drop_remainder=True)
        train = ds.prefetch(tf.data.AUTOTUNE)
        val = tf.data.Dataset.from_tensor_slices((xv, yv))
        model.fit(train, validation_data=val.batch(8), epochs=1)
        model.evaluate(ds.unbatch().take(3))
        """
    )
    d = ds(f, "ds")
    assert (d.origin, d.ops, d.batch_size, d.drop_last, d.line) == (
        "from_tensor_slices",
        ("shuffle", "map", "batch"),
        32,
        True,
        4,
    )
    t = ds(f, "train")
    assert t.ops == ("shuffle", "map", "batch", "prefetch") and t.derived_from == "ds" and t.line == 7
    v = ds(f, "val")
    assert v.ops == () and v.batch_size is None and v.drop_last is None
    assert ds(f, "val.batch(8)").ops == ("batch",)
    e = ds(f, "ds.unbatch().take(3)")
    assert e.ops == ("shuffle", "map", "batch", "unbatch", "take") and e.batch_size is None
    assert [(c.method, c.x, c.validation_data) for c in f.fit_calls] == [
        ("fit", "train", "val.batch(8)"),
        ("evaluate", "ds.unbatch().take(3)", None),
    ]


def test_dataset_origins() -> None:
    f = read(
        """
        import tensorflow as tf
        import tensorflow_datasets as tfds
        from tensorflow import keras
        gen = tf.data.Dataset.from_generator(make, output_signature=sig).padded_batch(4)
        (train, test), info = tfds.load("mnist", split=["train", "test"], with_info=True, as_supervised=True)
        imgs = keras.utils.image_dataset_from_directory("data/")
        flat = keras.utils.image_dataset_from_directory("data/", batch_size=None)
        rng = tf.data.Dataset.range(10).window(3)
        def make_ds(a, b):
            d = tf.data.Dataset.from_tensor_slices((a, b))
            return d.batch(16)
        made = make_ds(x, y).repeat()
        not_a_dataset = np.repeat(x, 3)
        """
    )
    assert (ds(f, "gen").origin, ds(f, "gen").ops, ds(f, "gen").batch_size) == ("from_generator", ("padded_batch",), 4)
    assert ds(f, "train").origin == "tfds" and ds(f, "test").origin == "tfds"
    assert not [d for d in f.datasets if d.var == "info"]
    assert (ds(f, "imgs").ops, ds(f, "imgs").batch_size) == (("batch",), 32)
    assert (ds(f, "flat").ops, ds(f, "flat").batch_size) == ((), None)
    assert ds(f, "rng").ops == ("window",)
    assert (ds(f, "made").origin, ds(f, "made").ops, ds(f, "made").batch_size) == (
        "from_tensor_slices",
        ("batch", "repeat"),
        16,
    )
    assert not [d for d in f.datasets if d.var == "not_a_dataset"]


def test_dataloader_arguments() -> None:
    f = read(
        """
        from torch.utils.data import DataLoader, TensorDataset
        BS = 16
        data = TensorDataset(X, y)
        a = DataLoader(data, batch_size=BS, shuffle=True, drop_last=True, collate_fn=pad)
        b = DataLoader(data, 8)
        c = DataLoader(data)
        d = DataLoader(data, batch_size=None)
        e = DataLoader(data, batch_size=args.bs, collate_fn=None)
        for xb, yb in DataLoader(data, batch_size=4):
            pass
        train_kwargs = {"batch_size": 64}
        train_kwargs.update({"shuffle": True})
        f = DataLoader(data, **train_kwargs)
        g = DataLoader(data, **dict(batch_size=7, drop_last=True))
        h = DataLoader(data, **opaque)
        """
    )
    got = {d.var: (d.origin, d.ops, d.batch_size, d.drop_last, d.collate_fn) for d in f.datasets}
    assert got == {
        "a": ("DataLoader", ("batch",), 16, True, True),
        "b": ("DataLoader", ("batch",), 8, False, False),
        "c": ("DataLoader", ("batch",), 1, False, False),
        "d": ("DataLoader", (), None, False, False),
        "e": ("DataLoader", ("batch",), None, False, False),
        "DataLoader(data, batch_size=4)": ("DataLoader", ("batch",), 4, False, False),
        "f": ("DataLoader", ("batch",), 64, False, False),
        "g": ("DataLoader", ("batch",), 7, True, False),
        "h": ("DataLoader", ("batch",), None, None, False),  # **kwargs it cannot read: no default assumed
    }


# --------------------------------------------------------------------------------------------------- fit calls


def test_fit_calls() -> None:
    f = read(
        """
        from sklearn.preprocessing import StandardScaler
        BATCH = 64
        scaler = StandardScaler()
        scaler.fit(x_raw)
        model.fit(x=x_train, y=y_train, batch_size=BATCH, validation_data=(x_val, y_val))
        model.evaluate(x_test, y_test)
        p = model.predict(x_test[:1])
        model.train_on_batch(xb, yb)
        model.fit_generator(datagen.flow(x, y, batch_size=32), steps_per_epoch=10)
        """
    )
    assert [(c.method, c.x, c.y, c.validation_data, c.batch_size, c.receiver) for c in f.fit_calls] == [
        ("fit", "x_train", "y_train", "(x_val, y_val)", 64, "model"),
        ("evaluate", "x_test", "y_test", None, None, "model"),
        ("predict", "x_test[:1]", None, None, None, "model"),
        ("train_on_batch", "xb", "yb", None, None, "model"),
        ("fit_generator", "datagen.flow(x, y, batch_size=32)", None, None, None, "model"),
    ]


# --------------------------------------------------------------------------------------------------- data ops


def test_data_ops() -> None:
    f = read(
        """
        import numpy as np
        import torch
        import tensorflow as tf
        from tensorflow.keras.utils import to_categorical
        x = x.reshape(-1, 784).astype("float64") / 255.0
        x2 = np.reshape(x, (60000, 28, 28))
        x3 = np.expand_dims(x2, -1)
        x4 = x2[..., np.newaxis]
        x5 = x2[:, :, None]
        s = np.stack([a, b], axis=0)
        t = torch.tensor(x, dtype=torch.float64)
        t = t.double()
        t = t.float()
        t = t.permute(0, 3, 1, 2)
        t = t.transpose(1, 2)
        r = tf.image.resize(img, (224, 224))
        y = to_categorical(y, 10)
        q = t.squeeze(-1).unsqueeze(0)
        def forward(self, x):
            x = x.view(16, -1)
            return x.view(batch, -1)
        loss = fn(logits.reshape(-1, 4), y)
        """
    )
    got = [(o.var, o.op, o.args, o.target, o.scope) for o in f.data_ops]
    assert got == [
        ("x", "reshape", (-1, 784), "x", None),
        ("x", "astype", ("float64",), "x", None),
        ("x", "reshape", (60000, 28, 28), "x2", None),
        ("x2", "expand_dims", (-1,), "x3", None),
        ("x2", "newaxis", ("...", "newaxis"), "x4", None),
        ("x2", "newaxis", (":", ":", "newaxis"), "x5", None),
        ("a", "stack", (0,), "s", None),
        ("x", "tensor", ("float64",), "t", None),
        ("t", "double", (), "t", None),
        ("t", "float", (), "t", None),
        ("t", "permute", (0, 3, 1, 2), "t", None),
        ("t", "transpose", (1, 2), "t", None),
        ("img", "resize", (224, 224), "r", None),
        ("y", "to_categorical", (10,), "y", None),
        ("t", "squeeze", (-1,), "q", None),
        ("t", "unsqueeze", (0,), "q", None),
        ("x", "view", (16, -1), "x", "forward"),
        ("x", "view", ("batch", -1), None, "forward"),
        ("logits", "reshape", (-1, 4), None, None),
    ]
    assert [op.line for op in f.data_ops][:3] == [6, 6, 7]


def test_arrays_made_with_known_shapes() -> None:
    f = read(
        """
        import numpy as np
        import torch
        x = np.random.rand(24, 30, 30).astype("float32")
        x = x[..., np.newaxis]
        y = np.random.randint(0, 7, size=(24,))
        t = torch.from_numpy(np.random.rand(8, 6))
        u = torch.randn(4, 3, 8).transpose(1, 2)
        img = np.random.randint(0, 256, (2, 8, 8, 3)).astype("uint8") / 255
        z = np.zeros((3, 4)).reshape(-1)
        loaded = np.load("x.npy")
        """
    )
    assert [(a.var, a.shape, a.dtype) for a in f.arrays] == [
        ("x", (24, 30, 30), "float32"),
        ("x", (24, 30, 30, 1), "float32"),
        ("y", (24,), "int64"),
        ("t", (8, 6), "float64"),
        ("u", (4, 8, 3), "float32"),
        ("img", (2, 8, 8, 3), "float64"),
        ("z", (12,), "float64"),
    ]


def test_keras_datasets_have_known_shapes() -> None:
    f = read(
        """
        from tensorflow.keras.datasets import mnist
        from tensorflow import keras
        (x_train, y_train), (x_test, y_test) = mnist.load_data()
        x_train = x_train.reshape(x_train.shape[0], 28, 28, 1).astype("float32") / 255
        model = keras.Sequential([keras.layers.Conv2D(8, 3, input_shape=x_train.shape[1:])])
        """
    )
    assert [(a.var, a.shape, a.dtype) for a in f.arrays] == [
        ("x_train", (60000, 28, 28), "uint8"),
        ("y_train", (60000,), "uint8"),
        ("x_test", (10000, 28, 28), "uint8"),
        ("y_test", (10000,), "uint8"),
        ("x_train", (60000, 28, 28, 1), "float32"),
    ]
    assert f.data_ops[0].args == (60000, 28, 28, 1)
    assert f.declared_inputs[0].shape == (28, 28, 1)
    assert (10, "dataset:mnist") in f.class_sources


def test_image_generators_and_padding() -> None:
    f = read(
        """
        from tensorflow.keras.preprocessing.image import ImageDataGenerator
        from tensorflow.keras.preprocessing.sequence import pad_sequences
        gen = ImageDataGenerator(rescale=1.0 / 255)
        gen.fit(x)
        train = gen.flow_from_directory("d", target_size=(150, 150), batch_size=20, class_mode="binary")
        flowed = gen.flow(x, y)
        seqs = pad_sequences(tokens, maxlen=100, padding="post")
        model.fit(train, validation_data=flowed)
        """
    )
    assert [(d.var, d.ops, d.batch_size) for d in f.datasets] == [("train", ("batch",), 20), ("flowed", ("batch",), 32)]
    assert [(o.op, o.var, o.args) for o in f.data_ops] == [("pad_sequences", "tokens", (100, "post"))]
    assert [c.receiver for c in f.fit_calls] == ["model"]  # the generator's own fit is not a model's


def test_module_aliases_by_assignment() -> None:
    f = read(
        """
        import tensorflow as tf
        layers = tf.keras.layers
        Dense = tf.keras.layers.Dense
        m = tf.keras.Sequential([layers.Conv1D(4, 3), Dense(2)])
        """
    )
    assert [(la.cls, la.kind, la.in_sequential) for la in f.layers] == [
        ("Conv1D", "conv1d", True),
        ("Dense", "dense", True),
    ]


# --------------------------------------------------------------------------------------------------- broken scripts


def test_python2_print_costs_only_its_line() -> None:
    f = read(
        """
        import keras
        from keras.layers import Dense
        print "starting"
        model = keras.models.Sequential()
        model.add(Dense(10, input_dim=8))
        model.compile(loss="binary_crossentropy", optimizer="adam")
        """
    )
    assert not f.parse_ok
    assert kinds(f) == ["dense"] and f.layers[0].line == 6
    assert f.losses == ("binary_crossentropy",)


def test_statement_left_open_is_closed() -> None:
    f = read(
        """
        import tensorflow as tf
        model = tf.keras.Sequential([
            tf.keras.layers.Dense(10, input_shape=(4,)),
            tf.keras.layers.Dense(3
        model.compile(loss="mse")
        model.fit(x, y)
        """
    )
    assert not f.parse_ok
    assert kinds(f) == ["dense", "dense"] and all(la.in_sequential for la in f.layers)
    assert f.losses == ("mse",) and f.fit_calls[0].line == 7


def test_errors_inside_a_class_keep_the_rest_of_it() -> None:
    f = read(
        """
        import torch.nn as nn
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(10, 20)
                self.fc2 = nn.Linear(20 2)
                self.fc3 = nn.Linear(2, 1)
            def forward(self, x) ->
                return self.fc3(self.fc2(self.fc1(x)))
        loss = nn.MSELoss()
        """
    )
    assert not f.parse_ok
    assert [la.name for la in f.layers] == ["fc1", "fc3"]
    assert f.models == ("torch_module",) and f.losses == ("mse",)


def test_newer_syntax_than_the_reader() -> None:
    f = read(
        """
        import keras
        d = {"a": 1}
        print(f"{d["a"]}")
        m = keras.Sequential([keras.layers.Dense(2)])
        """
    )
    assert kinds(f) == ["dense"]


def test_notebook_export() -> None:
    f = read(
        """
        #!/usr/bin/env python
        # coding: utf-8

        # In[1]:


        get_ipython().system('pip install tensorflow')
        !pip install -q tensorflow-datasets
        %matplotlib inline
        %load_ext autoreload


        # In[2]:


        %%bash
        ls -la data/
        wget http://example.com/x.zip


        # In[3]:


        import tensorflow as tf
        files = !ls data
        model = tf.keras.Sequential([tf.keras.layers.Dense(4, input_shape=(3,))])
        model.summary?
        if True:
            %time model.fit(x, y)
        model.compile(loss="mse")
        """
    )
    assert f.parse_ok
    assert kinds(f) == ["dense"] and f.layers[0].line == 27
    assert f.losses == ("mse",)


def test_notebook_pasted_as_ipynb_json() -> None:
    nb = {
        "cells": [
            {"cell_type": "markdown", "source": ["# Title"]},
            {"cell_type": "code", "source": ["!pip install keras\n", "import keras\n"]},
            {"cell_type": "code", "source": "model = keras.Sequential([keras.layers.Dense(2, input_shape=(4,))])"},
        ]
    }
    f = read(json.dumps(nb))
    assert f.parse_ok and kinds(f) == ["dense"] and f.declared_inputs[0].shape == (4,)


def test_mutated_scripts_never_raise() -> None:
    """Deletions, truncations, stray brackets and shuffled lines: every mutant still yields facts."""
    import random

    rng = random.Random(0)
    texts = [p.read_text(encoding="utf-8") for p in SCRIPTS] or ["import keras\nkeras.layers.Dense(2)\n"]
    for _ in range(300):
        s = rng.choice(texts)
        op = rng.randrange(4)
        if op == 0:
            k = rng.randrange(len(s))
            s = s[:k] + s[k + rng.randint(1, 8) :]
        elif op == 1:
            s = s[: rng.randrange(len(s))]
        elif op == 2:
            k = rng.randrange(len(s))
            s = s[:k] + rng.choice(["(", ")", ":", '"""', "\t", "\\", "[", "%", "!", "def "]) + s[k:]
        else:
            lines = s.split("\n")
            rng.shuffle(lines)
            s = "\n".join(lines)
        facts = read_source(s)
        assert facts is None or isinstance(facts, SourceFacts)
        json.dumps(summary(facts))


# --------------------------------------------------------------------------------------------------- summary


def test_summary_is_flat_and_json() -> None:
    f = read(
        """
        import keras
        model = keras.Sequential([keras.Input(shape=(3,)), keras.layers.Dense(2)])
        model.compile(loss=keras.losses.BinaryCrossentropy(from_logits=True))
        """
    )
    s = summary(f)
    assert json.loads(json.dumps(s)) == s
    assert s["layer_kinds"] == ["input", "dense"]
    assert s["declared_inputs"] == ["(3,) via Input (Input) @3"]
    assert s["loss_args"] == ["binary_crossentropy(from_logits=True)"]
    assert all(isinstance(v, (bool, int, list)) for v in s.values())
    assert summary(None) == {"present": False}


def test_facts_are_frozen() -> None:
    f = read("import keras\nkeras.layers.Dense(2)\n")
    with pytest.raises(AttributeError):
        f.parse_ok = False  # type: ignore[misc]
    assert isinstance(f.layers[0], LayerCall)


# --------------------------------------------------------------------------------------------------- real scripts


@pytest.mark.parametrize("path", SCRIPTS, ids=[p.name for p in SCRIPTS])
def test_real_scripts_parse(path: Path) -> None:
    f = read_source(path.read_text(encoding="utf-8"))
    assert f is not None and f.parse_ok
    json.dumps(summary(f))


def test_generated_corpus() -> None:
    """Every snippet of the labelled corpus parses and nearly every one yields its layers."""
    files = sorted(GENERATED.glob("*.jsonl"))
    if not files:
        pytest.skip("corpus/generated is not in this checkout")
    snippets = [
        row["snippet"]
        for path in files
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and (row := json.loads(line)).get("snippet")
    ]
    assert snippets
    found = {k: 0 for k in ("layers", "declared_inputs", "losses", "datasets", "fit_calls", "num_classes", "models")}
    for s in snippets:
        f = read_source(s)
        assert f is not None and f.parse_ok
        for k in found:
            found[k] += bool(getattr(f, k))
    shares = {k: round(v / len(snippets), 3) for k, v in found.items()}
    print(f"\n{len(snippets)} snippets; share with each field: {shares}")
    assert shares["layers"] >= 0.95
