"""Keras architectures of the third generation: a small vision transformer (patch Conv2D +
Reshape + MultiHeadAttention), a self-attention text classifier, a ConvLSTM2D video model, a
mobile-style separable/depthwise CNN with residual blocks, a multi-label (sigmoid + k-hot) tagger,
a GAN (generator + discriminator trained with train_on_batch) and a tabular model with preprocessing
layers (Normalization, IntegerLookup) and dict inputs, and a temporal convolutional network (causal dilated
Conv1D residual blocks).

Why: leave-one-architecture-out misses concentrate on architectures with no sibling in the other
framework; these add Keras siblings to the PyTorch ViT / multi-label models and new code styles
(train_on_batch loops of two models, tf.data.Dataset.zip, custom position layers, constants
computed from the image size).

Same template contract as cases_keras_arch.py (see archgen.py): every mutation is registered with
its cause, labels are by construction. `¤` is the keras prefix, `§` the layers prefix.
"""
from __future__ import annotations

from archgen import Mut, register
from archgen import build_cases as _build
from cases_keras_arch import BS_OPTS, N_OPTS, finish, khead, names, onehot_line, seq_or_func, summary, verbose
from kbuild import P

REG: list[Mut] = []


# =============================================================================================
# vision transformer: Conv2D patch embedding, Reshape to tokens, MultiHeadAttention encoder block
# =============================================================================================
def t_vit(p: P, mut: str, fault: bool):
    head = khead(p)
    X, Y = names(p)
    N, bs = p.choice("n_samples", [16, 20, 26, 30]), p.choice("batch_size", [4, 5, 6, 8])
    P_, (gh, gw) = p.choice("patch", [4, 6, 8]), p.choice("grid", [(4, 4), (3, 5), (5, 4), (6, 3), (4, 6)])
    H, W = P_ * gh, P_ * gw
    Ch = p.choice("channels", [3, 1])
    if mut in ("channels_first_images", "grayscale_declared", "gray_images_rgb_model", "channels_first_declared"):
        Ch = p.set("channels", 3)
    if mut == "rgb_into_gray_model":
        Ch = p.set("channels", 1)
    D = p.choice("embed_dim", [24, 32, 20])
    nh = p.choice("heads", [2, 4])
    kd = p.choice("key_dim", [8, 12, 16])
    C = p.randint("classes", 2, 17)
    dh = p.choice("declared_off", [P_, 2 * P_])
    v = verbose(p)
    pool = p.choice("pool", ["GlobalAveragePooling1D", "GlobalMaxPooling1D"])
    if mut == "photos_not_resized":
        H2, W2 = p.choice("raw_hw", [(H + P_ // 2, W + P_ // 2), (2 * H, 2 * W), (H + 3, W - 2), (W, H) if W != H else (H + 5, W + 5)])
    if mut == "photos_not_resized" and fault:
        data = [f'{X} = np.random.rand({N}, {H2}, {W2}, {Ch}).astype("float32")   # photos at their original size']
    elif mut == "rgb_into_gray_model" and fault:
        data = [f'{X} = np.random.rand({N}, {H}, {W}, 3).astype("float32")   # photos kept in RGB']
    elif mut == "gray_images_rgb_model" and fault:
        data = [f'{X} = np.random.rand({N}, {H}, {W}, 1).astype("float32")   # grayscale scans']
    elif mut == "channels_first_images" and fault:
        data = [f'{X} = np.random.rand({N}, {Ch}, {H}, {W}).astype("float32")   # (N, C, H, W) exported from a torch pipeline']
    else:
        data = [f'{X} = np.random.rand({N}, {H}, {W}, {Ch}).astype("float32")']
    data.append(f"{Y} = np.random.randint(0, {C}, size=({N},))")
    if mut == "labels_onehot_sparse" and fault:
        data.append(onehot_line(Y, C))
    consts = [f"IMG_H, IMG_W, PATCH = {H}, {W}, {P_}",
              "N_PATCHES = IMG_H * IMG_W // PATCH   # number of tokens" if (mut == "reshape_patch_count" and fault)
              else "N_PATCHES = (IMG_H // PATCH) * (IMG_W // PATCH)", f"DIM = {D}"]
    pos = ["class AddPositions(§Layer):", '    """Learned position embedding, one row per patch."""', "",
           "    def build(self, input_shape):",
           '        self.table = self.add_weight(name="table", shape=(1, input_shape[1], input_shape[2]), initializer="random_normal")', "",
           "    def call(self, tokens):", "        return tokens + self.table"]
    in_shape = f"(IMG_H + {dh}, IMG_W, {Ch})" if (mut == "input_hw" and fault) else f"(IMG_H, IMG_W, {Ch})"
    if mut == "grayscale_declared" and fault:
        in_shape = "(IMG_H, IMG_W, 1)"
    if mut == "channels_first_declared" and fault:
        in_shape = f"({Ch}, IMG_H, IMG_W)"
    m = [f"inputs = ¤Input(shape={in_shape})",
         'z = §Conv2D(DIM, PATCH, strides=PATCH, name="patch_embed")(inputs)',
         'z = §Reshape((N_PATCHES, DIM), name="to_tokens")(z)']
    if mut == "conv2d_on_tokens" and fault:
        m.append('z = §Conv2D(DIM, 3, padding="same", activation="relu")(z)   # extra local mixing')
    m += ["z = AddPositions()(z)",
          "h = §LayerNormalization(epsilon=1e-6)(z)",
          f"h = §MultiHeadAttention(num_heads={nh}, key_dim={kd}, dropout=0.1)(h, h)",
          "z = §Add()([z, h])",
          "h = §LayerNormalization(epsilon=1e-6)(z)",
          f'h = §Dense({2 * D}, activation="gelu")(h)', "h = §Dense(DIM)(h)", "z = §Add()([z, h])"]
    if not (mut == "no_pooling" and fault):
        m.append(f"z = §{pool}()(z)")
    m += [f'outputs = §Dense({C}, activation="softmax")(z)', 'model = ¤Model(inputs, outputs, name="tiny_vit")']
    calls = ['model.compile(optimizer=¤optimizers.Adam(1e-3), loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
             f"model.fit({X}, {Y}, epochs=1, batch_size={bs}, validation_split=0.2, verbose={v})"]
    s = finish(p, head, [data, consts, pos, m, summary(p), calls])
    fixes = {
        "reshape_patch_count": (f"a {H}x{W} image in {P_}x{P_} patches has (IMG_H // PATCH) * (IMG_W // PATCH) = {gh * gw} tokens",
                                f"N_PATCHES computed as IMG_H * IMG_W // PATCH = {H * W // P_}, the conv gives {gh * gw}"),
        "channels_first_images": (f"move channels last: {X} = {X}.transpose(0, 2, 3, 1) -> ({N}, {H}, {W}, {Ch})", "channels-first images into a channels-last ViT"),
        "input_hw": (f"declare the image size the patches were counted for: Input(shape=({H}, {W}, {Ch}))", f"Input declares {H + dh}x{W}, N_PATCHES assumes {H}x{W}"),
        "labels_onehot_sparse": ("keep integer labels for sparse_categorical_crossentropy (or use categorical_crossentropy)", "one-hot labels with sparse CE"),
        "conv2d_on_tokens": ("mix tokens with Conv1D / Dense on the (tokens, dim) sequence, or apply Conv2D before the Reshape", "Conv2D applied to the 3-D token sequence"),
        "no_pooling": (f"pool over the patch tokens ({pool}) before the classifier so the output is (batch, {C})", "no pooling: the head keeps the token axis"),
        "rgb_into_gray_model": (f"convert the photos to one channel (x.mean(-1, keepdims=True)) for the ({H}, {W}, 1) model", "3-channel images into a ViT built for 1 channel"),
        "photos_not_resized": (f"resize the images to the {H}x{W} the patches were counted for (tf.image.resize)", f"images of another size than the {H}x{W} model input"),
        "gray_images_rgb_model": ("repeat the gray channel to RGB: np.repeat(x, 3, axis=-1) (the model takes 3 channels)", "1-channel images into a 3-channel ViT"),
        "grayscale_declared": (f"declare 3 channels for the RGB images: Input(shape=({H}, {W}, 3))", "Input declares 1 channel for RGB images"),
        "channels_first_declared": (f"declare channels last like the data: Input(shape=({H}, {W}, 3))", "Input declared channels-first"),
    }
    return (s,) + fixes[mut]


register(REG, "vit", t_vit, [
    ("reshape_patch_count", "layer_definition", "build"),
    ("channels_first_images", "data_preprocessing", "fit"),
    ("input_hw", "input_layer", "build"),
    ("labels_onehot_sparse", "loss_label_mismatch", "loss"),
    ("conv2d_on_tokens", "layer_combination", "build"),
    ("no_pooling", "layer_definition", "loss"),
])
# fourth generation: image mistakes that existed on cnn2d / augment_cnn / mobile_cnn only
register(REG, "vit", t_vit, [
    ("photos_not_resized", "data_preprocessing", "fit"),
    ("gray_images_rgb_model", "data_preprocessing", "fit"),
    ("grayscale_declared", "input_layer", "fit"),
    ("channels_first_declared", "input_layer", "build"),
    ("rgb_into_gray_model", "data_preprocessing", "fit"),
])


# =============================================================================================
# self-attention text classifier: Embedding + MultiHeadAttention + GlobalAveragePooling1D
# =============================================================================================
def t_attn_text(p: P, mut: str, fault: bool):
    tfd = mut == "ds_unbatched"
    head = khead(p, tf=tfd)
    X, Y = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    L = p.randint("seq_len", 8, 31)
    V = p.choice("vocab", [73, 150, 411, 2000, 997])
    d = p.choice("embed_dim", [16, 24, 12])
    C = p.randint("classes", 3, 14)
    small = p.choice("small_vocab", [10, 25, 40])
    off = p.choice("off", [-3, 4, 6])
    k = p.choice("units_short", [1, 2])
    nh = p.choice("heads", [1, 2, 3])
    style = p.choice("model_style", ["functional", "functional_named"])
    v = verbose(p)
    L2 = max(4, L + off)
    data = ["rng = np.random.default_rng(3)",
            f"lengths = rng.integers(3, {L + 1}, size={N})",
            f"docs = [list(rng.integers(1, {V}, size=n)) for n in lengths]   # token ids, 0 = padding",
            f"MAXLEN = {L}",
            f"{X} = np.zeros((len(docs), {L2 if (mut == 'padded_len' and fault) else 'MAXLEN'}), dtype=\"int32\")",
            "for i, doc in enumerate(docs):",
            f"    {X}[i, :len(doc)] = doc[:{X}.shape[1]]",
            f"{Y} = rng.integers(0, {C}, size={N})"]
    emb_v = small if (mut == "vocab_small" and fault) else V
    outC = C - k if (mut == "units_lt_classes" and fault) else C
    in_len = "MAXLEN" if not (mut == "seq_len_declared" and fault) else f"{L2}"
    nm = (lambda n: f', name="{n}"') if style == "functional_named" else (lambda n: "")
    in_decl = f"({in_len}, {d})" if (mut == "input_with_embed_dim" and fault) else f"({in_len},)"
    m = [f'tokens = ¤Input(shape={in_decl}, dtype="int32"{nm("tokens")})']
    m += [f"h = §Embedding({emb_v}, {d}{nm('embed')})(tokens)"]
    if mut == "conv2d_on_sequence" and fault:
        m.append(f'h = §Conv2D({d}, 3, padding="same", activation="relu")(h)   # local n-gram features')
    m += [f"att = §MultiHeadAttention(num_heads={nh}, key_dim={d}{nm('self_attention')})(h, h)",
          "h = §LayerNormalization()(h + att)"]
    if mut == "rnn_after_flatten":
        m += ["h = §Flatten()(h)", "h = §GRU(16)(h)"] if fault else ["h = §GRU(16)(h)"]
    elif mut == "stacked_gru_no_return_sequences":
        m += [f"h = §GRU(16{'' if fault else ', return_sequences=True'})(h)", "h = §GRU(8)(h)"]
    elif mut == "gru_after_pool":
        m += ([f"h = §GlobalAveragePooling1D({nm('pool').lstrip(', ')})(h)", "h = §GRU(16)(h)"] if fault else
              ["h = §GRU(16, return_sequences=True)(h)", f"h = §GlobalAveragePooling1D({nm('pool').lstrip(', ')})(h)"])
    else:
        m.append(f"h = §GlobalAveragePooling1D({nm('pool').lstrip(', ')})(h)")
    m += ['h = §Dropout(0.2)(h)',
          f'outputs = §Dense({outC}, activation="softmax"{nm("classifier")})(h)', 'model = ¤Model(tokens, outputs)']
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])']
    if tfd:
        calls += [f"train_ds = tf.data.Dataset.from_tensor_slices(({X}, {Y})).shuffle({N})" + ("" if fault else f".batch({bs})"),
                  f"model.fit(train_ds, epochs=1, verbose={v})"]
    else:
        calls.append(f"model.fit({X}, {Y}, epochs=1, batch_size={bs}, verbose={v})")
    s = finish(p, head, [data, m, summary(p), calls])
    fixes = {
        "vocab_small": (f"size the Embedding for the vocabulary: Embedding({V}, {d}) (ids go up to {V - 1})", f"Embedding({small}) for token ids up to {V - 1}"),
        "seq_len_declared": ("declare Input(shape=(MAXLEN,)) like the padded token arrays", f"Input declares {L2} tokens, the data is padded to {L}"),
        "padded_len": (f"pad the documents to MAXLEN={L} (the model's input length), not {L2}", f"token arrays padded to {L2} for a model built for {L}"),
        "units_lt_classes": (f"output one probability per class: Dense({C}) (labels go up to {C - 1})", f"Dense({C - k}) for {C} classes"),
        "gru_after_pool": ("run the GRU on the (tokens, dim) sequence before GlobalAveragePooling1D", "GRU placed after the global pooling"),
        "ds_unbatched": (f"batch the dataset: .batch({bs})", "tf.data dataset never batched"),
        "input_with_embed_dim": ("declare token ids only: Input(shape=(MAXLEN,)); the Embedding adds the embedding axis", f"Input declares (MAXLEN, {d}) for token ids"),
        "conv2d_on_sequence": ("use Conv1D on the (tokens, dim) embeddings (Conv2D needs 4-D maps)", "Conv2D applied to the 3-D embedding sequence"),
        "rnn_after_flatten": ("remove the Flatten before the GRU: it needs the (tokens, dim) sequence", "GRU after Flatten"),
        "stacked_gru_no_return_sequences": ("set return_sequences=True on the first GRU so the second gets a sequence", "stacked GRUs without return_sequences on the first"),
    }
    return (s,) + fixes[mut]


register(REG, "attn_text", t_attn_text, [
    ("vocab_small", "layer_definition", "fit"),
    ("seq_len_declared", "input_layer", "fit"),
    ("padded_len", "data_preprocessing", "fit"),
    ("units_lt_classes", "loss_label_mismatch", "loss", 1),
    ("gru_after_pool", "layer_combination", "build"),
    ("ds_unbatched", "input_pipeline", "fit", 2, {"tf": True}),
])
register(REG, "attn_text", t_attn_text, [   # fourth generation
    ("input_with_embed_dim", "input_layer", "build"),
    ("conv2d_on_sequence", "layer_combination", "build"),
    ("rnn_after_flatten", "layer_combination", "build"),
    ("stacked_gru_no_return_sequences", "layer_definition", "build"),
])


# =============================================================================================
# ConvLSTM2D video classifier
# =============================================================================================
def t_convlstm(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", [10, 12, 14, 18]), p.choice("batch_size", [2, 3, 4, 6])
    T = p.choice("frames", [3, 4, 5])
    H, W = p.choice("hw", [(12, 12), (10, 14), (16, 12), (14, 10)])
    Ch = p.choice("channels", [1, 3])
    if mut == "missing_channel":
        Ch = p.set("channels", 1)
    f = p.choice("filters", [4, 6])
    C = p.randint("classes", 2, 9)
    head_kind = p.choice("head", ["gap", "flatten"])
    style = p.choice("model_style", ["sequential", "functional"])
    if mut == "missing_channel":   # with a declared Input Keras adds the size-1 axis itself
        style = p.set("model_style", "noinput")
    v = verbose(p)
    if mut == "missing_channel":
        data = [f'clips = np.random.rand({N}, {T}, {H}, {W}).astype("float32")   # grayscale frames']
        if not fault:
            data.append("clips = clips[..., np.newaxis]")
    elif mut == "frames_stacked_last" and fault:
        data = [f"frames = [np.random.rand({N}, {H}, {W}, {Ch}).astype(\"float32\") for _ in range({T})]",
                "clips = np.stack(frames, axis=-2)   # (N, H, W, frames, C)"]
    elif mut == "frames_stacked_last":
        data = [f"frames = [np.random.rand({N}, {H}, {W}, {Ch}).astype(\"float32\") for _ in range({T})]",
                "clips = np.stack(frames, axis=1)   # (N, frames, H, W, C)"]
    else:
        data = [f'clips = np.random.rand({N}, {T}, {H}, {W}, {Ch}).astype("float32")   # (clips, frames, H, W, C)']
    data.append(f"labels = np.random.randint(0, {C}, size=({N},))")
    rs = ", return_sequences=True" if (mut in ("return_sequences_gap", "lstm_after_convlstm") and fault) else ""
    layers_ = [f'§ConvLSTM2D({f}, 3, padding="same"{rs})', "§BatchNormalization()"]
    if mut == "lstm_after_convlstm" and fault:
        layers_.append("§LSTM(8)")
    layers_.append("§GlobalAveragePooling2D()" if (head_kind == "gap" or mut == "return_sequences_gap") else "§Flatten()")
    layers_.append(f'§Dense({C}, activation="softmax")')
    in_shape = f"({H}, {W}, {Ch})" if (mut == "input_no_time" and fault) else f"({T}, {H}, {W}, {Ch})"
    m = seq_or_func(p, layers_, in_shape, style, name="convlstm_net")
    loss = "categorical_crossentropy" if (mut == "int_labels_categorical" and fault) else "sparse_categorical_crossentropy"
    calls = [f'model.compile(optimizer="adam", loss="{loss}", metrics=["accuracy"])',
             f"model.fit(clips, labels, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [data, m, summary(p) if style != "noinput" else [], calls])
    fixes = {
        "missing_channel": (f"add the channel axis: clips = clips[..., np.newaxis] -> ({N}, {T}, {H}, {W}, 1)", "grayscale clips without a channel axis"),
        "frames_stacked_last": ("stack the frames on axis 1: np.stack(frames, axis=1) -> (N, frames, H, W, C)", "frames stacked as the fourth axis (N, H, W, frames, C)"),
        "input_no_time": (f"declare the frame axis: Input(shape=({T}, {H}, {W}, {Ch}))", "Input declares one frame for a ConvLSTM2D model"),
        "return_sequences_gap": ("drop return_sequences=True (or pool per frame with TimeDistributed) before GlobalAveragePooling2D", "ConvLSTM2D returns the frame axis, GlobalAveragePooling2D expects 4-D"),
        "lstm_after_convlstm": ("pool each frame (TimeDistributed(GlobalAveragePooling2D())) before an LSTM, or drop the LSTM", "LSTM on the 5-D ConvLSTM2D sequence"),
        "int_labels_categorical": ("with integer labels use sparse_categorical_crossentropy (or one-hot the labels)", "integer labels with categorical_crossentropy"),
    }
    return (s,) + fixes[mut]


register(REG, "convlstm", t_convlstm, [
    ("missing_channel", "data_preprocessing", "fit", 2,
     {"valid_if_silent": "Keras adds the missing trailing size-1 axis itself because the model declares it"}),
    ("frames_stacked_last", "data_preprocessing", "fit"),
    ("input_no_time", "input_layer", "build"),
    ("return_sequences_gap", "layer_definition", "build"),
    ("lstm_after_convlstm", "layer_combination", "build"),
    ("int_labels_categorical", "loss_label_mismatch", "loss"),
])


# =============================================================================================
# mobile-style CNN: DepthwiseConv2D / SeparableConv2D blocks with residual Add
# =============================================================================================
def t_mobile(p: P, mut: str, fault: bool):
    head = khead(p)
    N, bs = p.choice("n_samples", [18, 24, 30, 36]), p.choice("batch_size", [4, 6, 8, 9])
    H, W = p.choice("hw", [(32, 32), (28, 28), (24, 32), (40, 40), (30, 30)])
    c1 = p.choice("width", [8, 12, 16])
    mult = p.choice("expand", [2, 3])
    C = p.randint("classes", 2, 40)
    kbig = p.choice("kernel_big", [11, 13])
    depth = p.choice("block", ["depthwise", "separable"])
    extra = p.choice("onehot_extra", [1, 2])
    v = verbose(p)
    block_fn = ["def inverted_residual(x, expand, out_ch, kernel=3):",
                "    h = §Conv2D(expand, 1, padding=\"same\", use_bias=False)(x)",
                "    h = §BatchNormalization()(h)", "    h = §ReLU(6.0)(h)"]
    block_fn += (["    h = §DepthwiseConv2D(kernel, padding=\"valid\" if kernel > 3 else \"same\", use_bias=False)(h)"]
                 if depth == "depthwise" else
                 ["    h = §SeparableConv2D(expand, kernel, padding=\"valid\" if kernel > 3 else \"same\", use_bias=False)(h)"])
    block_fn += ["    h = §BatchNormalization()(h)", "    h = §ReLU(6.0)(h)",
                 "    h = §Conv2D(out_ch, 1, padding=\"same\", use_bias=False)(h)", "    h = §BatchNormalization()(h)"]
    if mut == "residual_width" and not fault:
        block_fn += ["    if x.shape[-1] != out_ch:", "        return h   # no shortcut when the block changes the width"]
    block_fn += ["    return §Add()([x, h])   # residual"]
    if mut == "photos_not_resized":
        H2, W2 = p.choice("raw_hw", [(H + 8, W + 8), (H - 4, W), (64, 48), (H + 2, W + 2)])
        data = [f'images = np.random.rand({N}, {H2 if fault else H}, {W2 if fault else W}, 3).astype("float32")' + ("   # camera frames, never resized" if fault else "")]
    elif mut == "channels_first_data":
        data = [f'images = np.random.rand({N}, 3, {H}, {W}).astype("float32")   # (N, C, H, W) from the torch loader' if fault else
                f'images = np.random.rand({N}, {H}, {W}, 3).astype("float32")']
    elif mut == "gray_images_rgb_model":
        data = [f'gray = np.random.rand({N}, {H}, {W}, 1).astype("float32")   # scanned in grayscale',
                "images = gray" if fault else "images = np.repeat(gray, 3, axis=-1)   # the network was designed for RGB"]
    else:
        data = [f'images = np.random.rand({N}, {H}, {W}, 3).astype("float32")']
    data.append(f"labels = np.random.randint(0, {C}, size=({N},))")
    data.append(f"labels_1h = ¤utils.to_categorical(labels, {C + extra if (mut == 'onehot_depth' and fault) else C})")
    in_shape = f"(3, {H}, {W})" if (mut == "channels_first_declared" and fault) else f"({H}, {W}, 3)"
    if mut == "grayscale_declared" and fault:
        in_shape = f"({H}, {W}, 1)"
    kmid = kbig if (mut == "depthwise_kernel_too_big" and fault) else 3
    m = [f"inputs = ¤Input(shape={in_shape})",
         f'x = §Conv2D({c1}, 3, strides=2, padding="same", activation="relu")(inputs)',
         f"x = inverted_residual(x, {c1 * mult}, {c1})",
         f'x = §Conv2D({2 * c1}, 3, strides=2, padding="same", activation="relu")(x)',
         f"x = inverted_residual(x, {2 * c1 * mult}, {2 * c1}, kernel={kmid})" if mut != "residual_width" else
         f"x = inverted_residual(x, {2 * c1 * mult}, {3 * c1})"]
    if mut == "separable_after_gap" and fault:
        m += ["x = §GlobalAveragePooling2D()(x)", f'x = §SeparableConv2D({4 * c1}, 3, padding="same", activation="relu")(x)']
    else:
        m += [f'x = §SeparableConv2D({4 * c1}, 3, padding="same", activation="relu")(x)', "x = §GlobalAveragePooling2D()(x)"]
    m += ["x = §Dropout(0.2)(x)", f'outputs = §Dense({C}, activation="softmax")(x)', 'model = ¤Model(inputs, outputs, name="mobile_net")']
    calls = ['model.compile(optimizer="adam", loss="categorical_crossentropy", metrics=["accuracy"])',
             f"model.fit(images, labels_1h, epochs=1, batch_size={bs}, verbose={v})"]
    s = finish(p, head, [block_fn, data, m, summary(p), calls])
    fixes = {
        "residual_width": ("add the shortcut only when the block keeps the width (or project x with a 1x1 Conv2D to out_ch)", f"residual Add of a {2 * c1}-channel input and a {3 * c1}-channel block output"),
        "depthwise_kernel_too_big": (f"use a kernel no bigger than the {H // 4}x{W // 4} map (3) or padding='same'", f"{kbig}x{kbig} valid depthwise kernel on a {H // 4}x{W // 4} map"),
        "gray_images_rgb_model": ("repeat the gray channel to RGB: np.repeat(gray, 3, axis=-1) (the model takes 3 channels)", "1-channel images into a 3-channel model"),
        "channels_first_declared": (f"declare channels last like the data: Input(shape=({H}, {W}, 3))", "Input declared channels-first"),
        "separable_after_gap": ("apply the SeparableConv2D before GlobalAveragePooling2D", "SeparableConv2D after global pooling"),
        "onehot_depth": (f"one-hot with the {C} classes of the head: to_categorical(labels, {C})", f"to_categorical depth {C + extra} for a {C}-unit head"),
        "photos_not_resized": (f"resize the frames to the model's {H}x{W} input (tf.image.resize)", f"images of another size than the {H}x{W} model input"),
        "channels_first_data": (f"move channels last: images = images.transpose(0, 2, 3, 1) -> ({N}, {H}, {W}, 3)", "channels-first images into a channels-last model"),
        "grayscale_declared": (f"declare 3 channels for the RGB images: Input(shape=({H}, {W}, 3))", "Input declares 1 channel for RGB images"),
    }
    return (s,) + fixes[mut]


register(REG, "mobile_cnn", t_mobile, [
    ("residual_width", "layer_definition", "build"),
    ("depthwise_kernel_too_big", "layer_definition", "build"),
    ("gray_images_rgb_model", "data_preprocessing", "fit"),
    ("channels_first_declared", "input_layer", "fit"),
    ("separable_after_gap", "layer_combination", "build"),
    ("onehot_depth", "loss_label_mismatch", "loss"),
])
register(REG, "mobile_cnn", t_mobile, [   # fourth generation
    ("photos_not_resized", "data_preprocessing", "fit"),
    ("channels_first_data", "data_preprocessing", "fit"),
    ("grayscale_declared", "input_layer", "fit"),
])


# =============================================================================================
# multi-label tagger: sigmoid outputs + binary_crossentropy on k-hot labels
# =============================================================================================
def t_multi_label(p: P, mut: str, fault: bool):
    tfd = mut == "zip_unbatched_labels"
    head = khead(p, tf=tfd)
    X, _ = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    F = p.randint("features", 6, 45)
    K = p.randint("tags", 3, 19)
    h = p.choice("hidden", [32, 48, 20])
    k = p.choice("off", [1, 2, 3])
    style = p.choice("model_style", ["sequential", "functional", "noinput"])
    if mut in ("input_features", "features_extra_column", "train_on_batch_single") and style == "noinput":
        style = p.set("model_style", "sequential")
    v = verbose(p)
    tags = p.choice("tag_names", ["genres", "topics", "labels", "tags"])
    data = [f'{X} = np.random.rand({N}, {F + 1 if (mut == "features_extra_column" and fault) else F}).astype("float32")'
            + ("   # the document id column was kept" if (mut == "features_extra_column" and fault) else ""),
            f"TAGS = {K}",
            "rng = np.random.default_rng(1)",
            f"{tags}_per_row = [sorted(rng.choice(TAGS, size=rng.integers(1, 4), replace=False)) for _ in range({N})]"]
    if mut == "tags_ragged" and fault:
        data.append(f"y = np.array({tags}_per_row, dtype=object)   # lists of tag ids")
    elif mut == "labels_tag_index" and fault:
        data.append(f"y = np.array([row[0] for row in {tags}_per_row])   # main tag id")
    else:
        data += [f'y = np.zeros(({N}, TAGS), dtype="float32")', f"for i, row in enumerate({tags}_per_row):", "    y[i, row] = 1.0   # k-hot"]
    in_f = F + k if (mut == "input_features" and fault) else F
    outK = K - k if (mut == "out_units" and fault) else K
    prep = []
    if mut == "adapt_with_labels":
        prep = ["norm = §Normalization()", f"norm.adapt(np.hstack([{X}, y]))   # statistics of the whole table" if fault else f"norm.adapt({X})"]
    m = seq_or_func(p, (["norm"] if prep else []) + [f'§Dense({h}, activation="relu")', "§Dropout(0.1)", f'§Dense({outK}, activation="sigmoid")'], f"({in_f},)", style, name="tagger")
    loss = "sparse_categorical_crossentropy" if (mut == "sparse_ce_on_khot" and fault) else "binary_crossentropy"
    calls = [f'model.compile(optimizer="adam", loss="{loss}", metrics=[¤metrics.BinaryAccuracy(threshold=0.5)])']
    if tfd:
        calls += [f"features_ds = tf.data.Dataset.from_tensor_slices({X}).batch({bs})",
                  "labels_ds = tf.data.Dataset.from_tensor_slices(y)" + ("" if fault else f".batch({bs})"),
                  "train_ds = tf.data.Dataset.zip((features_ds, labels_ds))", f"model.fit(train_ds, epochs=1, verbose={v})"]
    elif mut == "train_on_batch_single":
        sl = "i" if fault else f"i:i + {bs}"
        calls += [f"for i in range(0, len({X}), {bs}):", f"    loss = model.train_on_batch({X}[{sl}], y[{sl}])", 'print("loss", loss)']
    else:
        calls.append(f"model.fit({X}, y, epochs=1, batch_size={bs}, verbose={v})")
    calls += ["probs = model.predict(" + X + "[:3], verbose=0)", "print((probs > 0.5).astype(int))"]
    s = finish(p, head, [data, prep, m, summary(p) if style != "noinput" else [], calls])
    fixes = {
        "sparse_ce_on_khot": ("k-hot labels need binary_crossentropy with sigmoid outputs, not sparse_categorical_crossentropy", "sparse categorical CE on k-hot labels"),
        "out_units": (f"one sigmoid unit per tag: Dense({K}) (labels are {K}-hot)", f"Dense({K - k}) for {K}-hot labels"),
        "tags_ragged": ("turn the tag lists into a k-hot float matrix (N, TAGS) before fit", "ragged lists of tag ids passed as labels"),
        "labels_tag_index": (f"multi-label targets are (N, {K}) k-hot rows, not one tag id per row", "one tag index per row for a k-hot sigmoid head"),
        "input_features": (f"declare Input(shape=({F},)) like the feature matrix", f"Input declares {F + k} features"),
        "zip_unbatched_labels": (f"batch both datasets before zipping: labels_ds.batch({bs})", "features batched, labels not, then zipped"),
        "features_extra_column": (f"drop the id column: {X} must have the {F} feature columns", f"{F + 1} columns (id kept) for a {F}-feature Input"),
        "adapt_with_labels": (f"adapt the Normalization on the {F} feature columns only: norm.adapt({X})", f"Normalization adapted on the features + the {K} label columns"),
        "train_on_batch_single": (f"train on slices that keep the batch axis: {X}[i:i + {bs}]", "train_on_batch given one sample without batch axis"),
    }
    return (s,) + fixes[mut]


register(REG, "multi_label", t_multi_label, [
    ("sparse_ce_on_khot", "loss_label_mismatch", "loss"),
    ("out_units", "layer_definition", "loss"),
    ("tags_ragged", "data_preprocessing", "fit"),
    ("labels_tag_index", "loss_label_mismatch", "loss"),
    ("input_features", "input_layer", "fit"),
    ("zip_unbatched_labels", "input_pipeline", "loss", 2, {"tf": True}),
])
register(REG, "multi_label", t_multi_label, [   # fourth generation
    ("features_extra_column", "data_preprocessing", "fit"),
    ("adapt_with_labels", "data_preprocessing", "build"),
    ("train_on_batch_single", "data_preprocessing", "fit"),
])


# =============================================================================================
# GAN: generator + discriminator, combined model, train_on_batch loop
# =============================================================================================
def t_gan(p: P, mut: str, fault: bool):
    head = khead(p)
    N = p.choice("n_samples", [24, 30, 40])
    bs = p.choice("batch_size", [4, 6, 8])
    H, W = p.choice("hw", [(12, 12), (14, 14), (10, 16), (16, 12)])
    Z = p.choice("latent_dim", [8, 12, 16, 20])
    zk = p.choice("latent_off", [2, 4])
    g = p.choice("gen_hidden", [32, 48])
    f = p.choice("filters", [4, 8])
    steps = p.choice("steps", [2, 3])
    v = p.choice("print_every", [1, 2])
    if mut == "real_images_not_resized":
        H2, W2 = p.choice("raw_hw", [(H + 4, W + 4), (2 * H, 2 * W), (H - 2, W), (H + 6, W - 2)])
    rh, rw = (H2, W2) if (mut == "real_images_not_resized" and fault) else (H, W)
    data = [f'real_images = np.random.rand({N}, {rh}, {rw}, 1).astype("float32") * 2 - 1   # scaled to [-1, 1]'
            + ("; camera crops, never resized" if (mut == "real_images_not_resized" and fault) else ""),
            f"LATENT = {Z}", f"BATCH = {bs}"]
    gen_units = f"{H} * {W - 1}" if (mut == "dense_units_before_reshape" and fault) else f"{H} * {W}"
    gen = ['generator = ¤Sequential([', "    ¤Input(shape=(LATENT,)),", f'    §Dense({g}, activation="relu"),',
           f'    §Dense({gen_units}, activation="tanh"),', f"    §Reshape(({H}, {W}, 1)),", '], name="generator")']
    if mut == "generator_missing_upsample":
        st = "" if fault else ", strides=2"
        gen = ['generator = ¤Sequential([', "    ¤Input(shape=(LATENT,)),", f'    §Dense({H // 2} * {W // 2} * {2 * f}, activation="relu"),',
               f"    §Reshape(({H // 2}, {W // 2}, {2 * f})),", f'    §Conv2DTranspose({f}, 3{st}, padding="same", activation="relu"),',
               '    §Conv2D(1, 3, padding="same", activation="tanh"),', '], name="generator")']
    d_in = f"({H}, {W})" if (mut == "disc_input_declared" and fault) else f"({H}, {W}, 1)"
    dlayers = [f'§Conv2D({f}, 3, strides=2, padding="same")', "§LeakyReLU(0.2)"]
    if mut == "conv_after_flatten" and fault:
        dlayers += ["§Flatten()", f'§Conv2D({2 * f}, 3, strides=2, padding="same")']
    else:
        dlayers += [f'§Conv2D({2 * f}, 3, strides=2, padding="same")', "§Flatten()"]
    dlayers += ['§Dense(1, activation="sigmoid")']
    disc = ["discriminator = ¤Sequential(["] + [f"    ¤Input(shape={d_in}),"] + [f"    {e}," for e in dlayers] + ['], name="discriminator")',
            'discriminator.compile(optimizer=¤optimizers.Adam(2e-4), loss="binary_crossentropy")']
    gan = ["discriminator.trainable = False", 'z_in = ¤Input(shape=(LATENT,), name="z")', "gan = ¤Model(z_in, discriminator(generator(z_in)), name=\"gan\")",
           'gan.compile(optimizer=¤optimizers.Adam(2e-4), loss="binary_crossentropy")']
    zdim = f"LATENT + {zk}" if (mut == "noise_latent_dim" and fault) else "LATENT"
    if mut == "labels_onehot_bce" and fault:
        lab = ["real_y = ¤utils.to_categorical(np.ones(BATCH), 2)   # class 1 = real", "fake_y = ¤utils.to_categorical(np.zeros(BATCH), 2)"]
    else:
        lab = ["real_y = np.ones((BATCH, 1))", "fake_y = np.zeros((BATCH, 1))"]
    nreal = "2 * BATCH" if (mut == "batch_labels_count" and fault) else "BATCH"
    loop = lab + [f"for step in range({steps}):",
                  f"    idx = np.random.randint(0, len(real_images), {nreal})",
                  f"    noise = np.random.normal(size=(BATCH, {zdim})).astype(\"float32\")",
                  "    fake = generator.predict(noise, verbose=0)",
                  "    x = np.concatenate([real_images[idx], fake])",
                  "    y = np.concatenate([real_y, fake_y])",
                  "    d_loss = discriminator.train_on_batch(x, y)",
                  "    g_loss = gan.train_on_batch(noise, real_y)",
                  f"    if step % {v} == 0:", '        print("step", step, "d_loss", d_loss, "g_loss", g_loss)']
    s = finish(p, head, [data, gen, disc, summary(p, "generator"), gan, loop])
    fixes = {
        "dense_units_before_reshape": (f"the generator's last Dense must output {H}*{W} = {H * W} values for Reshape(({H}, {W}, 1))", f"Dense({H * (W - 1)}) before Reshape(({H}, {W}, 1))"),
        "noise_latent_dim": (f"sample noise with the generator's latent size: np.random.normal(size=(BATCH, LATENT)) (LATENT={Z})", f"noise of {Z + zk} dims for a {Z}-dim generator"),
        "disc_input_declared": (f"declare the discriminator's input like the generator's output: Input(shape=({H}, {W}, 1))", "discriminator Input declared without the channel axis"),
        "labels_onehot_bce": ("the discriminator has one sigmoid unit: labels are (BATCH, 1) ones / zeros, not one-hot pairs", "one-hot (BATCH, 2) labels for a Dense(1) sigmoid discriminator"),
        "batch_labels_count": ("draw BATCH real images so that x and y have the same number of rows (2 * BATCH)", "3*BATCH images stacked with 2*BATCH labels"),
        "conv_after_flatten": ("apply the second Conv2D before Flatten", "Conv2D after Flatten in the discriminator"),
        "generator_missing_upsample": (f"upsample the {H // 2}x{W // 2} map back to {H}x{W}: Conv2DTranspose({f}, 3, strides=2, padding='same')", f"generator outputs {H // 2}x{W // 2} images for a {H}x{W} discriminator"),
        "real_images_not_resized": (f"resize the real images to the generator's {H}x{W} (tf.image.resize) before mixing them with fakes", f"real images of another size than the {H}x{W} generator output"),
    }
    return (s,) + fixes[mut]


register(REG, "gan", t_gan, [
    ("dense_units_before_reshape", "layer_definition", "build"),
    ("noise_latent_dim", "data_preprocessing", "predict"),
    ("disc_input_declared", "input_layer", "build"),
    ("labels_onehot_bce", "loss_label_mismatch", "loss"),
    ("batch_labels_count", "input_pipeline", "fit"),
    ("conv_after_flatten", "layer_combination", "build"),
])
register(REG, "gan", t_gan, [   # fourth generation
    ("real_images_not_resized", "data_preprocessing", "data"),
    ("generator_missing_upsample", "layer_definition", "build"),
])


# =============================================================================================
# tabular model with preprocessing layers: Normalization + IntegerLookup + Embedding, dict inputs
# =============================================================================================
def t_tabular_prep(p: P, mut: str, fault: bool):
    head = khead(p, tf=True)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    F = p.randint("numeric_features", 3, 17)
    ncat = p.randint("categories", 4, 12)
    base = p.choice("code_base", [100, 2000, 31000])
    d = p.choice("embed_dim", [3, 4, 6])
    h = p.choice("hidden", [16, 24, 32])
    k = p.choice("off", [1, 2])
    col = p.choice("cat_name", ["city", "store", "region", "product"])
    v = verbose(p)
    data = [f"CODES = [{', '.join(str(base + 7 * i) for i in range(ncat))}]   # {col} codes",
            f'numeric = np.random.rand({N}, {F}).astype("float32")',
            f"{col} = np.random.choice(CODES, size=({N}, 1)).astype(\"int64\")",
            f"y = np.random.randint(0, 2, size=({N},))   # churned or not"]
    if mut == "labels_onehot_bce" and fault:
        data.append("y = ¤utils.to_categorical(y, 2)")
    prep = ["norm = §Normalization()"]
    if mut == "adapt_with_id_column" and fault:
        prep += [f"row_ids = np.arange({N}, dtype=\"float32\").reshape(-1, 1)", "norm.adapt(np.hstack([row_ids, numeric]))   # the id column is still in the table"]
    else:
        prep.append("norm.adapt(numeric)")
    prep.append("lookup = §IntegerLookup(vocabulary=CODES)   # index 0 is kept for unknown codes")
    in_f = F + k if (mut == "numeric_input_width" and fault) else F
    emb_in = "len(CODES)" if (mut == "embedding_vocab" and fault) else "lookup.vocabulary_size()"
    m = [f'num_in = ¤Input(shape=({in_f},), name="numeric")', f'cat_in = ¤Input(shape=(1,), dtype="int64", name="{col}")',
         "n = norm(num_in)", "c = lookup(cat_in)", f"c = §Embedding({emb_in}, {d})(c)   # (batch, 1, {d})"]
    if not (mut == "concat_without_flatten" and fault):
        m.append("c = §Flatten()(c)")
    m += ["z = §Concatenate()([n, c])", f'z = §Dense({h}, activation="relu")(z)', 'out = §Dense(1, activation="sigmoid")(z)',
          f'model = ¤Model(inputs={{"numeric": num_in, "{col}": cat_in}}, outputs=out)']
    key = f"{col}s" if (mut == "dict_key_typo" and fault) else col
    calls = ['model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy"])',
             f'model.fit({{"numeric": numeric, "{key}": {col}}}, y, epochs=1, batch_size={bs}, verbose={v})']
    if mut == "inputs_list_swapped":
        m[-1] = "model = ¤Model(inputs=[num_in, cat_in], outputs=out)"
        xs = f"[{col}, numeric]" if fault else f"[numeric, {col}]"
        calls[-1] = f"model.fit({xs}, y, epochs=1, batch_size={bs}, verbose={v})"
    s = finish(p, head, [data, prep, m, summary(p), calls])
    fixes = {
        "adapt_with_id_column": (f"adapt the Normalization on the {F} numeric feature columns only: norm.adapt(numeric)", f"Normalization adapted on {F + 1} columns (row id kept)"),
        "numeric_input_width": (f"declare the numeric Input with the {F} columns the Normalization was adapted on", f"numeric Input declares {F + k} features, the data and the adapted Normalization have {F}"),
        "embedding_vocab": ("size the Embedding with lookup.vocabulary_size() (the codes plus the unknown index 0)", f"Embedding(len(CODES)={ncat}) for IntegerLookup indices up to {ncat}"),
        "concat_without_flatten": (f"flatten the (batch, 1, {d}) embedding before Concatenate with the (batch, {F}) numeric features", "3-D embedding concatenated with 2-D features"),
        "dict_key_typo": (f'key the inputs by the Input names: {{"numeric": ..., "{col}": ...}}', f'input dict key "{col}s" matches no Input'),
        "labels_onehot_bce": ("the head is one sigmoid unit: keep y as 0/1 of shape (N,) for binary_crossentropy", "one-hot (N, 2) labels for a Dense(1) sigmoid head"),
        "inputs_list_swapped": (f"pass the inputs in the model's order: [numeric, {col}]", "the two input arrays passed in the wrong order"),
    }
    return (s,) + fixes[mut]


register(REG, "tabular_prep", t_tabular_prep, [
    ("adapt_with_id_column", "data_preprocessing", "build"),
    ("numeric_input_width", "input_layer", "build"),
    ("embedding_vocab", "layer_definition", "fit"),
    ("concat_without_flatten", "layer_combination", "build"),
    ("dict_key_typo", "input_pipeline", "fit"),
    ("labels_onehot_bce", "loss_label_mismatch", "loss"),
], tf=True)
register(REG, "tabular_prep", t_tabular_prep, [   # fourth generation
    ("inputs_list_swapped", "input_pipeline", "fit"),
], tf=True)


# =============================================================================================
# temporal convolutional network: causal dilated Conv1D residual blocks over sensor sequences
# =============================================================================================
def t_tcn(p: P, mut: str, fault: bool):
    head = khead(p)
    X, Y = names(p)
    N, bs = p.choice("n_samples", N_OPTS), p.choice("batch_size", BS_OPTS)
    T = p.randint("steps", 20, 45)
    Fd = p.randint("channels", 2, 9)
    f = p.choice("filters", [8, 12, 16])
    k = p.choice("kernel", [2, 3])
    C = p.randint("classes", 2, 11)
    dil = p.choice("dilations", [(1, 2, 4), (1, 2), (2, 4)])
    off = p.choice("off", [3, 5, 8])
    v = verbose(p)
    if Fd == T:
        T += 1
    if mut == "residual_from_raw_input" and Fd == f:
        f = p.set("filters", f + 4)
    if mut == "raw_signal_not_framed":
        data = [f'stream = np.random.randn({N}, {T * Fd}).astype("float32")   # interleaved sensor samples as logged',
                f"{X} = stream" if fault else f"{X} = stream.reshape({N}, {T}, {Fd})   # (recordings, steps, sensors)"]
    elif mut == "channels_first_data" and fault:
        data = [f'{X} = np.random.randn({N}, {Fd}, {T}).astype("float32")   # (recordings, sensors, steps) as exported']
    else:
        data = [f'{X} = np.random.randn({N}, {T}, {Fd}).astype("float32")   # (recordings, steps, sensors)']
    data.append(f"{Y} = np.random.randint(0, {C}, size=({N}, {T}))   # activity per step" if (mut == "per_step_labels" and fault) else
                f"{Y} = np.random.randint(0, {C}, size=({N},))")
    pad_last = '"valid"' if (mut == "valid_padding_residual" and fault) else '"causal"'
    blk = ["def residual_block(x, filters, dilation, padding=\"causal\"):",
           f"    h = §Conv1D(filters, {k}, padding=padding, dilation_rate=dilation, activation=\"relu\")(x)",
           f"    h = §Conv1D(filters, {k}, padding=\"causal\", dilation_rate=dilation)(h)",
           "    return §Activation(\"relu\")(§Add()([x, h]))"]
    in_shape = f"({T + off}, {Fd})" if (mut == "input_steps" and fault) else f"({T}, {Fd})"
    if mut == "input_steps_features_swapped" and fault:
        in_shape = f"({Fd}, {T})"
    first = f'§Conv2D({f}, {k}, padding="same")' if (mut == "conv2d_on_sequence" and fault) else f'§Conv1D({f}, 1)'
    m = [f"inputs = ¤Input(shape={in_shape})", f"z = {first}(inputs)   # project the sensors to the block width"]
    for i, d in enumerate(dil):
        last = i == len(dil) - 1
        width = f + 4 if (mut == "residual_width" and fault and last) else f
        padkw = f", padding={pad_last}" if last and pad_last != '"causal"' else ""
        src = "inputs" if (mut == "residual_from_raw_input" and fault and i == 0) else "z"
        m.append(f"z = residual_block({src}, {width}, {d}{padkw})")
    if mut == "rnn_after_flatten":
        m += ["z = §Flatten()(z)", "z = §LSTM(16)(z)"] if fault else ["z = §LSTM(16)(z)"]
    elif mut == "add_pooled_rank":
        m.append("z = §Add()([z, §GlobalMaxPooling1D()(z)])   # average + max summary" if fault else
                 "z = §Add()([§GlobalAveragePooling1D()(z), §GlobalMaxPooling1D()(z)])   # average + max summary")
    else:
        m.append("z = §GlobalAveragePooling1D()(z)")
    m += [f'outputs = §Dense({C}, activation="softmax")(z)', 'model = ¤Model(inputs, outputs, name="tcn")']
    calls = ['model.compile(optimizer="adam", loss="sparse_categorical_crossentropy", metrics=["accuracy"])',
             f"model.fit({X}, {Y}, epochs=1, batch_size={bs}, validation_split=0.2, verbose={v})"]
    s = finish(p, head, [data, blk, m, summary(p), calls])
    fixes = {
        "residual_width": (f"keep the block width equal to the skip's {f} filters (or project x with a 1x1 Conv1D before the Add)", f"residual block of {f + 4} filters added to a {f}-channel skip"),
        "valid_padding_residual": ("use padding='causal' (or 'same') in the residual block so the branch keeps the sequence length of the skip", "padding='valid' shortens the branch, the residual Add gets unequal lengths"),
        "channels_first_data": (f"transpose the recordings to (samples, steps, sensors): {X}.transpose(0, 2, 1)", "sensor data exported channels-first (samples, sensors, steps)"),
        "input_steps": (f"declare Input(shape=({T}, {Fd})) like the recordings", f"Input declares {T + off} steps, the recordings have {T}"),
        "conv2d_on_sequence": ("use Conv1D on (steps, sensors) sequences", "Conv2D applied to a 3-D sequence batch"),
        "per_step_labels": (f"one label per recording for this classifier (shape ({N},)), or drop the pooling and predict per step", "per-step labels for a sequence classifier"),
        "raw_signal_not_framed": (f"frame the logged stream into (steps, sensors) windows: stream.reshape({N}, {T}, {Fd})", f"flat ({N}, {T * Fd}) stream fed to a model taking ({T}, {Fd}) windows"),
        "input_steps_features_swapped": (f"declare Input(shape=({T}, {Fd})) = (steps, sensors), not ({Fd}, {T})", "Input declares (sensors, steps)"),
        "rnn_after_flatten": ("remove the Flatten before the LSTM: it needs the (steps, channels) sequence", "LSTM after Flatten"),
        "residual_from_raw_input": (f"start the blocks from the projected z ({f} channels), not the raw {Fd}-sensor inputs", f"first residual block applied to the raw {Fd}-channel input: Add of {Fd} and {f} channels"),
        "add_pooled_rank": ("pool both branches over time before adding them (GlobalAveragePooling1D()(z) + GlobalMaxPooling1D()(z))", "Add of a (steps, channels) sequence and a pooled (channels,) vector"),
    }
    return (s,) + fixes[mut]


register(REG, "tcn", t_tcn, [
    ("residual_width", "layer_definition", "build"),
    ("valid_padding_residual", "layer_definition", "build"),
    ("channels_first_data", "data_preprocessing", "fit"),
    ("input_steps", "input_layer", "fit"),
    ("conv2d_on_sequence", "layer_combination", "build"),
    ("per_step_labels", "loss_label_mismatch", "loss"),
])
register(REG, "tcn", t_tcn, [   # fourth generation
    ("input_steps_features_swapped", "input_layer", "fit"),
    ("rnn_after_flatten", "layer_combination", "build"),
    ("residual_from_raw_input", "layer_combination", "build"),
    ("add_pooled_rank", "layer_combination", "loss"),
    ("raw_signal_not_framed", "data_preprocessing", "fit"),
])


def build_cases(env: str, framework: str, backend: str):
    return _build(REG, env, framework, backend, keras=True)
