"""Keras architectures of the second generation: autoencoders, U-Net, transformer encoder, Conv3D
video, audio spectrogram CNN, two-head tabular model, siamese network, seq2seq, regression,
augmentation + tf.data image classifier, TextVectorization pipeline, transfer learning with a
reused base model, bidirectional GRU, TimeDistributed video model and a GradientTape loop.

Each architecture is one template (see archgen.py) with several mutation points; every mutation is
registered with its cause, so each record is labelled by construction. Scripts are written in the
import idioms real users mix (`import keras`, `from keras import layers`, `from tensorflow import
keras`, `tf.keras.layers`, `from tensorflow.keras import layers`, `import tf_keras as keras`), with
shapes sometimes read from the data (`x_train.shape[1:]`) and sizes drawn off the round numbers.

In the template text `¤` stands for the keras module prefix (`keras.` or `tf.keras.`) and `§` for
the layers prefix (`keras.layers.`, `layers.` or `tf.keras.layers.`).
"""
from __future__ import annotations

from archgen import Mut, lines_to_script, register
from archgen import build_cases as _build
from kbuild import P

REG: list[Mut] = []


def khead(p: P, tf: bool = False) -> tuple[list[str], str, str]:
    """Import lines in one of several idioms; returns (lines, keras prefix, layers prefix)."""
    if p.framework == "keras3" and p.backend != "tensorflow":
        opts = ["keras", "keras+layers"]
    elif "_tfkeras" in p.env:
        opts = ["tf_keras", "tf_keras+layers", "tf.keras", "from_tf"]
    elif p.framework == "keras3":
        opts = ["keras", "keras+layers", "tf.keras", "from_tf"]
    else:
        opts = ["from_tf", "from_tf+layers", "tf.keras", "keras"]
    idiom = p.choice("import_idiom", opts)
    lines = ["import numpy as np"]
    if tf or idiom in ("tf.keras", "from_tf", "from_tf+layers"):
        lines.append("import tensorflow as tf")
    K, Lp = "keras.", "keras.layers."
    if idiom == "keras":
        lines.append("import keras")
    elif idiom == "keras+layers":
        lines += ["import keras", "from keras import layers"]
        Lp = "layers."
    elif idiom == "tf_keras":
        lines.append("import tf_keras as keras")
    elif idiom == "tf_keras+layers":
        lines += ["import tf_keras as keras", "from tf_keras import layers"]
        Lp = "layers."
    elif idiom == "tf.keras":
        K, Lp = "tf.keras.", "tf.keras.layers."
    elif idiom == "from_tf":
        lines.append("from tensorflow import keras")
    elif idiom == "from_tf+layers":
        lines += ["from tensorflow import keras", "from tensorflow.keras import layers"]
        Lp = "layers."
    return lines, K, Lp


def finish(p: P, head: tuple[list[str], str, str], blocks: list[list[str]]) -> str:
    lines, K, Lp = head
    s = lines_to_script([lines] + blocks)
    return s.replace("§", Lp).replace("¤", K)


def names(p: P) -> tuple[str, str]:
    return p.choice("data_names", [("x", "y"), ("x_train", "y_train"), ("X", "y"), ("features", "labels")])


def verbose(p: P) -> int:
    return p.choice("verbose", [0, 0, 0, 2])


def onehot_line(var: str, k: int) -> str:
    return f"{var} = ¤utils.to_categorical({var}, {k})"


def summary(p: P, model: str = "model") -> list[str]:
    return [f"{model}.summary()"] if p.flag("summary", 0.4) else []


def seq_or_func(p: P, layer_exprs: list[str], in_shape: str, style: str, model: str = "model",
                name: str | None = None, in_dtype: str = "") -> list[str]:
    nm = f', name="{name}"' if name else ""
    dt = f', dtype="{in_dtype}"' if in_dtype else ""
    if style == "sequential":
        return [f"{model} = ¤Sequential(["] + [f"    ¤Input(shape={in_shape}{dt}),"] + \
            [f"    {e}," for e in layer_exprs] + [f"]{nm})"]
    if style == "noinput":
        return [f"{model} = ¤Sequential(["] + [f"    {e}," for e in layer_exprs] + [f"]{nm})"]
    out = [f"inputs = ¤Input(shape={in_shape}{dt})"]
    prev = "inputs"
    for i, e in enumerate(layer_exprs):
        tgt = "outputs" if i == len(layer_exprs) - 1 else "h"
        out.append(f"{tgt} = {e}({prev})")
        prev = "h"
    out.append(f"{model} = ¤Model(inputs, outputs{nm})")
    return out


N_OPTS = [18, 21, 26, 30, 37, 44]
BS_OPTS = [4, 5, 6, 8, 10, 12, 16]


# =============================================================================================
# autoencoder (dense, targets = inputs)
# =============================================================================================
def t_autoencoder(p: P, mut: str, fault: bool):
    head = khead(p)
    X, _ = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    H, W = p.choice("img_hw", [(8, 8), (7, 9), (12, 10), (6, 11), (14, 14), (5, 13)])
    F = H * W
    h = p.choice("hidden", [32, 48, 24, 40])
    code = p.choice("code", [4, 6, 8, 10, 3])
    k = p.choice("off", [1, 2, 3, 5])
    style = p.choice("model_style", ["two_models", "sequential", "functional"])
    if mut == "encoder_input":
        style = p.set("model_style", "two_models")
    v = verbose(p)
    loss = p.choice("loss", ["mse", "binary_crossentropy", "mae"])
    data = [f'images = np.random.rand({N}, {H}, {W}).astype("float32")   # scaled to [0, 1]']
    if mut == "images_not_flattened" and fault:
        data.append(f"{X} = images")
    else:
        data.append(f"{X} = images.reshape(len(images), -1)   # ({N}, {F})")
    target = X
    if mut == "targets_images" and fault:
        target = "images"
    if mut == "targets_half_res":
        data.append(f"{X}_small = images[:, ::2, ::2].reshape(len(images), -1)   # half-resolution copy for the preview")
        if fault:
            target = f"{X}_small"
    data.append(f"x_test = {X}[:5]" if not (mut == "predict_extra_column" and fault) else
                f"x_test = np.hstack([{X}[:5], np.arange(5).reshape(-1, 1)])   # sample ids kept as a column")
    out_units = F - k if (mut == "output_units" and fault) else F
    dec_in = code + k if (mut == "decoder_input" and fault) else code
    if style == "two_models" or mut == "decoder_input":
        model = [f"encoder = ¤Sequential([¤Input(shape=({F + k if (mut == 'encoder_input' and fault) else F},)), §Dense({h}, activation=\"relu\"), §Dense({code}, activation=\"relu\")], name=\"encoder\")",
                 f"decoder = ¤Sequential([¤Input(shape=({dec_in},)), §Dense({h}, activation=\"relu\"), §Dense({out_units}, activation=\"sigmoid\")], name=\"decoder\")",
                 "autoencoder = ¤Sequential([encoder, decoder], name=\"autoencoder\")"]
    elif style == "sequential":
        model = ["autoencoder = ¤Sequential([", f"    ¤Input(shape=({F},)),", f"    §Dense({h}, activation=\"relu\"),",
                 f"    §Dense({code}, activation=\"relu\", name=\"code\"),", f"    §Dense({h}, activation=\"relu\"),",
                 f"    §Dense({out_units}, activation=\"sigmoid\"),", "])"]
    else:
        model = [f"inputs = ¤Input(shape={X}.shape[1:])", f"z = §Dense({h}, activation=\"relu\")(inputs)",
                 f"z = §Dense({code}, activation=\"relu\", name=\"bottleneck\")(z)", f"r = §Dense({h}, activation=\"relu\")(z)",
                 f"r = §Dense({out_units}, activation=\"sigmoid\")(r)", "autoencoder = ¤Model(inputs, r)"]
    lossname = loss if not (mut == "loss_typo" and fault) else {"mse": "mean_square_error", "binary_crossentropy": "binary_crossentopy", "mae": "mean_abs_error"}[loss]
    fit = f"autoencoder.fit({X}, {target}, epochs=1, batch_size={bs}, shuffle=True, verbose={v})"
    if mut == "fit_without_targets" and fault:
        fit = f"autoencoder.fit({X}, epochs=1, batch_size={bs}, shuffle=True, verbose={v})"
    calls = [f'autoencoder.compile(optimizer="adam", loss="{lossname}")', fit,
             "recon = autoencoder.predict(x_test, verbose=0)", 'print("reconstruction error", float(np.mean((recon - x_test) ** 2)))'
             if not (mut == "predict_extra_column" and fault) else 'print("reconstruction", recon.shape)']
    summ = summary(p, "autoencoder")
    if style == "two_models" or mut == "decoder_input":
        summ = []   # tf.keras <= 2.15 cannot summarise a Sequential of sub-models before it is built
    s = finish(p, head, [data, model, summ, calls])
    fixes = {
        "output_units": (f"the decoder must reconstruct all {F} inputs: last Dense({F}) (not {F - k})", f"decoder outputs {F - k} values for {F}-value targets"),
        "decoder_input": (f"declare the decoder input as the {code}-unit code: Input(shape=({code},))", f"decoder Input({code + k}) after a {code}-unit encoder"),
        "images_not_flattened": (f"flatten the images first: {X} = images.reshape(len(images), -1) -> ({N}, {F})", f"{H}x{W} images fed unflattened to a dense autoencoder"),
        "targets_images": (f"use the same flattened array as input and target: fit({X}, {X})", "targets are the unflattened images, the decoder outputs flat vectors"),
        "predict_extra_column": (f"drop the id column: x_test must have the {F} pixel columns", f"x_test has {F + 1} columns (id column kept)"),
        "fit_without_targets": (f"an autoencoder's target is its input: autoencoder.fit({X}, {X}, ...)", "fit called without targets"),
        "loss_typo": (f"use a known loss name: loss='{loss}'", f"typo in the loss name ('{lossname}')"),
        "encoder_input": (f"declare the encoder's Input(shape=({F},)) like the flattened images", f"encoder Input declares {F + k} features, the images flatten to {F}"),
        "targets_half_res": (f"reconstruct the full-resolution images: autoencoder.fit({X}, {X})",
                             f"targets are a half-resolution copy ({((H + 1) // 2) * ((W + 1) // 2)} values) of the {F}-value inputs"),
    }
    return (s,) + fixes[mut]


register(REG, "autoencoder", t_autoencoder, [
    ("output_units", "layer_definition", "loss"),
    ("decoder_input", "input_layer", "build"),
    ("images_not_flattened", "data_preprocessing", "fit"),
    ("targets_images", "loss_label_mismatch", "loss"),
    ("predict_extra_column", "data_preprocessing", "predict"),
    ("fit_without_targets", "input_pipeline", "fit"),
    ("loss_typo", "other", "compile", 1),
])
# fourth generation: mistakes that existed on one architecture only (encoder Input as in siamese,
# half-resolution targets as in conv_autoencoder)
register(REG, "autoencoder", t_autoencoder, [
    ("encoder_input", "input_layer", "fit"),
    ("targets_half_res", "loss_label_mismatch", "loss"),
])


# =============================================================================================
# conv autoencoder
# =============================================================================================
def t_conv_autoencoder(p: P, mut: str, fault: bool):
    head = khead(p, tf=mut == "dataset_no_targets")
    X, _ = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    H, W = p.choice("hw", [(28, 28), (32, 32), (24, 24), (36, 36), (20, 20), (16, 48), (44, 44)])
    Ch = p.choice("channels", [1, 3])
    if mut in ("channels_first_declared", "channels_first_data"):
        Ch = p.set("channels", 3)
    if mut in ("gray_input_no_channel", "rgb_into_gray_model"):
        Ch = p.set("channels", 1)
    f = p.choice("filters", [8, 16, 12])
    dec = p.choice("decoder", ["transpose", "upsample"])
    shape_src = p.choice("shape_src", ["literal", "data"])
    if mut in ("gray_input_no_channel", "rgb_into_gray_model", "channels_first_data"):
        shape_src = p.set("shape_src", "literal")
    v = verbose(p)
    loss = p.choice("loss", ["mse", "binary_crossentropy"])
    dH, dW = p.choice("raw_hw_off", [(-2, -2), (-2, 0), (2, 2), (-1, -1)])
    Hd, Wd = (H + dH, W + dW) if (mut == "odd_size" and fault) else (H, W)
    data = [f'{X} = np.random.rand({N}, {Hd}, {Wd}, {Ch}).astype("float32")']
    if mut == "rgb_into_gray_model" and fault:
        data = [f'{X} = np.random.rand({N}, {H}, {W}, 3).astype("float32")   # the scans were loaded as RGB']
    if mut == "channels_first_data" and fault:
        data = [f'{X} = np.random.rand({N}, {Ch}, {H}, {W}).astype("float32")   # (N, C, H, W) as saved by the torch loader']
    target = X
    if mut == "targets_flattened":
        data.append(f"{X}_flat = {X}.reshape(len({X}), -1)   # flat copy for the pixel histogram")
        if fault:
            target = f"{X}_flat"
    if mut == "targets_downsampled":
        data.append(f"{X}_small = {X}[:, ::2, ::2, :]   # half-resolution copy for the preview")
        if fault:
            target = f"{X}_small"
    in_shape = f"{X}.shape[1:]" if shape_src == "data" else f"({H}, {W}, {Ch})"
    if mut == "channels_first_declared":
        in_shape = f"({Ch}, {H}, {W})" if fault else f"({H}, {W}, {Ch})"
    if mut == "gray_input_no_channel" and fault:
        in_shape = f"({H}, {W})"
    m = [f"inputs = ¤Input(shape={in_shape})",
         f'h = §Conv2D({f}, 3, strides=2, padding="same", activation="relu")(inputs)',
         f'h = §Conv2D({2 * f}, 3, strides=2, padding="same", activation="relu", name="encoded")(h)']
    if mut == "dense_bottleneck":
        m += ["h = §Flatten()(h)", f'h = §Dense({(H // 4) * (W // 4) * 2 * f // 4}, activation="relu", name="code")(h)',
              f'h = §Dense({(H // 4) * (W // 4) * 2 * f}, activation="relu")(h)']
        if not fault:
            m.append(f"h = §Reshape(({H // 4}, {W // 4}, {2 * f}))(h)")
    second_up = not (mut == "missing_upsample" and fault)
    if dec == "transpose":
        m.append(f'h = §Conv2DTranspose({2 * f}, 3, strides=2, padding="same", activation="relu")(h)')
        m.append(f'h = §Conv2DTranspose({f}, 3, strides={2 if second_up else 1}, padding="same", activation="relu")(h)')
    else:
        m += ["h = §UpSampling2D(2)(h)", f'h = §Conv2D({2 * f}, 3, padding="same", activation="relu")(h)']
        if second_up:
            m.append("h = §UpSampling2D(2)(h)")
        m.append(f'h = §Conv2D({f}, 3, padding="same", activation="relu")(h)')
    m += [f'outputs = §Conv2D({Ch}, 3, padding="same", activation="sigmoid", name="reconstruction")(h)',
          'model = ¤Model(inputs, outputs, name="conv_autoencoder")']
    if mut == "dataset_no_targets":
        fitl = [f"ds = tf.data.Dataset.from_tensor_slices({X if fault else f'({X}, {X})'}).batch({bs})",
                f"model.fit(ds, epochs=1, verbose={v})"]
    else:
        fitl = [f"model.fit({X}, {target}, epochs=1, batch_size={bs}, verbose={v})"]
    calls = [f'model.compile(optimizer="adam", loss="{loss}")'] + fitl
    s = finish(p, head, [data, m, summary(p), calls])
    fixes = {
        "odd_size": (f"resize or pad the images to {H}x{W} (a multiple of 4) so two stride-2 stages and two upsamplings give the input size back",
                     f"{Hd}x{Wd} images through two stride-2 convs and two x2 upsamplings"),
        "missing_upsample": ("upsample as often as the encoder downsamples (two x2 stages)", "decoder upsamples once for two stride-2 encoder stages"),
        "dense_bottleneck": (f"reshape the dense code back to a map before the decoder: Reshape(({H // 4}, {W // 4}, {2 * f}))", "Conv2DTranspose/UpSampling2D applied to a 2-D Dense output"),
        "channels_first_declared": (f"declare channels last like the data: Input(shape=({H}, {W}, {Ch}))", "Input declared channels-first"),
        "targets_downsampled": (f"reconstruct the full-resolution images: model.fit({X}, {X})", "targets are a half-resolution copy of the inputs"),
        "dataset_no_targets": (f"give the dataset (input, target) pairs: from_tensor_slices(({X}, {X}))", "tf.data dataset of inputs only for an autoencoder"),
        "targets_flattened": (f"reconstruct the image arrays themselves: model.fit({X}, {X}) (the decoder outputs ({H}, {W}, {Ch}) maps)", "targets are a flattened copy of the images"),
        "gray_input_no_channel": (f"declare the channel axis of the grayscale images: Input(shape=({H}, {W}, 1))", "Input declared without the channel axis"),
        "rgb_into_gray_model": (f"convert the scans to one channel (x.mean(-1, keepdims=True)) for the ({H}, {W}, 1) model", "3-channel images into a model built for 1 channel"),
        "channels_first_data": (f"move channels last: {X} = {X}.transpose(0, 2, 3, 1) -> ({N}, {H}, {W}, {Ch})", "channels-first images into a channels-last autoencoder"),
    }
    return (s,) + fixes[mut]


register(REG, "conv_autoencoder", t_conv_autoencoder, [
    ("odd_size", "data_preprocessing", "loss"),
    ("missing_upsample", "layer_definition", "loss"),
    ("dense_bottleneck", "layer_combination", "build"),
    ("channels_first_declared", "input_layer", "fit"),
    ("targets_downsampled", "loss_label_mismatch", "loss"),
    ("dataset_no_targets", "input_pipeline", "fit", 2, {"tf": True}),
])
register(REG, "conv_autoencoder", t_conv_autoencoder, [   # fourth generation
    ("targets_flattened", "loss_label_mismatch", "loss"),
    ("gray_input_no_channel", "input_layer", "build"),
    ("rgb_into_gray_model", "data_preprocessing", "fit"),
    ("channels_first_data", "data_preprocessing", "fit"),
])


# =============================================================================================
# U-Net-ish segmentation with Concatenate skips
# =============================================================================================
def t_unet(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", [12, 14, 18, 20]), p.choice("batch_size", [2, 3, 4, 6])
    H, W = p.choice("hw", [(32, 32), (24, 24), (40, 40), (48, 32), (16, 16), (28, 28), (24, 36)])
    Ch = p.choice("channels", [1, 3])
    if mut in ("gray_input_no_channel", "rgb_into_gray_model"):
        Ch = p.set("channels", 1)
    if mut in ("channels_first_declared", "channels_first_data"):
        Ch = p.set("channels", 3)
    K = p.randint("mask_classes", 3, 7)
    f = p.choice("filters", [4, 8])
    up = p.choice("upsample", ["UpSampling2D", "Conv2DTranspose"])
    shape_src = p.choice("shape_src", ["literal", "data"])
    if mut in ("gray_input_no_channel", "channels_first_declared", "channels_first_data", "rgb_into_gray_model"):
        shape_src = p.set("shape_src", "literal")
    v = verbose(p)
    H2, W2 = p.choice("declared_hw", [(H + 8, W + 8), (H - 8, W - 8), (W + 4, H + 4)])
    if mut == "size_not_divisible":
        shape_src = p.set("shape_src", "data")
    Hd, Wd = (H - 2, W - 2) if (mut == "size_not_divisible" and fault) else (H, W)
    data = [f'images = np.random.rand({N}, {Hd}, {Wd}, {Ch}).astype("float32")',
            f"masks = np.random.randint(0, {K}, size=({N}, {Hd // 2 if (mut == 'masks_downsampled' and fault) else Hd}, "
            f"{Wd // 2 if (mut == 'masks_downsampled' and fault) else Wd}))   # class id per pixel"]
    if mut == "masks_onehot_sparse" and fault:
        data.append(onehot_line("masks", K))
    if mut == "masks_downsampled" and fault:
        data[-1] += "  (annotation tool exported half resolution)"
    if mut == "channels_first_data" and fault:
        data[0] = f'images = np.random.rand({N}, {Ch}, {H}, {W}).astype("float32")   # (N, C, H, W) from the DICOM export'
    if mut == "rgb_into_gray_model" and fault:
        data[0] = f'images = np.random.rand({N}, {H}, {W}, 3).astype("float32")   # the scans were saved as RGB'
    if mut == "masks_flattened" and fault:
        data.append("masks = masks.reshape(len(masks), -1)   # one row of pixel labels per image")
    in_shape = "images.shape[1:]" if shape_src == "data" else f"({H}, {W}, {Ch})"
    if mut == "input_hw" and fault:
        in_shape = f"({H2}, {W2}, {Ch})"
    if mut == "gray_input_no_channel" and fault:
        in_shape = f"({H}, {W})"
    if mut == "channels_first_declared" and fault:
        in_shape = f"({Ch}, {H}, {W})"
    pad2 = '"valid"' if (mut == "valid_padding" and fault) else '"same"'

    def upl(n: int, src: str, dst: str) -> str:
        return f"{dst} = §UpSampling2D(2)({src})" if up == "UpSampling2D" else \
            f'{dst} = §Conv2DTranspose({n}, 2, strides=2, padding="same")({src})'
    skip1 = "c2" if (mut == "skip_wrong_level" and fault) else "c1"
    outK = K - 1 if (mut == "output_classes" and fault) else K
    m = [f"inputs = ¤Input(shape={in_shape})",
         f'c1 = §Conv2D({f}, 3, padding="same", activation="relu")(inputs)',
         "p1 = §MaxPooling2D(2)(c1)",
         f'c2 = §Conv2D({2 * f}, 3, padding={pad2}, activation="relu")(p1)',
         "p2 = §MaxPooling2D(2)(c2)",
         f'b = §Conv2D({4 * f}, 3, padding="same", activation="relu", name="bottleneck")(p2)',
         upl(2 * f, "b", "u2"),
         "m2 = §Concatenate()([u2, c2])",
         f'c3 = §Conv2D({2 * f}, 3, padding="same", activation="relu")(m2)',
         upl(f, "c3", "u1"),
         f'm1 = §Concatenate(name="skip1")([u1, {skip1}])',
         f'c4 = §Conv2D({f}, 3, padding="same", activation="relu")(m1)',
         f'outputs = §Conv2D({outK}, 1, activation="softmax", name="mask")(c4)',
         'model = ¤Model(inputs, outputs, name="unet")']
    metric = "mean_iou" if (mut == "metric_name" and fault) else "accuracy"
    calls = [f'model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["{metric}"])',
             f"model.fit(images, masks, epochs=1, batch_size={bs}, verbose={v})",
             "pred = model.predict(images[:2], verbose=0).argmax(-1)", "print(pred.shape)"]
    s = finish(p, head, [data, m, summary(p), calls])
    fixes = {
        "size_not_divisible": (f"resize or pad the images to a multiple of 4 (e.g. {H}x{W}) so the upsampled maps match the skip connections",
                               f"{Hd}x{Wd} images: pooling floors odd sizes, Concatenate gets unequal maps"),
        "valid_padding": ("use padding='same' in the encoder conv so the skip and upsampled maps keep equal sizes", "one encoder conv uses padding='valid'"),
        "skip_wrong_level": ("concatenate the last upsampled map with c1 (same resolution), not c2", "skip connection taken from the wrong level"),
        "masks_onehot_sparse": ("keep integer masks (N, H, W) for sparse_categorical_crossentropy, or use categorical_crossentropy with one-hot masks",
                                "one-hot masks with sparse_categorical_crossentropy"),
        "output_classes": (f"output one channel per mask class: Conv2D({K}, 1) (mask ids go up to {K - 1})", f"Conv2D({K - 1}) head for {K} mask classes"),
        "masks_downsampled": (f"resize the masks to the image size {H}x{W} with nearest-neighbour interpolation", "masks at half the image resolution"),
        "input_hw": (f"declare Input(shape=({H}, {W}, {Ch})) like the images", f"Input declares {H2}x{W2}, the images are {H}x{W}"),
        "gray_input_no_channel": (f"declare the channel axis: Input(shape=({H}, {W}, 1)) for the (N, {H}, {W}, 1) images", "Input declared without the channel axis"),
        "channels_first_declared": (f"declare channels last like the images: Input(shape=({H}, {W}, {Ch}))", "Input declared channels-first"),
        "channels_first_data": (f"move channels last: images = images.transpose(0, 2, 3, 1) -> ({N}, {H}, {W}, {Ch})", "channels-first images into a channels-last U-Net"),
        "rgb_into_gray_model": (f"convert the images to one channel (images.mean(-1, keepdims=True)) for the ({H}, {W}, 1) model", "3-channel images into a model built for 1 channel"),
        "masks_flattened": (f"keep the masks as (N, {H}, {W}) maps of class ids like the model's per-pixel output", "masks flattened to (N, H*W) for a per-pixel softmax output"),
        "metric_name": (f"'mean_iou' is not a metric name: use metrics=[keras.metrics.MeanIoU(num_classes={K}, sparse_y_pred=False)] or 'accuracy'", "unknown metric name 'mean_iou'"),
    }
    return (s,) + fixes[mut]


register(REG, "unet", t_unet, [
    ("size_not_divisible", "data_preprocessing", "build"),
    ("valid_padding", "layer_definition", "build"),
    ("skip_wrong_level", "layer_combination", "build"),
    ("masks_onehot_sparse", "loss_label_mismatch", "loss"),
    ("output_classes", "loss_label_mismatch", "fit", 1),
    ("masks_downsampled", "data_preprocessing", "loss"),
    ("input_hw", "input_layer", "fit"),
    ("metric_name", "other", "fit", 1),
])
register(REG, "unet", t_unet, [   # fourth generation
    ("gray_input_no_channel", "input_layer", "build"),
    ("channels_first_declared", "input_layer", "build"),
    ("channels_first_data", "data_preprocessing", "fit"),
    ("masks_flattened", "loss_label_mismatch", "loss"),
    ("rgb_into_gray_model", "data_preprocessing", "fit"),
])


# =============================================================================================
# transformer encoder (MultiHeadAttention, LayerNormalization, learned positional embedding)
# =============================================================================================
def t_transformer(p: P, mut: str, fault: bool):
    head = khead(p)
    X, Y = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    L = p.randint("seq_len", 9, 37)
    V = p.choice("vocab", [61, 120, 257, 500, 999])
    d = p.choice("embed_dim", [16, 24, 32])
    nh = p.choice("heads", [2, 4])
    kd = p.choice("key_dim", [8, 16])
    ffw = p.choice("ff_dim", [32, 48, 64])
    C = p.randint("classes", 2, 20)
    off = p.choice("off", [-3, 2, 5, 7])
    v = verbose(p)
    pool = p.choice("pool", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
    L2 = max(4, L + off)
    data = [f"{X} = np.random.randint(1, {V}, size=({N}, {L2 if (mut == 'padded_len' and fault) else L}))",
            f"{Y} = np.random.randint(0, {C}, size=({N},))"]
    if mut == "labels_onehot_sparse" and fault:
        data.append(onehot_line(Y, C))
    layer = ["class PositionEmbedding(§Layer):", "    def __init__(self, seq_len, dim, **kwargs):", "        super().__init__(**kwargs)",
             "        self.seq_len, self.dim = seq_len, dim", "", "    def build(self, input_shape):",
             '        self.pos = self.add_weight(name="pos", shape=(self.seq_len, self.dim), initializer="zeros")', "",
             "    def call(self, x):", "        return x + self.pos"]
    consts = [f"MAXLEN = {L}", f"VOCAB = {V}", f"EMBED = {d}"]
    in_shape = "(MAXLEN, EMBED)" if (mut == "input_with_embed_dim" and fault) else "(MAXLEN,)"
    if mut == "seq_len_declared" and fault:
        in_shape = f"({L2},)"
    pos_len = f"{L2}" if (mut == "pos_len" and fault) else "MAXLEN"
    d2 = d // 2 if (mut == "ffn_width" and fault) else None
    m = [f'inputs = ¤Input(shape={in_shape}, dtype="int32")', "z = §Embedding(VOCAB, EMBED)(inputs)",
         f'z = PositionEmbedding({pos_len}, EMBED, name="positions")(z)',
         *(['z = §Conv2D(EMBED, 3, padding="same", activation="relu")(z)   # local n-gram features'] if (mut == "conv2d_on_tokens" and fault) else []),
         f"attn = §MultiHeadAttention(num_heads={nh}, key_dim={kd})(z" + (")" if (mut == "mha_missing_value" and fault) else ", z)"),
         "z = §LayerNormalization()(§Add()([z, attn]))",
         f'ff = §Dense({ffw}, activation="relu")(z)', f"ff = §Dense({d2 if d2 else 'EMBED'})(ff)",
         "z = §LayerNormalization()(§Add()([z, ff]))"]
    if mut == "lstm_after_pooling":
        m += [f"z = §{pool}()(z)", "z = §LSTM(16)(z)"] if fault else ["z = §LSTM(16)(z)"]
    elif mut == "lstm_after_flatten":
        m += ["z = §Flatten()(z)", "z = §LSTM(16)(z)"] if fault else ["z = §LSTM(16)(z)"]
    elif not (mut == "no_pooling" and fault):
        m.append(f"z = §{pool}()(z)")
    m += ['z = §Dropout(0.1)(z)', f'outputs = §Dense({C}, activation="softmax")(z)', 'model = ¤Model(inputs, outputs, name="tiny_transformer")']
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
             f"model.fit({X}, {Y}, epochs=1, batch_size={bs}, validation_split=0.2, verbose={v})"]
    s = finish(p, head, [data, layer, consts, m, summary(p), calls])
    fixes = {
        "pos_len": (f"size the positional embedding for the sequence length: PositionEmbedding(MAXLEN={L}, EMBED)", f"positional table of {L2} rows for {L}-token sequences"),
        "ffn_width": (f"project the feed-forward block back to EMBED={d} units so the residual Add matches", f"feed-forward output {d // 2} wide, residual is {d}"),
        "padded_len": (f"pad the token sequences to MAXLEN={L} (not {L2})", f"sequences padded to {L2} for a model built for {L}"),
        "no_pooling": (f"pool over the tokens ({pool}) before the classifier so the output is (batch, {C})", "no pooling: the output keeps the token axis"),
        "lstm_after_pooling": ("put the LSTM on the (tokens, dim) sequence, not after the global pooling", "LSTM after global pooling"),
        "labels_onehot_sparse": ("keep integer labels for sparse_categorical_crossentropy (or switch to categorical_crossentropy)", "one-hot labels with sparse CE"),
        "input_with_embed_dim": ("declare token ids only: Input(shape=(MAXLEN,)); the Embedding adds the EMBED axis", "Input declares (MAXLEN, EMBED) for token ids"),
        "seq_len_declared": (f"declare Input(shape=(MAXLEN,)) = ({L},) like the padded sequences", f"Input declares {L2} tokens, sequences and positions have {L}"),
        "conv2d_on_tokens": ("use Conv1D on the (tokens, dim) sequence (Conv2D needs 4-D maps)", "Conv2D applied to the 3-D token embeddings"),
        "lstm_after_flatten": ("remove the Flatten before the LSTM: it needs the (tokens, dim) sequence", "LSTM after Flatten"),
        "mha_missing_value": ("self-attention takes query and value: MultiHeadAttention(...)(x, x)", "MultiHeadAttention called with the query only"),
    }
    return (s,) + fixes[mut]


register(REG, "transformer", t_transformer, [
    ("pos_len", "layer_definition", "build"),
    ("ffn_width", "layer_definition", "build"),
    ("padded_len", "data_preprocessing", "fit"),
    ("no_pooling", "layer_definition", "loss"),
    ("lstm_after_pooling", "layer_combination", "build"),
    ("labels_onehot_sparse", "loss_label_mismatch", "loss"),
    ("input_with_embed_dim", "input_layer", "build"),
    ("mha_missing_value", "other", "build", 1, {"expect": ("TypeError",)}),
])
register(REG, "transformer", t_transformer, [   # fourth generation
    ("seq_len_declared", "input_layer", "build"),
    ("conv2d_on_tokens", "layer_combination", "build"),
    ("lstm_after_flatten", "layer_combination", "build"),
])


# =============================================================================================
# Conv3D video classifier
# =============================================================================================
def t_conv3d(p: P, mut: str, fault: bool):
    head = khead(p)
    X, Y = names(p)
    N, bs = p.choice("n_samples", [12, 16, 20, 22]), p.choice("batch_size", [2, 4, 5, 8])
    T = p.choice("frames", [4, 5, 6, 8])
    H, W = p.choice("hw", [(12, 12), (16, 16), (10, 14), (8, 12), (18, 10)])
    Ch = p.choice("channels", [1, 3])
    if mut == "channels_first":
        Ch = p.set("channels", 3)
    if mut in ("missing_channel", "gray_input_no_channel"):
        Ch = p.set("channels", 1)
    f = p.choice("filters", [4, 6, 8])
    C = p.randint("classes", 2, 11)
    style = p.choice("model_style", ["sequential", "functional"])
    if mut == "missing_channel":
        style = p.set("model_style", "noinput")
    v = verbose(p)
    npool = p.randint("pools", 3, 4)
    if mut == "channels_first" and fault:
        data = [f'{X} = np.random.rand({N}, {Ch}, {T}, {H}, {W}).astype("float32")   # (clips, channels, frames, H, W) from the decoder']
    elif mut == "missing_channel":
        data = [f'{X} = np.random.rand({N}, {T}, {H}, {W}).astype("float32")   # grayscale clips']
        if not fault:
            data.append(f"{X} = {X}[..., np.newaxis]")
    else:
        data = [f'{X} = np.random.rand({N}, {T}, {H}, {W}, {Ch}).astype("float32")   # (clips, frames, H, W, channels)']
    data.append(f"{Y} = np.random.randint(0, {C}, size=({N},))")
    k1 = f"({T + 1}, 3, 3)" if (mut == "kernel_time" and fault) else "3"
    pad1 = '"valid"' if mut == "kernel_time" else '"same"'
    first = f'§Conv3D({f}, {k1}, padding={pad1}, activation="relu")' if not (mut == "conv2d_on_video" and fault) else \
        f'§Conv2D({f}, 3, padding="same", activation="relu")'
    layers_ = [first]
    if mut == "pool_stack" and fault:
        layers_ += ["§MaxPooling3D(2)"] * npool
    else:
        layers_ += ["§MaxPooling3D((1, 2, 2))"]
    if mut == "convlstm_return_sequences_gap":
        rs3 = ", return_sequences=True" if fault else ""
        layers_ += [f'§ConvLSTM2D({2 * f}, 3, padding="same"{rs3})', "§GlobalAveragePooling2D()", f'§Dense({C}, activation="softmax")']
    else:
        layers_ += [f'§Conv3D({2 * f}, 3, padding="same", activation="relu")', "§GlobalAveragePooling3D()", f'§Dense({C}, activation="softmax")']
    in_shape = f"({H}, {W}, {Ch})" if (mut == "input_no_time" and fault) else f"({T}, {H}, {W}, {Ch})"
    if mut == "gray_input_no_channel" and fault:
        in_shape = f"({T}, {H}, {W})"
    m = seq_or_func(p, layers_, in_shape, style, name="video_net")
    loss = "categorical_crossentropy" if (mut == "int_labels_categorical" and fault) else "sparse_categorical_crossentropy"
    calls = [f'model.compile(optimizer="adam", loss="{loss}")', f"model.fit({X}, {Y}, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [data, m, summary(p) if style != "noinput" else [], calls])
    fixes = {
        "channels_first": (f"move channels last: {X} = np.transpose({X}, (0, 2, 3, 4, 1)) -> ({N}, {T}, {H}, {W}, {Ch})", "channels-first clips into a channels-last Conv3D model"),
        "missing_channel": (f"add the channel axis: {X} = {X}[..., np.newaxis] -> ({N}, {T}, {H}, {W}, 1)", "grayscale clips without a channel axis"),
        "kernel_time": (f"use a temporal kernel no longer than the {T} frames (e.g. 3) or padding='same'", f"Conv3D kernel of {T + 1} frames for {T}-frame clips"),
        "pool_stack": (f"pool only spatially (MaxPooling3D((1, 2, 2))) or fewer times: {T} frames cannot be halved {npool} times", f"{npool} MaxPooling3D(2) on {T} frames"),
        "conv2d_on_video": ("use Conv3D (or TimeDistributed(Conv2D)) for (frames, H, W, C) clips", "Conv2D applied to 5-D video input"),
        "input_no_time": (f"declare the frame axis: Input(shape=({T}, {H}, {W}, {Ch}))", "Input declares one frame (H, W, C) for a Conv3D model"),
        "int_labels_categorical": ("with integer labels use sparse_categorical_crossentropy (or one-hot the labels)", "integer labels with categorical_crossentropy"),
        "gray_input_no_channel": (f"declare the channel axis: Input(shape=({T}, {H}, {W}, 1))", "Input declared without the channel axis of the grayscale clips"),
        "convlstm_return_sequences_gap": ("drop return_sequences=True on the ConvLSTM2D before GlobalAveragePooling2D", "ConvLSTM2D returns the frame axis, GlobalAveragePooling2D expects 4-D"),
    }
    return (s,) + fixes[mut]


register(REG, "conv3d", t_conv3d, [
    ("channels_first", "data_preprocessing", "fit"),
    ("missing_channel", "data_preprocessing", "fit"),
    ("kernel_time", "layer_definition", "build"),
    ("pool_stack", "layer_definition", "build"),
    ("conv2d_on_video", "layer_combination", "build"),
    ("input_no_time", "input_layer", "build"),
    ("int_labels_categorical", "loss_label_mismatch", "loss"),
])
register(REG, "conv3d", t_conv3d, [   # fourth generation
    ("gray_input_no_channel", "input_layer", "build"),
    ("convlstm_return_sequences_gap", "layer_definition", "build"),
])


# =============================================================================================
# audio spectrogram CNN
# =============================================================================================
def t_audio(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    frame = p.choice("frame_len", [64, 100, 128, 160, 96])
    nf = p.randint("n_frames", 18, 41)
    if nf == frame // 2 + 1:
        nf += 1
    C = p.randint("classes", 2, 12)
    extra = p.choice("val_extra_frames", [3, 5, 8, -4])
    v = verbose(p)
    style = p.choice("model_style", ["sequential", "functional"])
    if mut == "spec_transposed":   # Keras 3 Sequential conv nets accept other spatial sizes silently
        style = p.set("model_style", "functional")
    consts = [f"FRAME = {frame}          # samples per STFT frame", f"N_FRAMES = {nf}", "N_BINS = FRAME // 2 + 1",
              "CLIP = FRAME * N_FRAMES"]
    data = ["def spectrogram(waves):", "    frames = waves.reshape(len(waves), -1, FRAME)",
            '    return np.log1p(np.abs(np.fft.rfft(frames, axis=-1))).astype("float32")', "",
            f'waves = np.random.randn({N}, CLIP).astype("float32")', f"labels = np.random.randint(0, {C}, size=({N},))",
            "spec = spectrogram(waves)   # (clips, frames, bins)"]
    if mut == "spec_transposed" and fault:
        data.append("spec = spec.transpose(0, 2, 1)   # librosa layout: (bins, frames)")
    data.append("spec = spec[..., np.newaxis]")
    fit_x = "waves" if (mut == "raw_waves" and fault) else "spec"
    val = []
    if mut == "val_clip_length":
        nv = nf + extra if fault else nf
        val = [f'val_waves = np.random.randn(6, FRAME * {nv}).astype("float32")' + ("   # longer recordings" if fault and extra > 0 else ""),
               "val_spec = spectrogram(val_waves)[..., np.newaxis]", f"val_labels = np.random.randint(0, {C}, size=(6,))"]
    if mut == "labels_onehot_sparse" and fault:
        data.append(onehot_line("labels", C))
    in_shape = "(N_FRAMES, FRAME // 2, 1)" if (mut == "bins_off_by_one" and fault) else "(N_FRAMES, N_BINS, 1)"
    conv = '§Conv1D(8, 3, activation="relu")' if (mut == "conv1d_on_spec" and fault) else '§Conv2D(8, 3, activation="relu")'
    pool = "§MaxPooling1D(2)" if (mut == "conv1d_on_spec" and fault) else "§MaxPooling2D(2)"
    layers_ = [conv, pool, '§Conv2D(16, 3, activation="relu")', "§GlobalAveragePooling2D()", "§Dropout(0.25)", f'§Dense({C}, activation="softmax")']
    m = seq_or_func(p, layers_, in_shape, style, name="kws_cnn")
    fitc = f"model.fit({fit_x}, labels, epochs=1, batch_size={bs}, verbose={v}" + (", validation_data=(val_spec, val_labels))" if val else ")")
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])', fitc]
    s = finish(p, head, [consts, data, val, m, summary(p), calls])
    fixes = {
        "bins_off_by_one": (f"an rfft of {frame} samples has FRAME // 2 + 1 = {frame // 2 + 1} bins: Input(shape=(N_FRAMES, N_BINS, 1))", f"Input declares {frame // 2} frequency bins, rfft gives {frame // 2 + 1}"),
        "spec_transposed": (f"keep (frames, bins): do not transpose, the model expects ({nf}, {frame // 2 + 1}, 1)", "spectrogram transposed to (bins, frames)"),
        "val_clip_length": (f"cut or pad the validation recordings to CLIP = {frame * nf} samples like the training clips", f"validation clips give {nf + extra} frames, the model takes {nf}"),
        "conv1d_on_spec": ("use Conv2D/MaxPooling2D on (frames, bins, 1) spectrograms (or drop the channel axis for Conv1D)", "Conv1D on a 4-D spectrogram batch"),
        "raw_waves": ("feed the spectrograms, not the raw waveforms: model.fit(spec, labels)", "raw waveforms fed to a spectrogram model"),
        "labels_onehot_sparse": ("keep integer labels for sparse_categorical_crossentropy", "one-hot labels with sparse CE"),
    }
    return (s,) + fixes[mut]


register(REG, "audio_cnn", t_audio, [
    ("bins_off_by_one", "input_layer", "fit"),
    ("spec_transposed", "data_preprocessing", "fit"),
    ("val_clip_length", "data_preprocessing", "validation"),
    ("conv1d_on_spec", "layer_combination", "build"),
    ("raw_waves", "data_preprocessing", "fit"),
    ("labels_onehot_sparse", "loss_label_mismatch", "loss"),
])


# =============================================================================================
# tabular multi-output (two heads, dict losses)
# =============================================================================================
def t_multi_output(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    F = p.randint("features", 5, 33)
    C = p.randint("classes", 2, 15)
    K = p.randint("reg_targets", 2, 4)
    a, b = p.choice("head_names", [("label", "value"), ("species", "measurements"), ("category", "price"), ("churn", "spend")])
    v = verbose(p)
    K2 = K + 1
    data = [f'x = np.random.rand({N}, {F + 1 if (mut == "features_extra_column" and fault) else F}).astype("float32")'
            + ("   # customer id column not dropped" if (mut == "features_extra_column" and fault) else ""),
            f"y_{a} = np.random.randint(0, {C}, size=({N},))", f'y_{b} = np.random.rand({N}, {K}).astype("float32")']
    if mut == "cls_onehot_sparse" and fault:
        data.append(onehot_line(f"y_{a}", C))
    prep = []
    if mut == "adapt_with_target":
        prep = ["norm = §Normalization()", f"norm.adapt(np.hstack([x, y_{b}]))   # statistics of the whole table" if fault else "norm.adapt(x)"]
    m = [f'inputs = ¤Input(shape=({F},), name="features")',
         *(["h = norm(inputs)", 'h = §Dense(32, activation="relu")(h)'] if prep else ['h = §Dense(32, activation="relu")(inputs)']),
         'h = §Dense(16, activation="relu")(h)',
         f'out_{a} = §Dense({C}, activation="softmax", name="{a}")(h)',
         f'out_{b} = §Dense({K2 if (mut == "reg_units" and fault) else K}, name="{b}")(h)',
         f"model = ¤Model(inputs, [out_{a}, out_{b}])"]
    lw = f"{b}_loss" if (mut == "loss_weights_key" and fault) else b
    calls = [f'model.compile(optimizer="adam", loss={{"{a}": "sparse_categorical_crossentropy", "{b}": "mse"}}, loss_weights={{"{a}": 1.0, "{lw}": 0.5}})']
    tk = f"{a}s" if (mut == "target_key_typo" and fault) else a
    if mut == "targets_list_order" and fault:
        tgt = f"[y_{b}, y_{a}]"
    elif mut == "targets_list_order":
        tgt = f"[y_{a}, y_{b}]"
    else:
        tgt = f'{{"{tk}": y_{a}, "{b}": y_{b}}}'
    calls.append(f"model.fit(x, {tgt}, epochs=1, batch_size={bs}, verbose={v})")
    calls.append(f"pred_{a}, pred_{b} = model.predict(x[:4], verbose=0)")
    s = finish(p, head, [data, prep, m, summary(p), calls])
    fixes = {
        "adapt_with_target": (f"adapt the Normalization on the {F} feature columns only: norm.adapt(x)", f"Normalization adapted on features + the {K} '{b}' target columns"),
        "target_key_typo": (f'key the targets by the output layer names: {{"{a}": y_{a}, "{b}": y_{b}}}', f'target dict key "{a}s" matches no output'),
        "reg_units": (f"give the '{b}' head one unit per regression target: Dense({K}, name='{b}')", f"'{b}' head has {K2} units for {K} targets"),
        "cls_onehot_sparse": (f"keep y_{a} as integer ids for sparse_categorical_crossentropy", "one-hot class targets with sparse CE"),
        "features_extra_column": (f"drop the id column: x must have the {F} feature columns", f"{F + 1} columns for a {F}-feature Input"),
        "targets_list_order": (f"list the targets in the order of the outputs: [y_{a}, y_{b}]", "targets listed in the wrong order"),
        "loss_weights_key": (f'key loss_weights by the output names: {{"{a}": 1.0, "{b}": 0.5}}', f'loss_weights key "{b}_loss" names no output'),
    }
    return (s,) + fixes[mut]


register(REG, "multi_output", t_multi_output, [
    ("target_key_typo", "input_pipeline", "fit"),
    ("reg_units", "layer_definition", "loss"),
    ("cls_onehot_sparse", "loss_label_mismatch", "loss"),
    ("features_extra_column", "data_preprocessing", "fit"),
    ("targets_list_order", "input_pipeline", "loss"),
    ("loss_weights_key", "other", "compile", 1),
])
register(REG, "multi_output", t_multi_output, [   # fourth generation
    ("adapt_with_target", "data_preprocessing", "build"),
])


# =============================================================================================
# siamese network with a shared encoder
# =============================================================================================
def t_siamese(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    F = p.randint("features", 6, 40)
    d = p.choice("embed_dim", [8, 12, 16, 5])
    if d == F:
        F += 1
    h = p.choice("hidden", [32, 24])
    merge = p.choice("merge", ["subtract", "dot"])
    if mut == "dot_axes":
        merge = p.set("merge", "dot")
    if mut == "subtract_raw":
        merge = p.set("merge", "subtract")
    F2 = F + p.choice("off", [1, 2, -1])
    v = verbose(p)
    data = [f'left = np.random.rand({N}, {F}).astype("float32")',
            f'right = np.random.rand({N}, {F2 if (mut == "pair_width" and fault) else F}).astype("float32")',
            f"same = np.random.randint(0, 2, size=({N},))   # 1 if both rows describe the same item"]
    enc_in = F2 if (mut == "encoder_input" and fault) else F
    m = [f'encoder = ¤Sequential([¤Input(shape=({enc_in},)), §Dense({h}, activation="relu"), §Dense({d})], name="encoder")',
         f'in_a = ¤Input(shape=({F},), name="left")', f'in_b = ¤Input(shape=({F2 if (mut == "right_input_declared" and fault) else F},), name="right")',
         "emb_a = encoder(in_a)", "emb_b = encoder(in_b)"]
    if merge == "subtract":
        m.append(f"diff = §Subtract()([emb_a, {'in_b' if (mut == 'subtract_raw' and fault) else 'emb_b'}])")
        m.append('score = §Dense(1, activation="sigmoid")(diff)')
    else:
        m.append(f"sim = §Dot(axes={2 if (mut == 'dot_axes' and fault) else 1}, normalize=True)([emb_a, emb_b])")
        m.append('score = §Dense(1, activation="sigmoid")(sim)')
    m.append('model = ¤Model([in_a, in_b], score, name="siamese")')
    if mut == "stacked_pairs" and fault:
        fx = "np.stack([left, right], axis=1)"
    elif mut == "one_input" and fault:
        fx = "left"
    else:
        fx = "[left, right]"
    calls = ['model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])',
             f"model.fit({fx}, same, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [data, m, summary(p), calls])
    fixes = {
        "pair_width": (f"build both sides of a pair with the same {F} columns (right has {F2})", f"right rows have {F2} features, the shared encoder takes {F}"),
        "stacked_pairs": ("feed the pair as two arrays, one per input: model.fit([left, right], same)", "pairs stacked into one (N, 2, F) array for a two-input model"),
        "one_input": ("feed both sides: model.fit([left, right], same)", "only one array for a two-input model"),
        "encoder_input": (f"declare the shared encoder's Input(shape=({F},)) like the pair inputs", f"shared encoder declared for {F2} features"),
        "subtract_raw": ("subtract the two embeddings (emb_a - emb_b), not an embedding and a raw input", f"Subtract of a {d}-dim embedding and the {F}-dim raw input"),
        "dot_axes": ("the embeddings are (batch, dim): use Dot(axes=1)", "Dot(axes=2) on 2-D embeddings"),
        "right_input_declared": (f"declare the second input like the data: Input(shape=({F},), name='right')", f"second Input declares {F2} features, the right rows have {F}"),
    }
    return (s,) + fixes[mut]


register(REG, "siamese", t_siamese, [
    ("pair_width", "data_preprocessing", "fit"),
    ("stacked_pairs", "input_pipeline", "fit"),
    ("one_input", "input_pipeline", "fit"),
    ("encoder_input", "input_layer", "build"),
    ("subtract_raw", "layer_combination", "build"),
    ("dot_axes", "layer_definition", "build"),
])
register(REG, "siamese", t_siamese, [   # fourth generation
    ("right_input_declared", "input_layer", "build"),
])


# =============================================================================================
# seq2seq LSTM encoder-decoder (teacher forcing)
# =============================================================================================
def t_seq2seq(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    Te = p.randint("enc_steps", 6, 15)
    Fe = p.randint("enc_features", 3, 8)
    Td = p.randint("dec_steps", 5, 12)
    V = p.choice("target_vocab", [23, 31, 47, 60, 96])
    u = p.choice("units", [16, 24, 32])
    e = p.choice("embed_dim", [8, 16])
    cell = p.choice("cell", ["LSTM", "GRU"])
    if mut == "state_from_output":
        cell = p.set("cell", "LSTM")
    u2 = u + p.choice("units_off", [8, -8])
    v = verbose(p)
    data = [f'enc_x = np.random.rand({N}, {Te}, {Fe}).astype("float32")   # source sequences',
            f"tokens = np.random.randint(1, {V}, size=({N}, {Td + 1}))   # target sentences with <start>",
            "dec_in = tokens[:, :-1]", "dec_out = tokens" if (mut == "targets_not_shifted" and fault) else "dec_out = tokens[:, 1:]"]
    if mut == "dec_in_padded_len":
        pk = p.choice("pad_extra", [2, 3, 5])
        if fault:
            data.insert(3, f"dec_in = np.pad(dec_in, ((0, 0), (0, {pk})))   # padded to the longest sentence of the corpus")
    if mut == "onehot_sparse" and fault:
        data.append(onehot_line("dec_out", V))
    st = "[h, c]" if cell == "LSTM" else "h"
    if cell == "LSTM":
        enc = [f'enc_seq, h, c = §LSTM({u}, return_sequences=True, return_state=True, name="encoder")(enc_inputs)']
    else:
        enc = [f'enc_seq, h = §GRU({u}, return_sequences=True, return_state=True, name="encoder")(enc_inputs)']
    if mut == "stacked_encoder_no_return_sequences":
        rse = "" if fault else "return_sequences=True, "
        enc = [f'enc_h = §{cell}({u}, {rse}name="encoder_1")(enc_inputs)'] + [e.replace('name="encoder")(enc_inputs)', 'name="encoder_2")(enc_h)') for e in enc]
    if mut == "state_from_output" and fault:
        st = "[enc_seq, c]"
    du = u2 if (mut == "decoder_units" and fault) else u
    rs = "" if (mut == "no_return_sequences" and fault) else "return_sequences=True, "
    dlen = Td + 1 if (mut == "decoder_input_len" and fault) else Td
    m = [f'enc_inputs = ¤Input(shape=({Te}, {Fe}), name="source")'] + enc + [
        f'dec_inputs = ¤Input(shape=({dlen},), name="target_in")', f"emb = §Embedding({V}, {e})(dec_inputs)",
        f'seq = §{cell}({du}, {rs}name="decoder")(emb, initial_state={st})',
        f'probs = §Dense({V}, activation="softmax")(seq)', 'model = ¤Model([enc_inputs, dec_inputs], probs, name="seq2seq")']
    fx = "[dec_in, enc_x]" if (mut == "inputs_swapped" and fault) else "[enc_x, dec_in]"
    opt = p.choice("optimizer", ["adam", "rmsprop", "nadam"])
    bad_opt = {"adam": "adamm", "rmsprop": "rms_prop", "nadam": "nadamw"}[opt]
    calls = [f'model.compile(optimizer="{bad_opt if (mut == "optimizer_name" and fault) else opt}", loss="sparse_categorical_crossentropy")',
             f"model.fit({fx}, dec_out, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [data, m, summary(p), calls])
    fixes = {
        "decoder_units": (f"give the decoder {cell} the encoder's {u} units so the initial state fits", f"decoder {cell}({u2}) initialised with {u}-unit encoder states"),
        "no_return_sequences": ("set return_sequences=True on the decoder so it predicts one token per step", "decoder returns only its last step"),
        "targets_not_shifted": (f"shift the targets: dec_out = tokens[:, 1:] ({Td} steps like dec_in)", f"targets keep all {Td + 1} tokens, the decoder sees {Td}"),
        "inputs_swapped": ("pass the inputs in the model's order: [enc_x, dec_in]", "encoder and decoder inputs swapped"),
        "decoder_input_len": (f"declare the decoder input with the {Td} teacher-forcing steps: Input(shape=({Td},))", f"decoder Input declares {Td + 1} steps"),
        "onehot_sparse": ("keep integer token ids as targets for sparse_categorical_crossentropy", "one-hot targets with sparse CE"),
        "state_from_output": ("initialise the decoder with the encoder states [h, c], not its output sequence", "the encoder's output sequence passed as initial state"),
        "optimizer_name": (f"use a known optimizer name: optimizer='{opt}'", f"unknown optimizer name '{bad_opt}'"),
        "dec_in_padded_len": (f"pad the decoder inputs to the {Td} teacher-forcing steps the model declares (drop the extra padding)", f"decoder inputs padded to {Td + p.params.get('pad_extra', 0)} steps, the model takes {Td}"),
        "stacked_encoder_no_return_sequences": (f"set return_sequences=True on the first encoder {cell} so the second gets a sequence", "stacked encoder RNNs without return_sequences on the first"),
    }
    return (s,) + fixes[mut]


register(REG, "seq2seq", t_seq2seq, [
    ("decoder_units", "layer_definition", "build"),
    ("no_return_sequences", "layer_definition", "loss"),
    ("targets_not_shifted", "data_preprocessing", "loss"),
    ("inputs_swapped", "input_pipeline", "fit"),
    ("decoder_input_len", "input_layer", "fit"),
    ("onehot_sparse", "loss_label_mismatch", "loss"),
    ("state_from_output", "layer_combination", "build"),
    ("optimizer_name", "other", "compile", 1),
])
register(REG, "seq2seq", t_seq2seq, [   # fourth generation
    ("stacked_encoder_no_return_sequences", "layer_definition", "build"),
    ("dec_in_padded_len", "data_preprocessing", "fit"),
])


# =============================================================================================
# regression (mse, one unit), Normalization, sample weights, train_on_batch, generators
# =============================================================================================
def t_regression(p: P, mut: str, fault: bool):
    head = khead(p)
    X, Y = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    F = p.randint("features", 4, 40)
    h = p.choice("hidden", [16, 32, 64, 20])
    norm = p.choice("normalization", [True, False])
    if mut == "adapt_with_target":
        norm = p.set("normalization", True)
    if mut == "features_extra_column":
        norm = p.set("normalization", False)
    K = p.randint("targets", 2, 4)
    loop = p.choice("train", ["fit", "fit_val", "train_on_batch", "generator"])
    if mut in ("train_on_batch_single",):
        loop = p.set("train", "train_on_batch")
    if mut in ("generator_unbatched",):
        loop = p.set("train", "generator")
    if mut == "sample_weight_len":
        loop = p.set("train", "fit")
    k = p.choice("off", [1, 2, 3])
    v = verbose(p)
    multi = mut == "multi_target_units"
    data = [f'{X} = np.random.rand({N}, {F}).astype("float32")', f'w_true = np.random.rand({F}, {K if multi else 1}).astype("float32")',
            f"{Y} = {X} @ w_true + 0.1 * np.random.randn({N}, {K if multi else 1}).astype(\"float32\")"]
    if mut == "features_extra_column":
        data = [f'table = np.random.rand({N}, {F + 1}).astype("float32")   # {F} features + the row id in the last column',
                f'w_true = np.random.rand({F}, 1).astype("float32")',
                f"{Y} = table[:, :{F}] @ w_true + 0.1 * np.random.randn({N}, 1).astype(\"float32\")",
                f"{X} = table" + ("   # the id column is still in" if fault else f"[:, :{F}]")]
    if mut == "sample_weight_len":
        data.append(f"weights = np.linspace(0.5, 1.5, {N - k if fault else N})   # newer rows count more")
    pre = []
    lay = []
    if norm:
        pre = ["norm = §Normalization()", f"norm.adapt(np.hstack([{X}, {Y}]))   # statistics of the whole table" if (mut == "adapt_with_target" and fault) else f"norm.adapt({X})"]
        lay.append("norm")
    out_units = (K + 1 if fault else K) if multi else 1
    lay += [f'§Dense({h}, activation="relu")', f'§Dense({h // 2}, activation="relu")', f"§Dense({out_units})"]
    from_data = p.flag("shape_from_data", 0.5) or mut == "shape_includes_batch"
    in_shape = f"{X}.shape" if (mut == "shape_includes_batch" and fault) else (f"{X}.shape[1:]" if from_data else f"({F},)")
    if mut == "features_extra_column":
        in_shape = f"({F},)"
    m = seq_or_func(p, lay, in_shape, "sequential", name="regressor")
    lossname = "mean_squared_eror" if (mut == "loss_typo" and fault) else "mse"
    calls = [f'model.compile(optimizer=¤optimizers.Adam(learning_rate=0.01), loss="{lossname}", metrics=["mae"])']
    if loop == "fit":
        sw = ", sample_weight=weights" if mut == "sample_weight_len" else ""
        calls.append(f"model.fit({X}, {Y}, epochs=2, batch_size={bs}{sw}, verbose={v})")
    elif loop == "fit_val":
        calls.append(f"model.fit({X}, {Y}, epochs=2, batch_size={bs}, validation_split=0.25, verbose={v})")
    elif loop == "train_on_batch":
        sl = "i" if (mut == "train_on_batch_single" and fault) else f"i:i + {bs}"
        calls += [f"for i in range(0, len({X}), {bs}):", f"    loss = model.train_on_batch({X}[{sl}], {Y}[{sl}])", 'print("loss", loss)']
    else:
        if mut == "generator_unbatched" and fault:
            gen = ["def batches():", "    while True:", f"        i = np.random.randint(0, {N})", f"        yield {X}[i], {Y}[i]"]
        else:
            gen = ["def batches():", "    while True:", f"        idx = np.random.randint(0, {N}, size={bs})", f"        yield {X}[idx], {Y}[idx]"]
        calls = gen + [""] + calls + [f"model.fit(batches(), steps_per_epoch=3, epochs=1, verbose={v})"]
    if mut == "predict_extra_column":
        calls += [f'x_new = np.random.rand(3, {F + 1 if fault else F}).astype("float32")' + ("   # new rows still carry the target column" if fault else ""),
                  "print(model.predict(x_new, verbose=0).ravel())"]
    else:
        calls.append(f"print(model.evaluate({X}, {Y}, verbose=0))")
    s = finish(p, head, [data, pre, m, summary(p), calls])
    fixes = {
        "adapt_with_target": (f"adapt the Normalization on the {F} feature columns only: norm.adapt({X})", "Normalization adapted on features + target column"),
        "sample_weight_len": (f"give one weight per sample: {N} weights, not {N - k}", f"{N - k} sample weights for {N} samples"),
        "shape_includes_batch": (f"drop the sample axis: Input(shape={X}.shape[1:]) = ({F},)", "Input(shape=x.shape) includes the number of samples"),
        "multi_target_units": (f"one output unit per target: Dense({K})", f"Dense({K + 1}) output for {K} targets"),
        "predict_extra_column": (f"predict on the {F} feature columns (drop the target column)", f"prediction rows with {F + 1} columns"),
        "train_on_batch_single": (f"train on slices that keep the batch axis: {X}[i:i + {bs}]", "train_on_batch given one sample without batch axis"),
        "generator_unbatched": (f"yield batches: idx = np.random.randint(0, {N}, size={bs}); yield {X}[idx], {Y}[idx]", "generator yields single samples"),
        "loss_typo": ("use a known loss name: loss='mse' (or 'mean_squared_error')", "typo in the loss name"),
        "features_extra_column": (f"drop the id column: {X} = table[:, :{F}] ({F} features)", f"{F + 1} columns (row id kept) for a {F}-feature Input"),
    }
    return (s,) + fixes[mut]


register(REG, "regression", t_regression, [
    ("adapt_with_target", "data_preprocessing", "build"),
    ("sample_weight_len", "input_pipeline", "fit"),
    ("shape_includes_batch", "input_layer", "fit"),
    ("multi_target_units", "layer_definition", "loss"),
    ("predict_extra_column", "data_preprocessing", "predict"),
    ("train_on_batch_single", "data_preprocessing", "fit"),
    ("generator_unbatched", "input_pipeline", "fit"),
    ("loss_typo", "other", "compile", 1),
])
register(REG, "regression", t_regression, [   # fourth generation
    ("features_extra_column", "data_preprocessing", "fit"),
])


# =============================================================================================
# image classifier with Rescaling / augmentation layers and tf.data
# =============================================================================================
def t_augment(p: P, mut: str, fault: bool):
    head = khead(p, tf=True)
    N, bs = p.choice("n_samples", [20, 24, 30, 36]), p.choice("batch_size", [4, 6, 8, 12])
    H, W = p.choice("hw", [(32, 32), (28, 36), (40, 40), (24, 24), (48, 30)])
    H2, W2 = p.choice("raw_hw", [(H + 8, W + 8), (H - 4, W), (64, 64)])
    f = p.choice("filters", [8, 16])
    C = p.randint("classes", 2, 30)
    style = p.choice("model_style", ["sequential", "functional"])
    if mut == "images_not_resized":   # Keras 3 Sequential conv nets accept other image sizes silently
        style = p.set("model_style", "functional")
    v = verbose(p)
    aug = p.choice("augment", ["flip", "flip_rotate", "flip_zoom"])
    data = [f'images = np.random.randint(0, 256, size=({N}, {H}, {W}, 3)).astype("float32")   # decoded JPEGs, 0..255',
            f"labels = np.random.randint(0, {C}, size=({N},))"]
    if fault and mut == "images_not_resized":
        data[0] = f'images = np.random.randint(0, 256, size=({N}, {H2}, {W2}, 3)).astype("float32")   # decoded JPEGs, never resized'
    if fault and mut == "channels_first_data":
        data[0] = f'images = np.random.randint(0, 256, size=({N}, 3, {H}, {W})).astype("float32")   # (N, C, H, W) from the torchvision export'
    if fault and mut == "gray_images_rgb_model":
        data[0] = f'images = np.random.randint(0, 256, size=({N}, {H}, {W}, 1)).astype("float32")   # grayscale scans, 0..255'
    if mut == "labels_onehot_sparse" and fault:
        data.append(onehot_line("labels", C))
    augl = {"flip": ['§RandomFlip("horizontal")'], "flip_rotate": ['§RandomFlip("horizontal")', "§RandomRotation(0.05)"],
            "flip_zoom": ['§RandomFlip("horizontal")', "§RandomZoom(0.1)"]}[aug]
    augment = ["augment = ¤Sequential([" + ", ".join(augl) + '], name="augment")']
    layers_ = ["§Rescaling(1.0 / 255)", "augment", f'§Conv2D({f}, 3, activation="relu")', "§MaxPooling2D(2)"]
    if mut == "conv_after_gap" and fault:
        layers_ += ["§GlobalAveragePooling2D()", f'§Conv2D({2 * f}, 3, activation="relu")']
    else:
        layers_ += [f'§Conv2D({2 * f}, 3, activation="relu")', "§GlobalAveragePooling2D()"]
    layers_ += [f'§Dense({C}, activation="softmax")']
    in_shape = f"({H}, {W}, 1)" if (mut == "grayscale_declared" and fault) else f"({H}, {W}, 3)"
    if mut == "channels_first_declared" and fault:
        in_shape = f"(3, {H}, {W})"
    m = seq_or_func(p, layers_, in_shape, style, name="flowers")
    ds = ["AUTOTUNE = tf.data.AUTOTUNE"]
    if mut == "map_resize_wrong":
        ds += ["def prepare(image, label):", f"    image = tf.image.resize(image, ({H2 if fault else H}, {W2 if fault else W}))", "    return image, label", ""]
    chain = "tf.data.Dataset.from_tensor_slices((images, labels))" + f".shuffle({N})"
    if mut == "map_resize_wrong":
        chain += ".map(prepare, num_parallel_calls=AUTOTUNE)"
    if mut == "not_batched" and fault:
        pass
    elif mut == "batched_twice" and fault:
        chain += f".batch({bs}).batch({bs})"
    else:
        chain += f".batch({bs})"
    if mut == "expand_in_map":
        ds += ["def add_batch_axis(image, label):", "    return tf.expand_dims(image, 0), label   # the model wants a batch", ""]
        if fault:
            chain += ".map(add_batch_axis)"
    chain += ".prefetch(AUTOTUNE)"
    ds.append(f"train_ds = {chain}")
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
             f"model.fit(train_ds, epochs=1, verbose={v})"]
    s = finish(p, head, [data, augment, m, summary(p), ds, calls])
    fixes = {
        "not_batched": (f"batch the dataset: .batch({bs}) before .prefetch", "tf.data pipeline never batched"),
        "batched_twice": (f"batch once: remove the second .batch({bs})", "tf.data pipeline batched twice"),
        "map_resize_wrong": (f"resize to the model's input size ({H}, {W}) in the map function (not ({H2}, {W2}))", f"map resizes to {H2}x{W2}, the model takes {H}x{W}"),
        "grayscale_declared": (f"declare 3 channels for the RGB images: Input(shape=({H}, {W}, 3))", "Input declares 1 channel for RGB images"),
        "labels_onehot_sparse": ("keep integer labels for sparse_categorical_crossentropy", "one-hot labels with sparse CE"),
        "conv_after_gap": ("apply the second Conv2D before GlobalAveragePooling2D", "Conv2D after global pooling"),
        "expand_in_map": ("do not add a batch axis per element; .batch() adds it", "map adds a batch axis to each element before .batch()"),
        "images_not_resized": (f"resize the images to the model's {H}x{W} input (tf.image.resize) instead of feeding {H2}x{W2}", f"{H2}x{W2} images into a model declared for {H}x{W}"),
        "channels_first_data": (f"move channels last: images = images.transpose(0, 2, 3, 1) -> ({N}, {H}, {W}, 3)", "channels-first images into a channels-last model"),
        "gray_images_rgb_model": ("repeat the gray channel to RGB: np.repeat(images, 3, axis=-1) (the model takes 3 channels)", "1-channel images into a 3-channel model"),
        "channels_first_declared": (f"declare channels last like the images: Input(shape=({H}, {W}, 3))", "Input declared channels-first"),
    }
    return (s,) + fixes[mut]


register(REG, "augment_cnn", t_augment, [
    ("not_batched", "input_pipeline", "fit"),
    ("batched_twice", "input_pipeline", "fit"),
    ("map_resize_wrong", "input_pipeline", "fit"),
    ("grayscale_declared", "input_layer", "build"),
    ("labels_onehot_sparse", "loss_label_mismatch", "loss"),
    ("conv_after_gap", "layer_combination", "build"),
    ("expand_in_map", "input_pipeline", "fit"),
], tf=True)
register(REG, "augment_cnn", t_augment, [   # fourth generation
    ("images_not_resized", "data_preprocessing", "fit"),
    ("channels_first_data", "data_preprocessing", "fit"),
    ("gray_images_rgb_model", "data_preprocessing", "fit"),
    ("channels_first_declared", "input_layer", "build"),
], tf=True)


# =============================================================================================
# TextVectorization pipelines
# =============================================================================================
WORDS = ["good", "bad", "movie", "plot", "actor", "boring", "great", "slow", "fun", "story", "ending", "music",
         "scene", "cast", "awful", "loved", "hated", "long", "short", "funny", "dark", "sweet", "weak", "strong"]


def t_textvec(p: P, mut: str, fault: bool):
    head = khead(p, tf=True)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    L = p.randint("seq_len", 6, 21)
    V = p.choice("max_tokens", [40, 64, 100, 500])
    d = p.choice("embed_dim", [8, 16])
    C = p.randint("classes", 2, 9)
    small = p.choice("input_dim", [5, 8, 12])
    off = p.choice("off", [-2, 3, 4])
    pipeline = p.choice("pipeline", ["arrays", "dataset"])
    headk = p.choice("head", ["gap", "flatten"])
    if mut == "no_output_length":
        pipeline, headk = p.set("pipeline", "dataset"), p.set("head", "flatten")
    if mut == "texts_not_vectorized":
        pipeline = p.set("pipeline", "arrays")
    v = verbose(p)
    data = [f"WORDS = {WORDS!r}", "rng = np.random.default_rng(0)",
            f'texts = np.array([" ".join(rng.choice(WORDS, size=rng.integers(3, {L + 6}))) for _ in range({N})])',
            f"labels = np.random.randint(0, {C}, size=({N},))"]
    if mut == "labels_onehot_sparse" and fault:
        data.append(onehot_line("labels", C))
    osl = "" if (mut == "no_output_length" and fault) else f", output_sequence_length={L + off if (mut == 'vector_len_other' and fault) else L}"
    vec = [f"vectorize = §TextVectorization(max_tokens={V}{osl})", "vectorize.adapt(texts)"]
    emb_in = small if (mut == "embedding_vocab_small" and fault) else V
    body = ["§GlobalAveragePooling1D()" if headk == "gap" else "§Flatten()", '§Dense(16, activation="relu")', f'§Dense({C}, activation="softmax")']
    if mut == "conv2d_on_sequence" and fault:
        body = [f'§Conv2D({2 * d}, 3, padding="same", activation="relu")'] + body
    in_len = L + off if (mut == "input_len" and fault) else L
    in_decl = f"({in_len}, {d})" if (mut == "input_with_embed_dim" and fault) else f"({in_len},)"
    m = seq_or_func(p, [f"§Embedding({emb_in}, {d})"] + body, in_decl, p.choice("model_style", ["sequential", "functional"]), name="review_classifier")
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])']
    if pipeline == "arrays":
        prep = ["x = texts" if (mut == "texts_not_vectorized" and fault) else "x = vectorize(texts)"]
        calls.append(f"model.fit(x, labels, epochs=1, batch_size={bs}, verbose={v})")
    else:
        prep = [f"ds = tf.data.Dataset.from_tensor_slices((texts, labels)).batch({bs}).map(lambda t, y: (vectorize(t), y))"]
        calls.append(f"model.fit(ds, epochs=2, verbose={v})")
    s = finish(p, head, [data, vec, prep, m, summary(p), calls])
    fixes = {
        "embedding_vocab_small": (f"size the Embedding for the vectorizer's vocabulary: Embedding({V}, {d}) (= max_tokens)", f"Embedding({small}) after TextVectorization(max_tokens={V})"),
        "input_len": (f"declare Input(shape=({L},)) = output_sequence_length", f"Input declares {L + off} tokens, vectors have {L}"),
        "texts_not_vectorized": ("vectorize the strings first: x = vectorize(texts)", "raw strings fed to an integer-token model"),
        "no_output_length": (f"fix the vector length: TextVectorization(..., output_sequence_length={L})", "TextVectorization pads each batch to its own longest text"),
        "labels_onehot_sparse": ("keep integer labels for sparse_categorical_crossentropy", "one-hot labels with sparse CE"),
        "vector_len_other": (f"vectorize to the model's input length: output_sequence_length={L}", f"TextVectorization pads to {L + off}, the model takes {L} tokens"),
        "conv2d_on_sequence": ("use Conv1D on the (tokens, dim) embeddings (Conv2D needs 4-D maps)", "Conv2D applied to the 3-D embedding sequence"),
        "input_with_embed_dim": (f"declare token ids only: Input(shape=({L},)); the Embedding adds the {d}-wide axis", f"Input declares ({L}, {d}) for token ids"),
    }
    return (s,) + fixes[mut]


register(REG, "textvec", t_textvec, [
    ("embedding_vocab_small", "layer_definition", "fit"),
    ("input_len", "input_layer", "fit"),
    ("texts_not_vectorized", "data_preprocessing", "fit"),
    ("no_output_length", "input_pipeline", "fit"),
    ("labels_onehot_sparse", "loss_label_mismatch", "loss"),
], tf=True)
register(REG, "textvec", t_textvec, [   # fourth generation
    ("vector_len_other", "data_preprocessing", "fit"),
    ("conv2d_on_sequence", "layer_combination", "build"),
    ("input_with_embed_dim", "input_layer", "build"),
], tf=True)


# =============================================================================================
# transfer learning: a small functional base model reused as a layer
# =============================================================================================
def t_transfer(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    H, W = p.choice("hw", [(32, 32), (24, 24), (40, 32), (28, 28), (36, 36)])
    H2, W2 = p.choice("raw_hw", [(H + 4, W + 4), (H - 4, W - 4), (64, 64)])
    f = p.choice("filters", [8, 16])
    C_old = p.choice("pretrained_classes", [10, 100, 1000])
    C = p.randint("classes", 2, 9)
    style = p.choice("model_style", ["functional", "sequential"])
    v = verbose(p)
    base_pool = mut == "pool_twice" and fault
    base = ["def make_feature_extractor():", f"    inp = ¤Input(shape=({H}, {W}, 3))",
            f'    h = §Conv2D({f}, 3, padding="same", activation="relu")(inp)', "    h = §MaxPooling2D(2)(h)",
            f'    h = §Conv2D({2 * f}, 3, padding="same", activation="relu")(h)']
    base += ["    h = §GlobalAveragePooling2D()(h)"] if base_pool else []
    base += ['    return ¤Model(inp, h, name="feature_extractor")', "", "",
             "base = make_feature_extractor()", "base.trainable = False"]
    img = f"({H2}, {W2}, 3)" if (mut == "images_other_size" and fault) else f"({H}, {W}, 3)"
    if mut == "gray_images_rgb_model" and fault:
        img = f"({H}, {W}, 1)"
    data = [f'x_train = np.random.rand({N}, {", ".join(img.strip("()").split(", "))}).astype("float32")',
            f"y_train = np.random.randint(0, {C}, size=({N},))"]
    ll_old = mut == "old_head_classes"
    if ll_old:
        data.append(onehot_line("y_train", C))
    in_ch = 1 if (mut == "head_input_gray" and fault) else 3
    outC = C_old if (ll_old and fault) else C
    pool = [] if (mut == "no_pooling" and fault) else ["§GlobalAveragePooling2D()"]
    if style == "functional":
        m = [f"inputs = ¤Input(shape=({H}, {W}, {in_ch}))", "h = base(inputs, training=False)"] + \
            [f"h = {q}(h)" for q in pool] + ["h = §Dropout(0.2)(h)", f'outputs = §Dense({outC}, activation="softmax", name="new_head")(h)',
                                              "model = ¤Model(inputs, outputs)"]
    else:
        m = ["model = ¤Sequential([", f"    ¤Input(shape=({H}, {W}, {in_ch})),", "    base,"] + [f"    {q}," for q in pool] + \
            ["    §Dropout(0.2),", f'    §Dense({outC}, activation="softmax", name="new_head"),', "])"]
    loss = "categorical_crossentropy" if ll_old else "sparse_categorical_crossentropy"
    calls = [f'model.compile(optimizer="adam", loss="{loss}", metrics=["accuracy"])',
             f"model.fit(x_train, y_train, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [base, data, m, summary(p), calls])
    fixes = {
        "images_other_size": (f"resize the images to the base model's {H}x{W} input (they are {H2}x{W2})", f"{H2}x{W2} images for a base built for {H}x{W}"),
        "no_pooling": ("pool the base's feature map (GlobalAveragePooling2D) before the Dense head", "Dense head directly on the 4-D feature map"),
        "head_input_gray": (f"the base takes RGB: Input(shape=({H}, {W}, 3))", "head Input declares 1 channel for an RGB base"),
        "pool_twice": ("pool once: the base already ends with GlobalAveragePooling2D, drop the second one", "GlobalAveragePooling2D applied to an already pooled feature vector"),
        "gray_images_rgb_model": ("repeat the gray channel to RGB (np.repeat(x_train, 3, axis=-1)): the base takes 3 channels", "1-channel images into an RGB base model"),
        "old_head_classes": (f"size the new head for the {C} new classes: Dense({C}) (not the pretrained {C_old})", f"head kept {C_old} units for {C}-class one-hot labels"),
    }
    return (s,) + fixes[mut]


register(REG, "transfer", t_transfer, [
    ("images_other_size", "data_preprocessing", "fit"),
    ("no_pooling", "layer_definition", "loss"),
    ("head_input_gray", "input_layer", "build"),
    ("pool_twice", "layer_combination", "build"),
    ("old_head_classes", "loss_label_mismatch", "loss"),
])
register(REG, "transfer", t_transfer, [   # fourth generation
    ("gray_images_rgb_model", "data_preprocessing", "fit"),
])


# =============================================================================================
# bidirectional GRU
# =============================================================================================
def t_bigru(p: P, mut: str, fault: bool):
    head = khead(p)
    X, Y = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    T = p.randint("steps", 7, 33)
    F = p.randint("features", 2, 13)
    if F == T:
        T += 1
    u = p.choice("units", [8, 12, 16])
    u2 = p.choice("units2", [8, 4])
    C = p.randint("classes", 2, 12)
    merge = p.choice("merge_mode", ["concat", "concat", "sum"])
    cell = p.choice("cell", ["GRU", "LSTM"])
    style = p.choice("model_style", ["sequential", "functional", "subclassed"])
    if mut == "residual_width":
        style = p.set("model_style", "functional_res")
    if mut in ("input_features", "input_steps_features_swapped") and style == "subclassed":
        style = p.set("model_style", "functional")
    if mut == "add_seq_and_last":
        style = p.set("model_style", "functional_add")
    if mut == "residual_raw_input":
        style = p.set("model_style", "functional_res")
        merge = p.set("merge_mode", "concat")
    F2 = F + p.choice("off", [1, 2, 3])
    v = verbose(p)
    xs = f"({N}, {F}, {T})" if (mut == "steps_features_swapped" and fault) else f"({N}, {T}, {F})"
    data = [f'{X} = np.random.rand{xs}.astype("float32")' + ("   # (samples, channels, steps) from the sensor export" if (mut == "steps_features_swapped" and fault) else ""),
            f"{Y} = np.random.randint(0, {C}, size=({N}, {T}))   # one tag per step" if ((mut == "per_step_labels" and fault) or mut == "tagger_no_return_sequences") else
            f"{Y} = np.random.randint(0, {C}, size=({N},))"]
    rs1 = "" if (mut == "first_no_return_sequences" and fault) else "return_sequences=True"
    mm = f', merge_mode="{merge}"' if merge != "concat" else ""
    l1 = f"§Bidirectional(§{cell}({u}, {rs1}){mm})" if rs1 else f"§Bidirectional(§{cell}({u}){mm})"
    mid = ["§GlobalAveragePooling1D()"] if (mut == "rnn_after_pool" and fault) else []
    if mut == "rnn_after_flatten" and fault:
        mid = ["§Flatten()"]
    l2 = f"§Bidirectional(§{cell}({u2}))"
    if mut == "tagger_no_return_sequences" and not fault:
        l2 = f"§Bidirectional(§{cell}({u2}, return_sequences=True))"
    out = f'§Dense({C}, activation="softmax")'
    in_shape = f"({T}, {F2})" if (mut == "input_features" and fault) else f"({T}, {F})"
    if mut == "input_steps_features_swapped" and fault:
        in_shape = f"({F}, {T})"
    if mut == "residual_raw_input":
        m = [f"inputs = ¤Input(shape={in_shape})", f"seq = {l1}(inputs)", f"proj = §Dense({2 * u})(inputs)   # width of the BiRNN output",
             "h = §Add()([seq, inputs])   # skip connection around the first BiRNN" if fault else "h = §Add()([seq, proj])",
             f"h = {l2}(h)", f"outputs = {out}(h)", "model = ¤Model(inputs, outputs)"]
    elif style == "functional_add":
        last = f"§Bidirectional(§{cell}({u}){mm})"
        m = [f"inputs = ¤Input(shape={in_shape})", f"seq = {l1}(inputs)", f"last = {last}(inputs)",
             "h = §Add()([seq, last])" if fault else "h = §Add()([§GlobalAveragePooling1D()(seq), last])",
             f"outputs = {out}(h)", "model = ¤Model(inputs, outputs)"]
    elif style == "functional_res":
        w = 2 * u if merge == "concat" else u
        wp = u if (fault and merge == "concat") else (2 * u if fault else w)
        m = [f"inputs = ¤Input(shape={in_shape})", f"seq = {l1}(inputs)", f"proj = §Dense({wp})(inputs)   # width of the BiRNN output",
             "h = §Add()([seq, proj])", f"h = {l2}(h)", f"outputs = {out}(h)", "model = ¤Model(inputs, outputs)"]
    elif style == "subclassed":
        m = ["class Tagger(¤Model):", "    def __init__(self):", "        super().__init__()", f"        self.rnn1 = {l1}"] + \
            ([f"        self.pool = {mid[0]}"] if mid else []) + [f"        self.rnn2 = {l2}", f"        self.out = {out}", "",
                                                                  "    def call(self, x):", "        x = self.rnn1(x)"] + \
            (["        x = self.pool(x)"] if mid else []) + ["        x = self.rnn2(x)", "        return self.out(x)", "", "", "model = Tagger()"]
    else:
        m = seq_or_func(p, [l1] + mid + [l2, out], in_shape, style)
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
             f"model.fit({X}, {Y}, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [data, m, summary(p) if style not in ("subclassed",) else [], calls])
    fixes = {
        "first_no_return_sequences": (f"set return_sequences=True on the first Bidirectional({cell}) so the second gets a sequence", "stacked BiRNNs without return_sequences on the first"),
        "residual_width": (f"the Bidirectional output is {2 * u if merge == 'concat' else u} wide ({merge}): project the skip to that width", "residual Add of a BiRNN output and a skip of another width"),
        "steps_features_swapped": (f"transpose to (samples, steps, features): {X}.transpose(0, 2, 1) -> ({N}, {T}, {F})", "steps and features axes swapped"),
        "input_features": (f"declare Input(shape=({T}, {F})) like the data (not {F2} features)", f"Input declares {F2} features"),
        "rnn_after_pool": ("pool after the recurrent layers (or drop the pooling): a BiRNN needs the time axis", "BiRNN after GlobalAveragePooling1D"),
        "per_step_labels": (f"one label per sequence for this classifier (shape ({N},)), or return sequences + TimeDistributed for tags", "per-step tags for a sequence classifier"),
        "add_seq_and_last": ("pool the sequence branch over time (GlobalAveragePooling1D) before adding it to the last-state branch", "Add of a (steps, units) sequence and a (units,) vector"),
        "input_steps_features_swapped": (f"declare Input(shape=({T}, {F})) = (steps, features), not ({F}, {T})", "Input declares (features, steps)"),
        "rnn_after_flatten": ("remove the Flatten between the recurrent layers: the second BiRNN needs the (steps, units) sequence", "BiRNN after Flatten"),
        "residual_raw_input": (f"add the projected skip (Dense({2 * u})(inputs)), not the raw {F}-feature inputs, to the {2 * u}-wide BiRNN output", f"Add of the {2 * u}-wide BiRNN output and the raw {F}-feature input"),
        "tagger_no_return_sequences": ("set return_sequences=True on the last BiRNN so the tagger predicts one tag per step", "last BiRNN returns only the final step for per-step tags"),
    }
    return (s,) + fixes[mut]


register(REG, "bigru", t_bigru, [
    ("first_no_return_sequences", "layer_definition", "build"),
    ("residual_width", "layer_definition", "build"),
    ("steps_features_swapped", "data_preprocessing", "fit"),
    ("input_features", "input_layer", "fit"),
    ("rnn_after_pool", "layer_combination", "build"),
    ("per_step_labels", "loss_label_mismatch", "loss"),
])
register(REG, "bigru", t_bigru, [   # fourth generation
    ("add_seq_and_last", "layer_combination", "loss"),
    ("input_steps_features_swapped", "input_layer", "fit"),
    ("rnn_after_flatten", "layer_combination", "build"),
    ("residual_raw_input", "layer_combination", "build"),
    ("tagger_no_return_sequences", "layer_definition", "loss"),
])


# =============================================================================================
# TimeDistributed CNN + LSTM over frames
# =============================================================================================
def t_timedistributed(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", [12, 16, 20, 22]), p.choice("batch_size", [2, 4, 5, 8])
    T = p.choice("frames", [3, 4, 5, 7])
    H, W = p.choice("hw", [(16, 16), (12, 20), (24, 24), (14, 14)])
    H2, W2 = p.choice("raw_hw", [(H + 4, W + 4), (H - 2, W)])
    Ch = p.choice("channels", [1, 3])
    f = p.choice("filters", [4, 8])
    u = p.choice("units", [8, 16])
    C = p.randint("classes", 2, 10)
    per_frame = p.choice("per_frame_pool", ["GlobalAveragePooling2D", "Flatten"])
    v = verbose(p)
    fh, fw = (H2, W2) if (mut == "frame_size" and fault) else (H, W)
    data = [f'clips = np.random.rand({N}, {T}, {fh}, {fw}, {Ch}).astype("float32")', f"labels = np.random.randint(0, {C}, size=({N},))"]
    if mut == "frame_tagger_no_return_sequences":
        data[1] = f"labels = np.random.randint(0, {C}, size=({N}, {T}))   # one action label per frame"
    if mut == "labels_onehot_sparse" and fault:
        data.append(onehot_line("labels", C))
    in_shape = f"({H}, {W}, {Ch})" if (mut == "input_no_time" and fault) else f"({T}, {H}, {W}, {Ch})"
    conv = f'§Conv2D({f}, 3, activation="relu")'
    conv_l = conv if (mut == "conv_without_td" and fault) else f"§TimeDistributed({conv})"
    pf = "§Flatten()" if (mut == "flatten_without_td" and fault) else f"§TimeDistributed(§{per_frame}())"
    rs = ", return_sequences=True" if (mut == "lstm_return_sequences" and fault) else ""
    m = [f"inputs = ¤Input(shape={in_shape})", f"h = {conv_l}(inputs)", "h = §TimeDistributed(§MaxPooling2D(2))(h)", f"h = {pf}(h)",
         f"h = §LSTM({u}{rs})(h)", f'outputs = §Dense({C}, activation="softmax")(h)', 'model = ¤Model(inputs, outputs, name="frames_lstm")']
    if mut == "convlstm_return_sequences_gap":
        rsc = ", return_sequences=True" if fault else ""
        m[3:5] = [f'h = §ConvLSTM2D({f}, 3, padding="same"{rsc})(h)', "h = §GlobalAveragePooling2D()(h)"]
    if mut == "stacked_lstm_no_return_sequences":
        m[4:5] = [f"h = §LSTM({u}{'' if fault else ', return_sequences=True'})(h)", f"h = §LSTM({u // 2})(h)"]
    if mut == "frame_tagger_no_return_sequences":
        m[4] = f"h = §LSTM({u})(h)" if fault else f"h = §LSTM({u}, return_sequences=True)(h)   # one output per frame"
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")',
             f"model.fit(clips, labels, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [data, m, summary(p), calls])
    fixes = {
        "conv_without_td": ("wrap the per-frame Conv2D in TimeDistributed(...) for (frames, H, W, C) input", "Conv2D applied to 5-D clips without TimeDistributed"),
        "flatten_without_td": ("flatten per frame: TimeDistributed(Flatten()) so the LSTM keeps the frame axis", "plain Flatten before the LSTM merges the frame axis away"),
        "frame_size": (f"resize the frames to {H}x{W} (they are {H2}x{W2})", f"{H2}x{W2} frames for a model built for {H}x{W}"),
        "input_no_time": (f"declare the frame axis: Input(shape=({T}, {H}, {W}, {Ch}))", "Input declares a single frame for a TimeDistributed model"),
        "lstm_return_sequences": ("drop return_sequences=True on the last LSTM so the output is (batch, classes)", "last LSTM returns sequences"),
        "labels_onehot_sparse": ("keep integer labels for sparse_categorical_crossentropy", "one-hot labels with sparse CE"),
        "convlstm_return_sequences_gap": ("drop return_sequences=True on the ConvLSTM2D before GlobalAveragePooling2D", "ConvLSTM2D returns the frame axis, GlobalAveragePooling2D expects 4-D"),
        "stacked_lstm_no_return_sequences": ("set return_sequences=True on the first LSTM so the second gets the frame sequence", "stacked LSTMs without return_sequences on the first"),
        "frame_tagger_no_return_sequences": ("set return_sequences=True on the LSTM so the model predicts one label per frame", "LSTM returns only the last frame for per-frame labels"),
    }
    return (s,) + fixes[mut]


register(REG, "timedistributed", t_timedistributed, [
    ("conv_without_td", "layer_combination", "build"),
    ("flatten_without_td", "layer_combination", "build"),
    ("frame_size", "data_preprocessing", "fit"),
    ("input_no_time", "input_layer", "build"),
    ("lstm_return_sequences", "layer_definition", "loss"),
    ("labels_onehot_sparse", "loss_label_mismatch", "loss"),
])
register(REG, "timedistributed", t_timedistributed, [   # fourth generation
    ("convlstm_return_sequences_gap", "layer_definition", "build"),
    ("stacked_lstm_no_return_sequences", "layer_definition", "build"),
    ("frame_tagger_no_return_sequences", "layer_definition", "loss"),
])


# =============================================================================================
# custom training loop with tf.GradientTape
# =============================================================================================
def t_gradtape(p: P, mut: str, fault: bool):
    head = khead(p, tf=True)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    F = p.randint("features", 4, 30)
    C = p.randint("classes", 3, 20)
    h = p.choice("hidden", [16, 32, 24])
    F2 = F + p.choice("off", [1, 2, -1])
    k = p.randint("missing", 1, 2)
    style = p.choice("model_style", ["sequential", "functional"])
    v = p.choice("log_every", [1, 2])
    data = [f'x = np.random.rand({N}, {F + 1 if (mut == "features_extra_column" and fault) else F}).astype("float32")'
            + ("   # the row id column was kept" if (mut == "features_extra_column" and fault) else ""), f"y = np.random.randint(0, {C}, size=({N},))",
            f'x_val = np.random.rand(8, {F2 if (mut == "val_features" and fault) else F}).astype("float32")', f"y_val = np.random.randint(0, {C}, size=(8,))"]
    in_f = F2 if (mut == "input_features" and fault) else F
    outC = C - k if (mut == "output_units" and fault) else C
    m = seq_or_func(p, [f'§Dense({h}, activation="relu")', f"§Dense({outC})"], f"({in_f},)", style)
    lossobj = "¤losses.CategoricalCrossentropy(from_logits=True)" if (mut == "loss_categorical" and fault) else \
        "¤losses.SparseCategoricalCrossentropy(from_logits=True)"
    ds = f"ds = tf.data.Dataset.from_tensor_slices((x, y)).shuffle({N})" + ("" if (mut == "ds_unbatched" and fault) else f".batch({bs})")
    lcall = "loss_fn(logits, yb)" if (mut == "loss_args_swapped" and fault) else "loss_fn(yb, logits)"
    check = []
    if mut == "single_sample_check":
        check = ["logits = model(x[0], training=False)   # quick check on the first sample" if fault else
                 "logits = model(x[:1], training=False)   # quick check on the first sample", 'print("first logits", logits.shape)', ""]
    loop = [f"loss_fn = {lossobj}", "optimizer = ¤optimizers.Adam(learning_rate=1e-3)", *check, ds, "",
            "for epoch in range(2):", "    for xb, yb in ds:", "        with tf.GradientTape() as tape:",
            "            logits = model(xb, training=True)", f"            loss = {lcall}",
            "        grads = tape.gradient(loss, model.trainable_variables)",
            "        optimizer.apply_gradients(zip(grads, model.trainable_variables))",
            f"    if epoch % {v} == 0:", '        print("epoch", epoch, "loss", float(loss))', "",
            "val_logits = model(x_val, training=False)", "val_acc = np.mean(np.argmax(val_logits, axis=-1) == y_val)", 'print("val acc", val_acc)']
    s = finish(p, head, [data, m, loop])
    fixes = {
        "loss_categorical": ("with integer labels use SparseCategoricalCrossentropy (or one-hot yb)", "CategoricalCrossentropy with integer labels in a custom loop"),
        "loss_args_swapped": ("call the loss as loss_fn(y_true, y_pred): loss_fn(yb, logits)", "loss arguments swapped (logits, labels)"),
        "ds_unbatched": (f"batch the dataset: .batch({bs})", "unbatched tf.data dataset in a custom loop"),
        "val_features": (f"build the validation features with the {F} training columns (not {F2})", f"validation rows with {F2} features"),
        "input_features": (f"declare Input(shape=({F},)) like the data", f"Input declares {F2} features"),
        "output_units": (f"output one logit per class: Dense({C}) (labels go up to {C - 1})", f"Dense({C - k}) for {C} classes"),
        "features_extra_column": (f"drop the id column: x must have the {F} feature columns", f"{F + 1} columns (row id kept) for a {F}-feature Input"),
        "single_sample_check": ("keep the batch axis: model(x[:1]) (or x[0][None])", f"one sample of shape ({F},) without a batch axis"),
    }
    return (s,) + fixes[mut]


register(REG, "gradtape", t_gradtape, [
    ("loss_categorical", "loss_label_mismatch", "loss"),
    ("loss_args_swapped", "loss_label_mismatch", "loss"),
    ("ds_unbatched", "input_pipeline", "forward"),
    ("val_features", "data_preprocessing", "evaluate"),
    ("input_features", "input_layer", "forward"),
    ("output_units", "loss_label_mismatch", "loss", 1),
], tf=True)
register(REG, "gradtape", t_gradtape, [   # fourth generation
    ("features_extra_column", "data_preprocessing", "forward"),
    ("single_sample_check", "data_preprocessing", "forward"),
], tf=True)


def build_cases(env: str, framework: str, backend: str):
    return _build(REG, env, framework, backend, keras=True)
