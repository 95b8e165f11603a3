"""Facts from the user's training script, read with `ast` and never run.

A traceback says what went wrong where; the script says what the user meant. Whether an error is the data's
fault or the model's turns on facts only the script holds: the input shape the model declares, the layers and
their sizes, the loss, how many classes the labels have, how the data pipeline batches and reshapes. This module
reads them without executing anything: no import of the script's modules, no eval of its code. Values are
recovered by `ast.literal_eval`-style reading of literals and a small constant folder for module constants,
tuples built from names and the shapes of arrays the script makes with `np.random.rand(...)` and friends.

Scripts arrive in every state: notebooks exported to .py with `!pip` and `%magics` (or pasted as .ipynb JSON),
Python 2 prints, syntax newer than the reader's Python, fragments cut mid-statement. The reader drops what is not
Python and, when the rest still does not parse, parses it one top-level statement at a time, closing brackets left
open and turning the lines the parser rejects into `pass`, so one bad line costs only that line's facts. Line
numbers stay the script's. `read_source` never raises.
"""

from __future__ import annotations

import ast
import json
import re
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from typing import Any

Value = int | float | str | bool | tuple[Any, ...] | None
Shape = tuple[int | None, ...]
_Arr = tuple[Shape, str | None, str]  # an array the script makes: shape, dtype, how it was made


# --------------------------------------------------------------------------------------------------- the facts


@dataclass(frozen=True)
class Declared:
    """One declaration of the model's input: what the model expects, to compare with what the data is.

    `shape` is as written: per sample for Input/input_shape/input_dim/input_length, with the batch axis for
    batch_input_shape (and Input(batch_shape=...)) and build. An int where a tuple belongs (`Input(shape=20)`) is
    kept in `shape_int` with `shape` None, since that is itself a fault; `input_dim=20` on a Dense is both.
    """

    shape: Shape | None = None
    shape_int: int | None = None
    via: str = "Input"  # Input | input_shape | input_dim | batch_input_shape | input_length | build
    line: int = 0
    layer: str | None = None  # the class carrying it: "Input", "InputLayer", "Dense", "LSTM", ...


@dataclass(frozen=True)
class LayerCall:
    """One layer constructed in the script, with its positional arguments under their canonical names."""

    framework: str = "keras"  # keras | torch
    cls: str = ""
    kind: str = "other"
    args: dict[str, Value] = field(default_factory=dict)
    name: str | None = None  # Keras name= or, for torch, the attribute it is bound to (module names are those)
    line: int = 0
    in_sequential: bool = False
    wrapper: str | None = None  # kind of the Bidirectional/TimeDistributed wrapping it
    assigned_to: str | None = None  # "self.fc1", "dense": what the layer object itself was bound to


@dataclass(frozen=True)
class Dataset:
    """A tf.data dataset or DataLoader held by a variable (or fed inline), with its method chain in order.

    `ops` holds "batch" whenever the data is batched: for a DataLoader or a Keras *_dataset_from_directory that
    is unless batch_size=None, so "batch" not in ops means unbatched. batch_size is the library default when
    the call leaves it out (DataLoader 1), None when unbatched or not readable.
    """

    var: str = ""
    origin: str = "other"  # from_tensor_slices | from_generator | tfds | DataLoader | other
    ops: tuple[str, ...] = ()
    batch_size: int | None = None
    drop_last: bool | None = None
    collate_fn: bool = False
    line: int = 0
    derived_from: str | None = None  # the dataset variable this one was made from
    slices: tuple[str, ...] = ()  # from_tensor_slices((x, y)): the variables sliced, in order


@dataclass(frozen=True)
class FitCall:
    """A training, evaluation or prediction call, with its data arguments as source text."""

    method: str = "fit"
    x: str | None = None
    y: str | None = None
    validation_data: str | None = None
    batch_size: int | None = None
    line: int = 0
    receiver: str | None = None  # the model variable


@dataclass(frozen=True)
class DataOp:
    """A reshape, dtype change or axis edit the script applies to an array or tensor."""

    var: str | None = None
    op: str = ""
    args: tuple[Any, ...] = ()  # read values; what cannot be read is kept as source text
    line: int = 0
    target: str | None = None  # the variable the result is assigned to
    scope: str | None = None  # enclosing function: "forward", "call", "preprocess", ... None at module level


@dataclass(frozen=True)
class ArrayDecl:
    """An array the script makes with a known shape (`np.random.rand(24, 30, 30)`): what the data really is."""

    var: str = ""
    shape: Shape = ()
    dtype: str | None = None
    via: str = ""
    line: int = 0


@dataclass(frozen=True)
class Operand:
    """What made one tensor a merge layer combines: the model's Input, a layer applied to something, another merge."""

    var: str = ""
    made_by: str = "other"  # input | layer | merge | other
    cls: str | None = None  # the layer class, for made_by "layer"
    units: int | None = None  # its units/filters/out size, when written as an int


@dataclass(frozen=True)
class Merge:
    """A functional merge, `Add()([a, b])` or `layers.concatenate([a, b])`, with what made each operand."""

    cls: str = ""
    operands: tuple[Operand, ...] = ()
    line: int = 0


@dataclass(frozen=True)
class SourceFacts:
    """Everything read from one script. Every field has a default so partial reads are still facts."""

    declared_inputs: tuple[Declared, ...] = ()
    layers: tuple[LayerCall, ...] = ()
    losses: tuple[str, ...] = ()
    loss_args: dict[str, dict[str, Value]] = field(default_factory=dict)
    num_classes: tuple[int, ...] = ()
    class_sources: tuple[tuple[int, str], ...] = ()
    datasets: tuple[Dataset, ...] = ()
    fit_calls: tuple[FitCall, ...] = ()
    data_ops: tuple[DataOp, ...] = ()
    models: tuple[str, ...] = ()
    arrays: tuple[ArrayDecl, ...] = ()
    frameworks: tuple[str, ...] = ()
    merges: tuple[Merge, ...] = ()
    parse_ok: bool = True


# --------------------------------------------------------------------------------------------------- tables

_KERAS_LAYERS = frozenset(
    """Dense EinsumDense Conv1D Conv2D Conv3D Convolution1D Convolution2D Convolution3D Conv1DTranspose
    Conv2DTranspose Conv3DTranspose SeparableConv1D SeparableConv2D DepthwiseConv1D DepthwiseConv2D LSTM GRU
    SimpleRNN RNN ConvLSTM1D ConvLSTM2D ConvLSTM3D CuDNNLSTM CuDNNGRU LSTMCell GRUCell SimpleRNNCell
    StackedRNNCells Bidirectional TimeDistributed Embedding Flatten Reshape Permute RepeatVector MaxPooling1D
    MaxPooling2D MaxPooling3D MaxPool1D MaxPool2D MaxPool3D AveragePooling1D AveragePooling2D AveragePooling3D
    AvgPool1D AvgPool2D AvgPool3D GlobalAveragePooling1D GlobalAveragePooling2D GlobalAveragePooling3D
    GlobalMaxPooling1D GlobalMaxPooling2D GlobalMaxPooling3D GlobalAvgPool1D GlobalAvgPool2D GlobalAvgPool3D
    GlobalMaxPool1D GlobalMaxPool2D GlobalMaxPool3D BatchNormalization LayerNormalization GroupNormalization
    UnitNormalization Dropout SpatialDropout1D SpatialDropout2D SpatialDropout3D GaussianDropout GaussianNoise
    AlphaDropout ActivityRegularization Activation ReLU LeakyReLU PReLU ELU Softmax Concatenate Add Subtract
    Multiply Average Maximum Minimum Dot concatenate add subtract multiply average maximum minimum dot Input
    InputLayer Lambda Masking Attention AdditiveAttention MultiHeadAttention Normalization Rescaling Resizing
    CenterCrop RandomFlip RandomRotation RandomZoom RandomCrop RandomContrast RandomTranslation TextVectorization
    StringLookup IntegerLookup CategoryEncoding Hashing Discretization ZeroPadding1D ZeroPadding2D ZeroPadding3D
    Cropping1D Cropping2D Cropping3D UpSampling1D UpSampling2D UpSampling3D Identity""".split()
)
_KERAS_FUNCTIONAL_LOWER = frozenset("concatenate add subtract multiply average maximum minimum dot".split())
_TORCH_LAYERS = frozenset(
    """Linear Bilinear LazyLinear Identity Conv1d Conv2d Conv3d ConvTranspose1d ConvTranspose2d ConvTranspose3d
    LazyConv1d LazyConv2d LazyConv3d LSTM GRU RNN LSTMCell GRUCell RNNCell Embedding EmbeddingBag BatchNorm1d
    BatchNorm2d BatchNorm3d LazyBatchNorm1d LazyBatchNorm2d SyncBatchNorm LayerNorm GroupNorm InstanceNorm1d
    InstanceNorm2d InstanceNorm3d LocalResponseNorm Dropout Dropout1d Dropout2d Dropout3d AlphaDropout Flatten
    Unflatten MaxPool1d MaxPool2d MaxPool3d AvgPool1d AvgPool2d AvgPool3d AdaptiveAvgPool1d AdaptiveAvgPool2d
    AdaptiveAvgPool3d AdaptiveMaxPool1d AdaptiveMaxPool2d AdaptiveMaxPool3d ReLU ReLU6 LeakyReLU PReLU ELU GELU
    SELU SiLU Sigmoid Tanh Softmax LogSoftmax Softplus Hardtanh Mish MultiheadAttention Transformer
    TransformerEncoder TransformerEncoderLayer TransformerDecoder TransformerDecoderLayer Upsample PixelShuffle
    ZeroPad2d ConstantPad1d ConstantPad2d ReflectionPad2d""".split()
)
_TORCH_NOT_LAYERS = frozenset("Module Sequential ModuleList ModuleDict Parameter ParameterList ParameterDict".split())

_KIND_EXACT = {
    "Dense": "dense",
    "Linear": "linear",
    "LazyLinear": "linear",
    "LSTM": "lstm",
    "CuDNNLSTM": "lstm",
    "GRU": "gru",
    "CuDNNGRU": "gru",
    "SimpleRNN": "simple_rnn",
    "RNN": "rnn",
    "Embedding": "embedding",
    "EmbeddingBag": "embedding",
    "Flatten": "flatten",
    "Reshape": "reshape",
    "Unflatten": "reshape",
    "BatchNormalization": "batchnorm",
    "SyncBatchNorm": "batchnorm",
    "LayerNormalization": "layernorm",
    "LayerNorm": "layernorm",
    "Bidirectional": "bidirectional",
    "TimeDistributed": "time_distributed",
    "Concatenate": "concatenate",
    "concatenate": "concatenate",
    "Add": "add",
    "add": "add",
    "Input": "input",
    "InputLayer": "input",
}
_CONV_RE = re.compile(r"^(?:Lazy|Separable|Depthwise)?Conv(?:olution)?(?:Transpose)?([123])[dD](?:Transpose)?$")
_POOL_RE = re.compile(r"^(?:Max|Average|Avg|Adaptive(?:Avg|Max)|FractionalMax|LP)Pool(?:ing)?([123])[dD]$")
_GPOOL_RE = re.compile(r"^Global(?:Average|Avg|Max)Pool(?:ing)?([123])D$")
_BN_RE = re.compile(r"^(?:Lazy)?BatchNorm[123]d$")

# Positional parameters, by class and then by (framework, kind).
_POS_BY_CLS: dict[str, tuple[str, ...]] = {
    "Input": ("shape", "batch_size", "name", "dtype"),
    "InputLayer": ("shape",),
    "Concatenate": ("axis",),
    "concatenate": ("inputs", "axis"),
    "add": ("inputs",),
    "subtract": ("inputs",),
    "multiply": ("inputs",),
    "average": ("inputs",),
    "dot": ("inputs", "axes"),
    "Dot": ("axes",),
    "MultiHeadAttention": ("num_heads", "key_dim"),
    "MultiheadAttention": ("embed_dim", "num_heads"),
    "Activation": ("activation",),
    "Permute": ("dims",),
    "RepeatVector": ("n",),
    "Lambda": ("function",),
    "Resizing": ("height", "width"),
    "Rescaling": ("scale", "offset"),
    "CenterCrop": ("height", "width"),
    "TextVectorization": ("max_tokens",),
    "GroupNorm": ("num_groups", "num_channels"),
    "TransformerEncoderLayer": ("d_model", "nhead"),
    "TransformerDecoderLayer": ("d_model", "nhead"),
    "LSTMCell": ("input_size", "hidden_size"),
    "GRUCell": ("input_size", "hidden_size"),
    "RNNCell": ("input_size", "hidden_size"),
    "Upsample": ("size", "scale_factor"),
    "Softmax": ("dim",),
    "LogSoftmax": ("dim",),
    "Bilinear": ("in1_features", "in2_features", "out_features"),
    "Normalization": ("axis",),
    "Masking": ("mask_value",),
    "DepthwiseConv2D": ("kernel_size", "strides", "padding"),
    "DepthwiseConv1D": ("kernel_size", "strides", "padding"),
    "LazyLinear": ("out_features",),
    **{f"Adaptive{k}Pool{n}d": ("output_size",) for k in ("Avg", "Max") for n in (1, 2, 3)},
    "EmbeddingBag": ("num_embeddings", "embedding_dim"),
}
_POS_BY_KIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("keras", "dense"): ("units",),
    ("torch", "linear"): ("in_features", "out_features", "bias"),
    ("keras", "conv1d"): ("filters", "kernel_size", "strides", "padding"),
    ("keras", "conv2d"): ("filters", "kernel_size", "strides", "padding"),
    ("keras", "conv3d"): ("filters", "kernel_size", "strides", "padding"),
    ("torch", "conv1d"): ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    ("torch", "conv2d"): ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    ("torch", "conv3d"): ("in_channels", "out_channels", "kernel_size", "stride", "padding"),
    ("keras", "lstm"): ("units",),
    ("keras", "gru"): ("units",),
    ("keras", "simple_rnn"): ("units",),
    ("keras", "rnn"): ("cell",),
    ("torch", "lstm"): ("input_size", "hidden_size", "num_layers"),
    ("torch", "gru"): ("input_size", "hidden_size", "num_layers"),
    ("torch", "rnn"): ("input_size", "hidden_size", "num_layers"),
    ("keras", "embedding"): ("input_dim", "output_dim"),
    ("torch", "embedding"): ("num_embeddings", "embedding_dim", "padding_idx"),
    ("keras", "reshape"): ("target_shape",),
    ("torch", "reshape"): ("dim", "unflattened_size"),
    ("keras", "flatten"): ("data_format",),
    ("torch", "flatten"): ("start_dim", "end_dim"),
    ("keras", "pool1d"): ("pool_size", "strides", "padding"),
    ("keras", "pool2d"): ("pool_size", "strides", "padding"),
    ("keras", "pool3d"): ("pool_size", "strides", "padding"),
    ("torch", "pool1d"): ("kernel_size", "stride", "padding"),
    ("torch", "pool2d"): ("kernel_size", "stride", "padding"),
    ("torch", "pool3d"): ("kernel_size", "stride", "padding"),
    ("keras", "global_pool1d"): ("data_format",),
    ("keras", "global_pool2d"): ("data_format",),
    ("keras", "dropout"): ("rate",),
    ("torch", "dropout"): ("p",),
    ("keras", "batchnorm"): ("axis",),
    ("torch", "batchnorm"): ("num_features",),
    ("keras", "layernorm"): ("axis",),
    ("torch", "layernorm"): ("normalized_shape",),
    ("keras", "bidirectional"): ("layer",),
    ("keras", "time_distributed"): ("layer",),
}

_KERAS_LOSS_CLASSES = {
    "BinaryCrossentropy": "binary_crossentropy",
    "BinaryFocalCrossentropy": "binary_focal_crossentropy",
    "CategoricalCrossentropy": "categorical_crossentropy",
    "CategoricalFocalCrossentropy": "categorical_focal_crossentropy",
    "SparseCategoricalCrossentropy": "sparse_categorical_crossentropy",
    "MeanSquaredError": "mse",
    "MeanAbsoluteError": "mae",
    "MeanAbsolutePercentageError": "mape",
    "MeanSquaredLogarithmicError": "msle",
    "Huber": "huber",
    "Hinge": "hinge",
    "SquaredHinge": "squared_hinge",
    "CategoricalHinge": "categorical_hinge",
    "KLDivergence": "kl_divergence",
    "LogCosh": "log_cosh",
    "Poisson": "poisson",
    "CosineSimilarity": "cosine_similarity",
    "CTC": "ctc",
    "Dice": "dice",
    "Tversky": "tversky",
}
_LOSS_STRINGS = {
    "mean_squared_error": "mse",
    "mse": "mse",
    "mean_absolute_error": "mae",
    "mae": "mae",
    "mean_absolute_percentage_error": "mape",
    "mape": "mape",
    "mean_squared_logarithmic_error": "msle",
    "msle": "msle",
    "kld": "kl_divergence",
    "kl_divergence": "kl_divergence",
    "kullback_leibler_divergence": "kl_divergence",
    "logcosh": "log_cosh",
    "log_cosh": "log_cosh",
    "huber_loss": "huber",
    "huber": "huber",
    "binary_crossentropy": "binary_crossentropy",
    "categorical_crossentropy": "categorical_crossentropy",
    "sparse_categorical_crossentropy": "sparse_categorical_crossentropy",
    "binary_focal_crossentropy": "binary_focal_crossentropy",
    "categorical_focal_crossentropy": "categorical_focal_crossentropy",
    "hinge": "hinge",
    "squared_hinge": "squared_hinge",
    "categorical_hinge": "categorical_hinge",
    "poisson": "poisson",
    "cosine_similarity": "cosine_similarity",
    "ctc": "ctc",
}
_TORCH_LOSS_CLASSES = {
    "CrossEntropyLoss": "cross_entropy",
    "NLLLoss": "nll",
    "BCELoss": "bce",
    "BCEWithLogitsLoss": "bce_with_logits",
    "MSELoss": "mse",
    "L1Loss": "mae",
    "SmoothL1Loss": "smooth_l1",
    "HuberLoss": "huber",
    "KLDivLoss": "kl_divergence",
    "CTCLoss": "ctc",
    "CosineEmbeddingLoss": "cosine_embedding",
    "MarginRankingLoss": "margin_ranking",
    "MultiLabelSoftMarginLoss": "multilabel_soft_margin",
    "MultiLabelMarginLoss": "multilabel_margin",
    "MultiMarginLoss": "multi_margin",
    "PoissonNLLLoss": "poisson_nll",
    "GaussianNLLLoss": "gaussian_nll",
    "TripletMarginLoss": "triplet_margin",
    "HingeEmbeddingLoss": "hinge_embedding",
    "SoftMarginLoss": "soft_margin",
}
_TORCH_LOSS_FUNCS = {
    "cross_entropy": "cross_entropy",
    "nll_loss": "nll",
    "mse_loss": "mse",
    "l1_loss": "mae",
    "binary_cross_entropy": "bce",
    "binary_cross_entropy_with_logits": "bce_with_logits",
    "smooth_l1_loss": "smooth_l1",
    "huber_loss": "huber",
    "kl_div": "kl_divergence",
    "ctc_loss": "ctc",
    "cosine_embedding_loss": "cosine_embedding",
    "margin_ranking_loss": "margin_ranking",
    "multilabel_soft_margin_loss": "multilabel_soft_margin",
    "multi_margin_loss": "multi_margin",
    "poisson_nll_loss": "poisson_nll",
    "gaussian_nll_loss": "gaussian_nll",
    "triplet_margin_loss": "triplet_margin",
    "hinge_embedding_loss": "hinge_embedding",
    "soft_margin_loss": "soft_margin",
}
_TF_NN_LOSSES = frozenset(
    {
        "softmax_cross_entropy_with_logits",
        "softmax_cross_entropy_with_logits_v2",
        "sparse_softmax_cross_entropy_with_logits",
        "sigmoid_cross_entropy_with_logits",
    }
)

# Keyword arguments of a loss function call that are its data, not its configuration.
_LOSS_DATA_ARGS = frozenset("labels logits input target y_true y_pred inputs targets predictions output".split())
_FIT_METHODS = frozenset(
    "fit evaluate predict train_on_batch test_on_batch predict_on_batch fit_generator evaluate_generator "
    "predict_generator".split()
)
_NOT_MODELS_RE = re.compile(r"scaler|encoder|tokeni[sz]er|vectori[sz]er|imputer|pca|datagen|normali[sz]er|^le$|^ohe$")
_DS_METHODS = frozenset(
    "batch padded_batch ragged_batch unbatch rebatch map shuffle repeat prefetch cache take skip filter flat_map "
    "interleave window apply with_options enumerate concatenate shard".split()
)
_DS_DIR_FUNCS = {
    "image_dataset_from_directory": 32,
    "text_dataset_from_directory": 32,
    "audio_dataset_from_directory": 32,
    "timeseries_dataset_from_array": 128,
}
_DS_OTHER_CTORS = frozenset(
    "range zip list_files TFRecordDataset TextLineDataset FixedLengthRecordDataset make_csv_dataset "
    "from_tensors sample_from_datasets choose_from_datasets".split()
)
_LABEL_NAME_RE = re.compile(
    r"^(?:y|Y|labels?|targets?|tgts?|lbls?|classes|[yY]_\w+|\w+_labels?|\w+_targets?|\w+_y|\w+_Y|y\d)$"
)
_CLASS_CONST_RE = re.compile(
    r"^(?:n|num|nb|no|number|number_of|n_of|total)_?(?:classes|class|labels|categories|cls|outputs?)$|^classes$", re.I
)
# The arrays keras.datasets.X.load_data() returns: ((x_train, y_train), (x_test, y_test)) shapes and dtypes.
_KERAS_DATASETS: dict[
    str, tuple[tuple[tuple[Shape, str], tuple[Shape, str]], tuple[tuple[Shape, str], tuple[Shape, str]]]
] = {
    "mnist": ((((60000, 28, 28), "uint8"), ((60000,), "uint8")), (((10000, 28, 28), "uint8"), ((10000,), "uint8"))),
    "fashion_mnist": (
        (((60000, 28, 28), "uint8"), ((60000,), "uint8")),
        (((10000, 28, 28), "uint8"), ((10000,), "uint8")),
    ),
    "cifar10": (
        (((50000, 32, 32, 3), "uint8"), ((50000, 1), "uint8")),
        (((10000, 32, 32, 3), "uint8"), ((10000, 1), "uint8")),
    ),
    "cifar100": (
        (((50000, 32, 32, 3), "uint8"), ((50000, 1), "int64")),
        (((10000, 32, 32, 3), "uint8"), ((10000, 1), "int64")),
    ),
    "boston_housing": ((((404, 13), "float64"), ((404,), "float64")), (((102, 13), "float64"), ((102,), "float64"))),
}
_KERAS_DATASET_CLASSES = {"mnist": 10, "fashion_mnist": 10, "cifar10": 10, "cifar100": 100}
_CLASS_LIST_RE = re.compile(r"^(?:classes|class_names|CLASSES|CLASS_NAMES|labels_names|label_names)$")

_DTYPE_ROOTS = frozenset({"numpy", "torch", "tensorflow", "jax", "jnp", "keras"})
_DTYPES = frozenset(
    "float16 float32 float64 bfloat16 int8 int16 int32 int64 uint8 bool complex64 complex128 half double long "
    "float int short cfloat string object".split()
)
_TORCH_DTYPE_ALIASES = {"float": "float32", "double": "float64", "half": "float16", "long": "int64", "int": "int32"}
_TENSOR_TYPES = {
    "FloatTensor": "float32",
    "DoubleTensor": "float64",
    "LongTensor": "int64",
    "IntTensor": "int32",
    "HalfTensor": "float16",
    "BoolTensor": "bool",
    "ByteTensor": "uint8",
}
_METHOD_CASTS = {"double": "float64", "float": "float32", "long": "int64", "int": "int32", "half": "float16"}

_DEFAULT_ALIASES = {
    "tf": "tensorflow",
    "np": "numpy",
    "nn": "torch.nn",
    "F": "torch.nn.functional",
    "torch": "torch",
    "keras": "keras",
    "layers": "keras.layers",
    "K": "keras.backend",
    "tfds": "tensorflow_datasets",
    "optim": "torch.optim",
    "tensorflow": "tensorflow",
    "numpy": "numpy",
}

_DATA_OP_NAMES = frozenset(
    "reshape expand_dims squeeze unsqueeze stack concatenate cat concat vstack hstack dstack tensor as_tensor "
    "from_numpy convert_to_tensor asarray array cast permute transpose moveaxis movedim swapaxes resize "
    "resize_with_pad resize_with_crop_or_pad interpolate to_categorical one_hot argmax flatten ravel view astype "
    "to type pad_sequences".split()
)
# The last names of every call `_other_call` reads: anything else is skipped at once.
_OTHER_NAMES = (
    frozenset({"Model", "compile", "build", "TensorDataset", "from_tensor_slices"})
    | _FIT_METHODS
    | _DATA_OP_NAMES
    | set(_TENSOR_TYPES)
    | set(_METHOD_CASTS)
    | set(_KERAS_LOSS_CLASSES)
    | set(_LOSS_STRINGS)
    | set(_TORCH_LOSS_FUNCS)
    | _TF_NN_LOSSES
)
_APP_RE = re.compile(r"^(?:\w+\.)*applications\.|^torchvision\.models\.|^timm\.create_model")

# Nodes with nothing below them worth reading: the walk does not descend into them.
_LEAVES = frozenset(
    {
        ast.Name,
        ast.Constant,
        ast.Load,
        ast.Store,
        ast.Del,
        ast.Import,
        ast.ImportFrom,
        ast.Pass,
        ast.Break,
        ast.Continue,
        ast.Global,
        ast.Nonlocal,
        ast.arguments,
        ast.alias,
        str,
        int,
    }
)
_CREATORS = frozenset(
    "rand randn random random_sample randint integers normal uniform zeros ones empty full arange linspace "
    "zeros_like ones_like choice permutation".split()
)
_LIBRARY_ROOTS = frozenset({"torch", "tensorflow", "keras", "tf_keras", "numpy", "tensorflow_datasets", "jax"})
_FOLDABLE_CALLS = frozenset({"len", "int", "tuple", "list", "array", "asarray", "prod"})
_RANDINT_NAMES = frozenset({"randint", "integers", "choice", "uniform"})
# Last names of the calls an array of known shape can come out of (creators, wrappers, shape-keeping methods).
_ARRAY_CALLS = frozenset(
    "rand randn random random_sample normal uniform randint integers choice binomial zeros ones empty full "
    "from_numpy tensor as_tensor convert_to_tensor constant array asarray cast expand_dims unsqueeze reshape view "
    "transpose permute astype double float long int half to type copy numpy cpu detach contiguous clone "
    "requires_grad_".split()
)
_ARRAY_EXPRS = frozenset({ast.Call, ast.Name, ast.Subscript, ast.BinOp})
_UNKNOWN: Any = type("_Unknown", (), {"__repr__": lambda self: "<unknown>"})()
_MAX_EVAL_DEPTH = 24
_MAX_TEXT = 120


# --------------------------------------------------------------------------------------------------- entry points


def read_source(code: str | None) -> SourceFacts | None:
    """Read one training script into SourceFacts; None for no script. Never raises on any text."""
    if code is None or not isinstance(code, str) or not code.strip():
        return None
    try:
        if code.lstrip().startswith("{") and '"cells"' in code:
            code = _ipynb_code(code) or code
        tree, ok, lines = _parse_tolerant(code)
        if tree is None:
            return SourceFacts(parse_ok=False)
        facts = _Reader(tree, lines).read(parse_ok=ok)
        return replace(facts, merges=_merges(tree))
    except (RecursionError, MemoryError):
        return SourceFacts(parse_ok=False)
    except Exception:  # noqa: BLE001 - a reader of untrusted text must not take the diagnosis down with it
        return SourceFacts(parse_ok=False)


_MERGE_CLASSES = frozenset({"Add", "Subtract", "Multiply", "Average", "Maximum", "Minimum", "Concatenate", "Dot"})
_MERGE_FUNCTIONS = frozenset({"add", "subtract", "multiply", "average", "maximum", "minimum", "concatenate", "dot"})
_UNIT_ARGS = ("units", "filters", "output_dim")


def _merges(tree: ast.Module) -> tuple[Merge, ...]:
    """The functional graph's merges, each operand traced one step back through the assignments before it: a
    skip connection that adds the raw Input is another mistake than two branches of different widths."""
    made: dict[str, Operand] = {}
    merges: list[Merge] = []
    assigns = sorted((n for n in ast.walk(tree) if isinstance(n, ast.Assign)), key=lambda n: n.lineno)
    for node in assigns:
        if len(node.targets) != 1 or not isinstance(node.targets[0], ast.Name):
            continue
        var, value = node.targets[0].id, node.value
        merged = _merge_call(value)
        if merged is not None:
            cls, names = merged
            merges.append(Merge(cls, tuple(made.get(n, Operand(n)) for n in names), node.lineno))
            made[var] = Operand(var, "merge", cls)
        elif isinstance(value, ast.Call) and _last_name(value.func) in ("Input", "InputLayer"):
            made[var] = Operand(var, "input")
        elif isinstance(value, ast.Call) and isinstance(value.func, ast.Call):
            layer = value.func
            units = layer.args[0].value if layer.args and isinstance(layer.args[0], ast.Constant) else None
            for kw in layer.keywords:
                if kw.arg in _UNIT_ARGS and isinstance(kw.value, ast.Constant):
                    units = kw.value.value
            width = units if isinstance(units, int) and not isinstance(units, bool) and units > 0 else None
            made[var] = Operand(var, "layer", _last_name(layer.func), width)
    return tuple(merges)


def _merge_call(value: ast.expr) -> tuple[str, list[str]] | None:
    """`Add()([a, b])` or `add([a, b])`: the merge's class and its operands' variable names."""
    if not isinstance(value, ast.Call) or not value.args or not isinstance(value.args[0], ast.List | ast.Tuple):
        return None
    names = [e.id for e in value.args[0].elts if isinstance(e, ast.Name)]
    if len(names) != len(value.args[0].elts) or len(names) < 2:
        return None
    if isinstance(value.func, ast.Call) and _last_name(value.func.func) in _MERGE_CLASSES:
        return str(_last_name(value.func.func)), names
    name = _last_name(value.func)
    if name in _MERGE_FUNCTIONS:
        return name.capitalize(), names
    return None


def _last_name(node: ast.expr) -> str | None:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def summary(facts: SourceFacts | None) -> dict[str, object]:
    """A flat, JSON-able view of the facts, for debugging and for logs: one key per field, scalars and strings."""
    if facts is None:
        return {"present": False}
    return {
        "present": True,
        "parse_ok": facts.parse_ok,
        "frameworks": list(facts.frameworks),
        "models": list(facts.models),
        "declared_inputs": [
            f"{_fmt(d.shape) if d.shape is not None else d.shape_int} via {d.via} ({d.layer}) @{d.line}"
            for d in facts.declared_inputs
        ],
        "layers": [
            f"{la.framework}:{la.cls}[{la.kind}]({_fmt_args(la.args)})" + (" seq" if la.in_sequential else "")
            for la in facts.layers
        ],
        "layer_kinds": [la.kind for la in facts.layers],
        "n_layers": len(facts.layers),
        "losses": list(facts.losses),
        "loss_args": [f"{k}({_fmt_args(d)})" for k, d in facts.loss_args.items()],
        "num_classes": list(facts.num_classes),
        "class_sources": [f"{n} from {via}" for n, via in facts.class_sources],
        "datasets": [
            f"{d.var}: {d.origin} -> {'.'.join(d.ops) or '-'} batch={d.batch_size} drop_last={d.drop_last}"
            + (" collate_fn" if d.collate_fn else "")
            for d in facts.datasets
        ],
        "fit_calls": [
            f"{f.receiver}.{f.method}(x={f.x}, y={f.y}, validation_data={f.validation_data}, batch_size={f.batch_size})"
            for f in facts.fit_calls
        ],
        "data_ops": [
            f"{o.target + ' = ' if o.target else ''}{o.op}({o.var}, {', '.join(map(repr, o.args))})"
            + (f" in {o.scope}" if o.scope else "")
            for o in facts.data_ops
        ],
        "arrays": [f"{a.var}{_fmt(a.shape)} {a.dtype} via {a.via}" for a in facts.arrays],
    }


def _fmt(shape: Shape | None) -> str:
    if shape is None:
        return "None"
    return "(" + ", ".join("None" if d is None else str(d) for d in shape) + ("," if len(shape) == 1 else "") + ")"


def _fmt_args(args: dict[str, Value]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in args.items())


# --------------------------------------------------------------------------------------------------- parsing

_MAGIC_RE = re.compile(r"^(\s*)(?:[!%]|[A-Za-z_]\w*\s*=\s*[!%](?!=)|[\w.]+\?\??\s*$|\?\??[\w.]+\s*$)")
_CELL_MAGIC_KEEP = frozenset({"time", "timeit", "capture", "prun", "debug"})
_CELL_MARK_RE = re.compile(r"^#\s*(?:In\s*\[|%%)")
_BLOCK_CONT_RE = re.compile(r"^(?:else|elif|except|finally|case)\b|^[)\]}]")
# A column-0 line that reads as a new statement even though a bracket above it was never closed.
_STMT_START_RE = re.compile(
    r"^(?:import|from|def|class|if|for|while|with|try|return|print|async|@)\b|^[A-Za-z_][\w.]*\s*(?:=[^=]|\()"
)
_OPENERS = {"(": ")", "[": "]", "{": "}"}
_MAX_CHUNK_TRIES = 40
_MAX_PARSES = 600  # parse attempts for one script's repairs, all statements together


def _parse_tolerant(code: str) -> tuple[ast.Module | None, bool, list[str]]:
    """Parse as much of the script as parses: (tree, whether it all did, the lines the tree was parsed from).

    A first plain parse serves the common case. Failing that, notebook lines that are not Python become `pass`
    and tabs in indentation become spaces. If it still fails, the script is cut into top-level statements, each
    parsed on its own: a statement left open (a snippet cut mid-call) gets its brackets closed, a line the parser
    rejects becomes `pass` (a rejected header takes its body with it), a line rejected twice is dropped, and a
    statement beyond repair is dropped whole. Line numbers never move, so facts keep their true lines.
    """
    text = code.replace("\x00", "").replace("\r\n", "\n").replace("\r", "\n")
    if text.startswith("\ufeff"):
        text = text[1:]
    tree = _try_parse(text)
    if isinstance(tree, ast.Module):
        return tree, True, text.split("\n")
    lines, tabs = _clean_lines(text.split("\n"))
    tree = _try_parse("\n".join(lines))
    if isinstance(tree, ast.Module):
        return tree, not tabs, lines
    body: list[ast.stmt] = []
    budget = [_MAX_PARSES]
    for start, end in _chunks(lines):
        sub = _parse_chunk(lines, start, end, budget)
        if sub is not None:
            body.extend(sub.body)
    return ast.Module(body=body, type_ignores=[]), False, lines


def _ipynb_code(text: str) -> str | None:
    """The code cells of a notebook pasted as .ipynb JSON, in order, one blank line apart; None if it is not one."""
    try:
        nb = json.loads(text)
    except ValueError:
        return None
    cells = nb.get("cells") if isinstance(nb, dict) else None
    if not isinstance(cells, list):
        return None
    out: list[str] = []
    for cell in cells:
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        src = cell.get("source")
        if isinstance(src, list):
            src = "".join(x for x in src if isinstance(x, str))
        if isinstance(src, str):
            out.append(src.rstrip("\n"))
    return "\n\n".join(out) + "\n" if out else None


def _try_parse(text: str) -> ast.Module | tuple[int, str] | None:
    """The tree; or (1-based line, message) of a syntax error; or None when parsing failed otherwise."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.parse(text)
    except SyntaxError as e:
        return (e.lineno or 1), str(e.msg)
    except (ValueError, RecursionError, MemoryError, OverflowError):
        return None


def _clean_lines(lines: list[str]) -> tuple[list[str], bool]:
    """IPython-only lines (`!pip`, `%matplotlib`, `x = !ls`, `obj?`) become `pass`, non-Python cells (`%%bash`)
    blank lines, and tabs in indentation spaces; also whether any tab was changed."""
    out: list[str] = []
    skipping = False
    tabs = False
    for line in lines:
        if skipping:
            if _CELL_MARK_RE.match(line):
                skipping = False
            else:
                out.append("")
                continue
        stripped = line.lstrip()
        if stripped.startswith("%%"):
            word = stripped[2:].split(None, 1)[0] if stripped[2:].strip() else ""
            skipping = word not in _CELL_MAGIC_KEEP
            out.append("")
            continue
        lead = line[: len(line) - len(stripped)]
        if "\t" in lead:
            tabs = True
            lead = lead.expandtabs(8)
            line = lead + stripped
        m = _MAGIC_RE.match(line)
        if m and not stripped.startswith(("%=", "!=")):
            out.append(lead + "pass")
        else:
            out.append(line)
    return out, tabs


def _scan_line(line: str, stack: list[str], quote: str | None) -> str | None:
    """Track open brackets and strings across one line; returns the string still open at its end (triple only)."""
    i, n = 0, len(line)
    while i < n:
        c = line[i]
        if quote:
            if c == "\\":
                i += 2
                continue
            if line.startswith(quote, i):
                i += len(quote)
                quote = None
                continue
            i += 1
            continue
        if c == "#":
            break
        if c == '"' or c == "'":
            if line.startswith(c * 3, i):
                quote = c * 3
                i += 3
            else:
                quote = c
                i += 1
            continue
        if c in _OPENERS:
            stack.append(_OPENERS[c])
        elif c in ")]}" and stack:
            stack.pop()
        i += 1
    if quote is not None and len(quote) == 1 and not line.endswith("\\"):
        quote = None  # an unterminated one-line string ends with its line
    return quote


def _chunks(lines: list[str]) -> list[tuple[int, int]]:
    """(start, end) line ranges of top-level statements, by brackets and strings, for parsing one by one."""
    out: list[tuple[int, int]] = []
    start = 0
    stack: list[str] = []
    quote: str | None = None
    last_content = ""
    for i, line in enumerate(lines):
        if (
            i > start
            and quote is None
            and _is_top(line)
            and (not stack or _STMT_START_RE.match(line))
            and not last_content.startswith("@")
        ):
            out.append((start, i))
            start = i
            stack = []
        quote = _scan_line(line, stack, quote)
        if line.strip() and not line.lstrip().startswith("#"):
            last_content = line
    out.append((start, len(lines)))
    return out


def _parse_chunk(lines: list[str], start: int, end: int, budget: list[int]) -> ast.Module | None:
    """One top-level statement, repaired until it parses (or dropped); its line numbers are the script's."""
    chunk = lines[start:end]
    if not any(x.strip() for x in chunk):
        return None
    tried: set[int] = set()
    for attempt in range(_MAX_CHUNK_TRIES):
        if attempt:
            if budget[0] <= 0:  # a script broken everywhere: stop repairing, keep what parses as it is
                return None
            budget[0] -= 1
        src = "\n".join(chunk)
        res = _try_parse(src)
        if not isinstance(res, ast.Module):
            stack: list[str] = []
            quote: str | None = None
            for x in chunk:
                quote = _scan_line(x, stack, quote)
            if stack and quote is None:  # left open: close what was opened, innermost first
                closed = _try_parse(src + "\n" + "".join(reversed(stack)))
                if isinstance(closed, ast.Module):
                    res = closed
        if isinstance(res, ast.Module):
            if start:
                ast.increment_lineno(res, start)
            return res
        if res is None or not _repair(chunk, res[0] - 1, res[1], tried):
            return None
    return None


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" \t"))


def _is_top(line: str) -> bool:
    return bool(line) and not line[0].isspace() and line[0] != "#" and not _BLOCK_CONT_RE.match(line)


def _repair(chunk: list[str], i: int, msg: str, tried: set[int]) -> bool:
    """Neutralise the line a syntax error points at; False when there is nothing left to remove."""
    n = len(chunk)
    i = min(max(i, 0), n - 1)
    while i > 0 and not chunk[i].strip():  # errors at end of input point past the last real line
        i -= 1
    if not chunk[i].strip():
        return False
    ind = _indent(chunk[i])
    drop = i in tried or chunk[i].strip() == "pass" or "unexpected indent" in msg or "unindent" in msg
    tried.add(i)
    chunk[i] = "" if drop else chunk[i][:ind] + "pass"
    j = i + 1
    while j < n and (not chunk[j].strip() or _indent(chunk[j]) > ind):  # its body or continuation goes too
        chunk[j] = ""
        j += 1
    return True


# --------------------------------------------------------------------------------------------------- the reader


@dataclass
class _DS:
    var: str
    origin: str
    ops: list[str]
    batch_size: int | None
    drop_last: bool | None
    collate_fn: bool
    line: int
    derived_from: str | None = None
    slices: tuple[str, ...] = ()

    def copy(self) -> _DS:
        return replace(self, ops=list(self.ops))

    def freeze(self) -> Dataset:
        return Dataset(
            var=self.var,
            origin=self.origin,
            ops=tuple(self.ops),
            batch_size=self.batch_size,
            drop_last=self.drop_last,
            collate_fn=self.collate_fn,
            line=self.line,
            derived_from=self.derived_from,
            slices=self.slices,
        )


class _Reader:
    """Two passes over one tree: statements first (imports, constants, classes), then every expression."""

    def __init__(self, tree: ast.Module, lines: list[str]) -> None:
        self.tree = tree
        self.lines = lines
        self.aliases: dict[str, str] = {}
        self.qcache: dict[ast.AST, str | None] = {}  # nodes hash by identity
        self.handlers = self._handlers()
        self.stars: list[str] = []
        self.env: dict[str, list[tuple[int, Any]]] = {}
        self.dicts: dict[str, list[tuple[int, Any]]] = {}  # name -> [(line, {keyword: expr} or _UNKNOWN)]
        self.shapes: dict[str, list[tuple[int, _Arr | None]]] = {}
        self.var_ctor: dict[str, str] = {}
        self.keras_layer_classes: set[str] = set()
        self.keras_model_classes: set[str] = set()
        self.torch_classes: set[str] = set()
        self.imported: set[str] = set()  # "keras" / "torch"
        self.hint: str | None = None
        # main walk state
        self.func: str | None = None
        self.cls: str | None = None
        self.in_seq = False
        self.wrapper: str | None = None
        self.target: str | None = None
        self.direct: ast.AST | None = None
        self.direct_target: str | None = None
        self.spine: set[int] | None = None  # ids of the nodes whose value becomes the target's (made when asked)
        self.spine_of: ast.expr | None = None
        self.seq_vars: set[str] = set()
        # results
        self.declared: list[Declared] = []
        self.layers: list[tuple[int, int, LayerCall]] = []
        self.losses: list[str] = []
        self.loss_args: dict[str, dict[str, Value]] = {}
        self.class_sources: list[tuple[int, str]] = []
        self.ds_list: list[_DS] = []
        self.ds_vars: dict[str, int] = {}
        self.ds_factories: dict[str, _DS] = {}
        self.fits: list[FitCall] = []
        self.ops: list[DataOp] = []
        self.models: list[str] = []
        self.arrays: list[ArrayDecl] = []
        self.randints: list[tuple[str, int, int]] = []
        self.label_vars: set[str] = set()
        self.frameworks: list[str] = []

    # ---- driver

    def read(self, parse_ok: bool) -> SourceFacts:
        self._scan(self.tree.body)
        if self.hint is None and len(self.imported) == 1:
            self.hint = next(iter(self.imported))
        for stmt in self.tree.body:
            try:
                self._visit(stmt)
            except RecursionError:  # one absurdly nested statement costs only its own facts
                self.func = self.cls = self.wrapper = self.target = None
                self.in_seq = False
        for var, high, _line in self.randints:
            if var in self.label_vars or _LABEL_NAME_RE.match(var):
                self._classes(high, f"randint:{var}")
        layers = tuple(la for _, _, la in sorted(self.layers, key=lambda t: (t[0], t[1])))
        num = tuple(dict.fromkeys(n for n, _ in self.class_sources))
        fws = list(dict.fromkeys([la.framework for la in layers] + sorted(self.imported)))
        return SourceFacts(
            declared_inputs=tuple(sorted(self.declared, key=lambda d: d.line)),
            layers=layers,
            losses=tuple(self.losses),
            loss_args=self.loss_args,
            num_classes=num,
            class_sources=tuple(dict.fromkeys(self.class_sources)),
            datasets=tuple(d.freeze() for d in self.ds_list),
            fit_calls=tuple(self.fits),
            data_ops=tuple(self.ops),
            models=tuple(dict.fromkeys(self.models)),
            arrays=tuple(self.arrays),
            frameworks=tuple(fws),
            parse_ok=parse_ok,
        )

    # ---- pass 1: statements

    def _scan(self, body: list[ast.stmt]) -> None:
        for stmt in body:
            t = type(stmt)
            if t is ast.Import:
                for a in stmt.names:  # type: ignore[attr-defined]
                    self._note_import(a.name)
                    if a.asname:
                        self.aliases[a.asname] = a.name
                    else:
                        top = a.name.split(".")[0]
                        self.aliases[top] = top
            elif t is ast.ImportFrom:
                mod = stmt.module or ""  # type: ignore[attr-defined]
                if stmt.level:  # type: ignore[attr-defined]
                    continue
                self._note_import(mod)
                for a in stmt.names:  # type: ignore[attr-defined]
                    if a.name == "*":
                        self.stars.append(mod)
                    else:
                        self.aliases[a.asname or a.name] = f"{mod}.{a.name}"
            elif t is ast.Assign or t is ast.AnnAssign:
                value = stmt.value  # type: ignore[attr-defined]
                targets = stmt.targets if t is ast.Assign else [stmt.target]  # type: ignore[attr-defined]
                if value is not None:
                    for tgt in targets:
                        self._bind(tgt, value, stmt.lineno)
            elif t is ast.Expr and isinstance(stmt.value, ast.Call):  # type: ignore[attr-defined]
                self._scan_update(stmt.value, stmt.lineno)  # type: ignore[attr-defined]
            elif t is ast.AugAssign:
                self._unknown_targets(stmt.target, stmt.lineno)  # type: ignore[attr-defined]
            elif t is ast.For or t is ast.AsyncFor:
                self._unknown_targets(stmt.target, stmt.lineno)  # type: ignore[attr-defined]
                self._scan(stmt.body)  # type: ignore[attr-defined]
                self._scan(stmt.orelse)  # type: ignore[attr-defined]
            elif t is ast.FunctionDef or t is ast.AsyncFunctionDef:
                self._scan_defaults(stmt, stmt.args)  # type: ignore[arg-type, attr-defined]
                self._scan(stmt.body)  # type: ignore[attr-defined]
            elif t is ast.ClassDef:
                self._classify_class(stmt)  # type: ignore[arg-type]
                self._scan(stmt.body)  # type: ignore[attr-defined]
            elif t is ast.If or t is ast.While:
                self._scan(stmt.body)  # type: ignore[attr-defined]
                self._scan(stmt.orelse)  # type: ignore[attr-defined]
            elif t is ast.With or t is ast.AsyncWith:
                self._scan(stmt.body)  # type: ignore[attr-defined]
            elif t is ast.Try or t.__name__ == "TryStar":
                self._scan(stmt.body)  # type: ignore[attr-defined]
                for h in stmt.handlers:  # type: ignore[attr-defined]
                    self._scan(h.body)
                self._scan(stmt.orelse)  # type: ignore[attr-defined]
                self._scan(stmt.finalbody)  # type: ignore[attr-defined]
            elif t is ast.Match:
                for case in stmt.cases:  # type: ignore[attr-defined]
                    self._scan(case.body)

    def _scan_update(self, call: ast.Call, line: int) -> None:
        """`train_kwargs.update(cuda_kwargs)`: the keyword dict grows (or can no longer be read)."""
        f = call.func
        if not (isinstance(f, ast.Attribute) and f.attr == "update" and isinstance(f.value, ast.Name)):
            return
        name = f.value.id
        if name not in self.dicts:
            return
        base = self._lookup(self.dicts, name, line)
        new: Any = dict(base) if isinstance(base, dict) else _UNKNOWN
        for a in call.args:
            extra = self._lookup(self.dicts, a.id, line) if isinstance(a, ast.Name) else _dict_of(a)
            if isinstance(new, dict) and isinstance(extra, dict):
                new.update(extra)
            else:
                new = _UNKNOWN
        if isinstance(new, dict):
            for k in call.keywords:
                if k.arg:
                    new[k.arg] = k.value
        self.dicts[name].append((line, new))

    def _note_import(self, mod: str) -> None:
        top = mod.split(".")[0]
        if top in ("torch", "torchvision", "torchaudio", "torchtext", "lightning", "pytorch_lightning"):
            self.imported.add("torch")
        elif top in ("keras", "tensorflow", "tf_keras", "tensorflow_datasets"):
            self.imported.add("keras")

    def _scan_defaults(self, fn: ast.FunctionDef | ast.AsyncFunctionDef, args: ast.arguments) -> None:
        """Parameter defaults (`def build(input_shape=(28, 28, 1), num_classes=10)`) are constants too."""
        pos = args.posonlyargs + args.args
        for a, d in zip(pos[len(pos) - len(args.defaults) :], args.defaults, strict=False):
            self._bind_value(a.arg, d, fn.lineno)
        for a, kd in zip(args.kwonlyargs, args.kw_defaults, strict=False):
            if kd is not None:
                self._bind_value(a.arg, kd, fn.lineno)

    def _bind(self, tgt: ast.expr, value: ast.expr, line: int) -> None:
        if isinstance(tgt, ast.Name):
            self._bind_value(tgt.id, value, line)
        elif isinstance(tgt, (ast.Tuple, ast.List)):
            if isinstance(value, (ast.Tuple, ast.List)) and len(value.elts) == len(tgt.elts):
                for t, v in zip(tgt.elts, value.elts, strict=False):
                    self._bind(t, v, line)
            else:
                self._unknown_targets(tgt, line)
                self._bind_load_data(tgt, value, line)

    def _bind_load_data(self, tgt: ast.Tuple | ast.List, value: ast.expr, line: int) -> None:
        """`(x_train, y_train), (x_test, y_test) = mnist.load_data()`: shapes the library fixes."""
        if not (isinstance(value, ast.Call) and _call_name(value) == "load_data" and len(tgt.elts) == 2):
            return
        q = self._qual(value.func) or ""
        parts = q.split(".")
        name = parts[-2] if len(parts) >= 2 else ""
        known = _KERAS_DATASETS.get(name)
        if known is None or not ("datasets" in parts or parts[-2] in self.aliases):
            return
        for split, pair in zip(tgt.elts, known, strict=False):
            if not isinstance(split, (ast.Tuple, ast.List)) or len(split.elts) != 2:
                continue
            for var, (shape, dtype) in zip(split.elts, pair, strict=False):
                if isinstance(var, ast.Name):
                    self.shapes.setdefault(var.id, []).append((line, (shape, dtype, f"{name}.load_data")))
                    self.arrays.append(
                        ArrayDecl(var=var.id, shape=shape, dtype=dtype, via=f"{name}.load_data", line=line)
                    )
        if name in _KERAS_DATASET_CLASSES:
            self._classes(_KERAS_DATASET_CLASSES[name], f"dataset:{name}")

    def _bind_dict(self, name: str, value: ast.expr, line: int) -> None:
        """`train_kwargs = {"batch_size": 64}` (or dict(batch_size=64)): kept as keyword -> expression."""
        d = _dict_of(value)
        self.dicts.setdefault(name, []).append((line, d if d is not None else _UNKNOWN))

    def _bind_value(self, name: str, value: ast.expr, line: int) -> None:
        if type(value) is ast.Attribute:  # `layers = tf.keras.layers`, `Dense = keras.layers.Dense`: an alias
            q = self._qual(value)
            if q is not None and q.split(".", 1)[0] in _LIBRARY_ROOTS:
                self.aliases[name] = q
                return
        elif name in self.aliases and not self.aliases[name].startswith(tuple(_LIBRARY_ROOTS)):
            del self.aliases[name]
        if type(value) is ast.Dict or name in self.dicts:
            self._bind_dict(name, value, line)
        elif type(value) is ast.Call and _call_name(value) == "dict":
            self._bind_dict(name, value, line)
        v = self._ev(value, line)
        self.env.setdefault(name, []).append((line, v))
        if isinstance(v, int) and not isinstance(v, bool) and 1 < v <= 100000 and _CLASS_CONST_RE.match(name):
            self._classes(v, f"constant:{name}")
        elif isinstance(v, tuple) and _CLASS_LIST_RE.match(name) and 1 < len(v) <= 100000:
            self._classes(len(v), f"constant:{name}")
        tv = type(value)
        wanted = tv in _ARRAY_EXPRS and (not isinstance(value, ast.Call) or (_call_name(value) or "") in _ARRAY_CALLS)
        arr = self._array_of(value, line) if wanted else None
        self.shapes.setdefault(name, []).append((line, arr))
        if arr is not None:
            self.arrays.append(ArrayDecl(var=name, shape=arr[0], dtype=arr[1], via=arr[2], line=line))
        if isinstance(value, ast.Call):
            q = self._qual(value.func)
            if q:
                self.var_ctor[name] = q

    def _unknown_targets(self, tgt: ast.expr, line: int) -> None:
        for n in _names_in(tgt):
            self.env.setdefault(n, []).append((line, _UNKNOWN))
            self.shapes.setdefault(n, []).append((line, None))

    def _classify_class(self, node: ast.ClassDef) -> None:
        for b in node.bases:
            q = self._qual(b) or ""
            last = q.rsplit(".", 1)[-1]
            fw = _fw_of(q)
            if last == "LightningModule":
                self.torch_classes.add(node.name)
                return
            if last in self.torch_classes or (last == "Module" and (fw == "torch" or self.hint != "keras")):
                if last in self.torch_classes or fw == "torch" or "." not in q:
                    self.torch_classes.add(node.name)
                    return
            if last in self.keras_model_classes or (last == "Model" and fw != "torch"):
                self.keras_model_classes.add(node.name)
                return
            if last in self.keras_layer_classes or (last == "Layer" and fw != "torch"):
                self.keras_layer_classes.add(node.name)
                return

    # ---- names and values

    def _qual(self, node: ast.AST) -> str | None:
        """The dotted name an expression refers to, with import aliases resolved: `L.Dense` -> keras.layers.Dense.

        Memoised per node: the same callee is asked about by several readers (layers, losses, datasets, ops).
        """
        try:
            return self.qcache[node]
        except KeyError:
            q = self.qcache[node] = self._qual_uncached(node)
            return q

    def _qual_uncached(self, node: ast.AST) -> str | None:
        parts: list[str] = []
        while isinstance(node, ast.Attribute):
            parts.append(node.attr)
            node = node.value
        if not isinstance(node, ast.Name):
            return None
        root = node.id
        base = self.aliases.get(root)
        if base is None:
            base = self._star(root) or (_DEFAULT_ALIASES.get(root) if root not in self.env else None) or root
        if parts:
            parts.reverse()
            return base + "." + ".".join(parts)
        return base

    def _star(self, name: str) -> str | None:
        for mod in self.stars:
            if ("layers" in mod and name in _KERAS_LAYERS) or ("losses" in mod and name in _KERAS_LOSS_CLASSES):
                return f"{mod}.{name}"
            if mod.endswith("nn") and (name in _TORCH_LAYERS or name in _TORCH_LOSS_CLASSES or name == "Module"):
                return f"{mod}.{name}"
            if "models" in mod and name in ("Sequential", "Model"):
                return f"{mod}.{name}"
        return None

    def _lookup(self, table: dict[str, list[tuple[int, Any]]], name: str, line: int) -> Any:
        entries = table.get(name)
        if not entries:
            return _UNKNOWN
        best = _UNKNOWN
        found = False
        for ln, v in entries:
            if ln < line or (ln == line and not found):
                best, found = v, True
            elif ln >= line:
                break
        if found:
            return best
        return entries[0][1] if len(entries) == 1 else _UNKNOWN

    def _ev(self, node: ast.AST, line: int, depth: int = 0) -> Any:
        """Fold an expression to a Python value (int, float, str, bool, None, tuples), or _UNKNOWN."""
        if depth > _MAX_EVAL_DEPTH:
            return _UNKNOWN
        t = type(node)
        if t is ast.Constant:
            v = node.value  # type: ignore[attr-defined]
            return v if isinstance(v, (int, float, str, bool)) or v is None else _UNKNOWN
        if t is ast.Name:
            return self._lookup(self.env, node.id, line)  # type: ignore[attr-defined]
        if t is ast.Tuple or t is ast.List:
            out: list[Any] = []
            for e in node.elts:  # type: ignore[attr-defined]
                if isinstance(e, ast.Starred):
                    v = self._ev(e.value, line, depth + 1)
                    if not isinstance(v, tuple):
                        return _UNKNOWN
                    out.extend(v)
                else:
                    out.append(self._ev(e, line, depth + 1))
            return tuple(out)
        if t is ast.UnaryOp:
            v = self._ev(node.operand, line, depth + 1)  # type: ignore[attr-defined]
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if isinstance(node.op, ast.USub):  # type: ignore[attr-defined]
                    return -v
                if isinstance(node.op, ast.UAdd):  # type: ignore[attr-defined]
                    return v
            return _UNKNOWN
        if t is ast.BinOp:
            return self._binop(node, line, depth)  # type: ignore[arg-type]
        if t is ast.Subscript:
            return self._subscript(node, line, depth)  # type: ignore[arg-type]
        if t is ast.Attribute:
            if node.attr == "shape" and isinstance(node.value, ast.Name):  # type: ignore[attr-defined]
                arr = self._lookup(self.shapes, node.value.id, line)  # type: ignore[attr-defined]
                if arr is not _UNKNOWN and arr is not None:
                    return arr[0]
            return _UNKNOWN
        if t is ast.Call:
            return self._ev_call(node, line, depth)  # type: ignore[arg-type]
        return _UNKNOWN

    def _binop(self, node: ast.BinOp, line: int, depth: int) -> Any:
        a = self._ev(node.left, line, depth + 1)
        b = self._ev(node.right, line, depth + 1)
        op = type(node.op)
        if isinstance(a, tuple) and isinstance(b, tuple) and op is ast.Add:
            return a + b
        if isinstance(a, tuple) and isinstance(b, int) and op is ast.Mult and 0 <= b <= 64:
            return a * b
        if not (_is_num(a) and _is_num(b)):
            return _UNKNOWN
        try:
            if op is ast.Add:
                return a + b
            if op is ast.Sub:
                return a - b
            if op is ast.Mult:
                return a * b
            if op is ast.FloorDiv:
                return a // b
            if op is ast.Div:
                return a / b
            if op is ast.Mod:
                return a % b
            if op is ast.Pow and abs(b) <= 64 and abs(a) <= 1 << 16:
                return a**b
        except (ZeroDivisionError, OverflowError, ValueError):
            return _UNKNOWN
        return _UNKNOWN

    def _subscript(self, node: ast.Subscript, line: int, depth: int) -> Any:
        base = self._ev(node.value, line, depth + 1)
        if not isinstance(base, (tuple, str)):
            return _UNKNOWN
        s = node.slice
        if isinstance(s, ast.Slice):
            lo = self._ev(s.lower, line, depth + 1) if s.lower else None
            hi = self._ev(s.upper, line, depth + 1) if s.upper else None
            st = self._ev(s.step, line, depth + 1) if s.step else None
            if all(v is None or (isinstance(v, int) and not isinstance(v, bool)) for v in (lo, hi, st)) and st != 0:
                return base[lo:hi:st]
            return _UNKNOWN
        i = self._ev(s, line, depth + 1)
        if isinstance(i, int) and not isinstance(i, bool) and -len(base) <= i < len(base):
            return base[i]
        return _UNKNOWN

    def _ev_call(self, node: ast.Call, line: int, depth: int) -> Any:
        name = _call_name(node)
        if name not in _FOLDABLE_CALLS:
            return _UNKNOWN
        if isinstance(node.func, ast.Name) and len(node.args) == 1 and not node.keywords:
            fn = node.func.id
            v = self._ev(node.args[0], line, depth + 1)
            if fn == "len" and isinstance(v, (tuple, str)):
                return len(v)
            if fn == "int" and _is_num(v):
                return int(v)
            if fn in ("tuple", "list") and isinstance(v, tuple):
                return v
            return _UNKNOWN
        q = self._qual(node.func) or ""
        if q in ("numpy.array", "numpy.asarray") and len(node.args) == 1:
            return self._ev(node.args[0], line, depth + 1)
        if q in ("numpy.prod", "math.prod") and len(node.args) == 1:
            v = self._ev(node.args[0], line, depth + 1)
            if isinstance(v, tuple) and v and all(_is_int(x) for x in v):
                p = 1
                for x in v:
                    p *= x
                return p
        return _UNKNOWN

    def _array_of(self, value: ast.expr, line: int, depth: int = 0) -> _Arr | None:
        """(shape, dtype, via) when the expression makes an array of a known shape; None otherwise.

        Follows what keeps the shape readable: the creators (`np.random.rand(24, 30, 30)`), wrappers
        (`torch.from_numpy`, `torch.tensor(..., dtype=)`), casts, reshape/view with literal sizes, permute and
        transpose, expand_dims/unsqueeze and `[..., None]` indexing, scaling by a number, and variables that
        already hold a known array.
        """
        if depth > 12:
            return None
        t = type(value)
        if t is ast.Name:
            arr = self._lookup(self.shapes, value.id, line)  # type: ignore[attr-defined]
            return None if arr is _UNKNOWN else arr
        if t is ast.Subscript:
            base = self._array_of(value.value, line, depth + 1)  # type: ignore[attr-defined]
            sub = _indexed(base[0], value.slice) if base else None  # type: ignore[attr-defined]
            return (sub, base[1], base[2]) if base and sub is not None else None
        if t is ast.BinOp:
            left = self._array_of(value.left, line, depth + 1)  # type: ignore[attr-defined]
            right = self._ev(value.right, line)  # type: ignore[attr-defined]
            if left is None or not _is_num(right):
                return None
            dtype = left[1]
            if isinstance(right, float) or isinstance(value.op, ast.Div):  # type: ignore[attr-defined]
                dtype = "float64" if dtype is None or not dtype.startswith(("float", "bfloat")) else dtype
            return left[0], dtype, left[2]
        if t is not ast.Call:
            return None
        node: ast.Call = value  # type: ignore[assignment]
        func = node.func
        q = self._qual(func) or ""
        head = _array_ctor(q)
        if head is not None:
            made = self._ctor_shape(head[0], node, line)
            dt = next((k.value for k in node.keywords if k.arg == "dtype"), None)
            return (made, (self._dtype(dt, line) if dt is not None else None) or head[1], head[0]) if made else None
        last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        args = node.args
        if (isinstance(func, ast.Attribute) and self._is_module(func.value)) or (
            isinstance(func, ast.Name) and func.id in self.aliases
        ):
            if not args:
                return None
            inner = self._array_of(args[0], line, depth + 1)
            if inner is None:
                return None
            shape: Shape | None = inner[0]
            dtype = inner[1]
            if last in ("from_numpy", "tensor", "as_tensor", "convert_to_tensor", "constant", "array", "asarray"):
                if "dtype" in kw:
                    dtype = self._dtype(kw["dtype"], line) or dtype
            elif last == "cast" and (len(args) > 1 or "dtype" in kw):
                dtype = self._dtype(args[1] if len(args) > 1 else kw["dtype"], line) or dtype
            elif last in ("expand_dims", "unsqueeze"):
                ax = args[1] if len(args) > 1 else kw.get("axis", kw.get("dim"))
                shape = _inserted(shape, self._ev(ax, line)) if ax is not None else None
            elif last == "reshape":
                shape = _reshaped(shape, self._shape_args(args[1:] or [kw.get("newshape", kw.get("shape"))], line))
            elif last in ("transpose", "permute"):
                perm: list[ast.expr | None] = list(args[1:]) or [kw.get("axes", kw.get("perm", kw.get("dims")))]
                shape = _permuted(shape, self._shape_args(perm, line)) if perm[0] is not None else None
                if shape is None and last == "transpose" and len(args) == 1 and not kw:
                    shape = tuple(reversed(inner[0]))
            else:
                return None
            return (shape, dtype, inner[2]) if shape is not None else None
        if not isinstance(func, ast.Attribute):
            return None
        inner = self._array_of(func.value, line, depth + 1)
        if inner is None:
            return None
        shape, dtype = inner[0], inner[1]
        if last == "astype" and args:
            dtype = self._dtype(args[0], line) or dtype
        elif last in _METHOD_CASTS and not args:
            dtype = _METHOD_CASTS[last]
        elif last in ("to", "type") and (args or kw):
            for a in [*args, kw.get("dtype")]:
                if a is not None and self._dtype(a, line):
                    dtype = self._dtype(a, line)
        elif last in ("reshape", "view"):
            shape = _reshaped(shape, self._shape_args(args or [kw.get("shape")], line))
        elif last in ("permute", "transpose") and args:
            dims = self._shape_args(args, line)
            if last == "transpose" and isinstance(dims, tuple) and len(dims) == 2 and len(shape) != 2:
                dims = _swap(len(shape), dims)  # torch: x.transpose(1, 2) swaps two axes
            shape = _permuted(shape, dims)
        elif last == "unsqueeze" and args:
            shape = _inserted(shape, self._ev(args[0], line))
        elif last not in ("copy", "numpy", "cpu", "detach", "contiguous", "requires_grad_", "clone"):
            return None
        return (shape, dtype, inner[2]) if shape is not None else None

    def _shape_args(self, args: list[ast.expr] | list[ast.expr | None], line: int) -> Any:
        if len(args) == 1:
            if args[0] is None:
                return _UNKNOWN
            v = self._ev(args[0], line)
            return v if isinstance(v, tuple) else (v,)
        return tuple(self._ev(a, line) if a is not None else _UNKNOWN for a in args)

    def _ctor_shape(self, fn: str, node: ast.Call, line: int) -> Shape | None:
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        args = node.args
        dims: Any = _UNKNOWN
        if fn in ("rand", "randn", "torch.rand", "torch.randn", "torch.zeros", "torch.ones", "torch.empty"):
            if "size" in kw:
                dims = self._ev(kw["size"], line)
            elif args:
                dims = self._shape_args(args, line)
        elif fn in ("zeros", "ones", "empty", "full", "random", "random_sample", "tf"):
            src = kw.get("shape") or kw.get("size") or (args[0] if args else None)
            dims = self._ev(src, line) if src is not None else _UNKNOWN
        elif fn in ("normal", "uniform", "randint", "integers", "binomial", "choice"):
            src = kw.get("size")
            if src is None:
                if fn == "randint" or fn == "integers" or fn == "normal" or fn == "uniform" or fn == "binomial":
                    src = args[2] if len(args) >= 3 else None
                elif fn == "choice":
                    src = args[1] if len(args) >= 2 else None
            dims = self._ev(src, line) if src is not None else _UNKNOWN
        elif fn == "torch.randint":
            src = kw.get("size") or (args[-1] if len(args) >= 2 else None)
            dims = self._ev(src, line) if src is not None else _UNKNOWN
        if _is_int(dims):
            dims = (dims,)
        if not isinstance(dims, tuple) or not dims or not all(_is_int(d) and d >= 0 for d in dims):
            return None
        return tuple(dims)

    def _dtype(self, node: ast.expr, line: int) -> str | None:
        """'float64' from "float64", np.float64, torch.double, tf.float32, float, torch.FloatTensor, ..."""
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return _canon_dtype(node.value)
        if isinstance(node, ast.Name):
            if node.id in ("float", "int", "bool", "str", "object", "complex"):
                return {"float": "float64", "int": "int64"}.get(node.id, node.id)
            v = self._ev(node, line)
            return _canon_dtype(v) if isinstance(v, str) else None
        q = self._qual(node)
        if q and "." in q:
            root, last = q.split(".", 1)[0], q.rsplit(".", 1)[-1]
            if last in _TENSOR_TYPES:
                return _TENSOR_TYPES[last]
            if root == "torch" and last in _TORCH_DTYPE_ALIASES:
                return _TORCH_DTYPE_ALIASES[last]
            if last in _DTYPES and (root in _DTYPE_ROOTS or root in self.aliases or root in _DEFAULT_ALIASES):
                return _canon_dtype(last)
        return None

    # ---- pass 2: expressions

    def _visit(self, node: ast.AST) -> None:
        t = type(node)
        if t in _LEAVES:
            return
        handler = self.handlers.get(t)
        if handler is not None:
            handler(node)
        else:
            self._children(node)

    def _handlers(self) -> dict[type, Callable[[Any], None]]:
        """Node type -> reader; everything else is only descended into."""
        return {
            ast.Call: self._call,
            ast.Assign: self._assign,
            ast.AnnAssign: self._assign,
            ast.FunctionDef: self._funcdef,
            ast.AsyncFunctionDef: self._funcdef,
            ast.ClassDef: self._classdef,
            ast.Subscript: self._subscript_node,
            ast.For: self._for,
            ast.AsyncFor: self._for,
            ast.Return: self._return,
            ast.Attribute: self._value_only,
            ast.Expr: self._value_only,
            ast.keyword: self._value_only,
        }

    def _value_only(self, node: Any) -> None:
        v = node.value
        if type(v) not in _LEAVES:
            self._visit(v)

    def _funcdef(self, node: ast.FunctionDef | ast.AsyncFunctionDef) -> None:
        saved = self.func
        self.func = node.name
        for d in node.decorator_list:
            self._visit(d)
        for st in node.body:
            self._visit(st)
        self.func = saved

    def _subscript_node(self, node: ast.Subscript) -> None:
        self._subscript_op(node)
        self._children(node)

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        it = node.iter
        if not isinstance(it, ast.Name):
            inner = it.args[0] if isinstance(it, ast.Call) and _call_name(it) == "enumerate" and it.args else it
            self._inline_dataset(inner, node.lineno)
        self._children(node)

    def _return(self, node: ast.Return) -> None:
        val = node.value
        if val is not None and self.func:
            ds = self._dataset_from(val, node.lineno)
            if ds is not None:
                self.ds_factories[self.func] = ds
        self._children(node)

    def _children(self, node: ast.AST) -> None:
        for name in node._fields:
            v = getattr(node, name, None)
            if type(v) is list:
                for x in v:
                    if x is not None and type(x) not in _LEAVES:
                        self._visit(x)
            elif v is not None and type(v) not in _LEAVES and isinstance(v, ast.AST):
                self._visit(v)

    def _classdef(self, node: ast.ClassDef) -> None:
        if node.name in self.torch_classes:
            self.models.append("torch_module")
        elif node.name in self.keras_model_classes:
            self.models.append("subclassed")
        saved = self.cls
        self.cls = node.name
        for d in node.decorator_list:
            self._visit(d)
        for b in node.body:
            self._visit(b)
        self.cls = saved

    def _assign(self, node: ast.Assign | ast.AnnAssign) -> None:
        value = node.value
        targets = node.targets if isinstance(node, ast.Assign) else [node.target]
        if value is None:
            return
        line = node.lineno
        single = _target_text(targets[0]) if len(targets) == 1 else None
        saved = (self.target, self.direct, self.direct_target, self.spine, self.spine_of)
        self.target = single if isinstance(targets[0], ast.Name) else None
        self.direct, self.direct_target = value, single
        self.spine, self.spine_of = None, value
        self._visit(value)
        self.target, self.direct, self.direct_target, self.spine, self.spine_of = saved
        # datasets: follow the variable through reassignments
        is_call = type(value) is ast.Call
        ds = self._dataset_from(value, line) if is_call or type(value) is ast.Name else None
        names = [n for t in targets for n in _names_in(t)]
        if ds is not None:
            if isinstance(value, ast.Call) and _call_name(value) == "load" and _kw_true(value, "with_info"):
                tgt = targets[0]
                if isinstance(tgt, ast.Tuple) and len(tgt.elts) >= 2:
                    names = [n for e in tgt.elts[:-1] for n in _names_in(e)]
            for n in names:
                self._register_ds(n, ds, line)
        else:
            for n in names:
                self.ds_vars.pop(n, None)
        # labels drawn at random: the upper bound is the class count
        t0 = targets[0]
        tname = t0.id if isinstance(t0, ast.Name) else t0.attr if isinstance(t0, ast.Attribute) else None
        if is_call and tname is not None:
            high = self._randint_high(value, line)
            if high is not None:  # `self.labels = torch.randint(0, 5, (n,))` counts as labels too
                self.randints.append((tname, high, line))
            if isinstance(t0, ast.Name) and (self._qual(value.func) or "").endswith("Sequential"):  # type: ignore[attr-defined]
                self.seq_vars.add(tname)

    def _target_of(self, node: ast.AST) -> str | None:
        """The assignment target an op's result flows into, if it does."""
        if self.target is None or self.spine_of is None:
            return None
        if self.spine is None:
            self.spine = self._spine(self.spine_of)
        return self.target if id(node) in self.spine else None

    def _spine(self, value: ast.expr) -> set[int]:
        """The nodes an assignment's value is built along (`x = np.expand_dims(x.reshape(...), -1) / 255.0`): an
        op on them shapes the target; an op in a side argument (`loss = f(logits.reshape(-1, 4), y)`) does not."""
        out: set[int] = set()
        todo: list[ast.expr] = [value]
        while todo and len(out) < 64:
            node = todo.pop()
            out.add(id(node))
            if isinstance(node, ast.Call):
                f = node.func
                if isinstance(f, ast.Attribute) and not self._is_module(f.value):
                    todo.append(f.value)
                elif node.args and _call_name(node) in _DATA_OP_NAMES:
                    todo.append(node.args[0])
            elif isinstance(node, ast.BinOp):
                todo += [node.left, node.right]
            elif isinstance(node, ast.Subscript):
                todo.append(node.value)
        return out

    # ---- calls

    def _call(self, node: ast.Call) -> None:
        func = node.func
        q = self._qual(func)
        last = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else None
        if q is not None and type(func) is ast.Name and "." in q:  # `from ... import Dense as D`: D is a Dense
            last = q.rsplit(".", 1)[-1]
        line = node.lineno
        seq_args = False
        wrapper: str | None = None
        pending: DataOp | None = None
        if last is not None:
            layer = self._layer_of(func, q, last)
            if layer is not None:
                wrapper = self._add_layer(node, layer[0], layer[1], line)
            elif last == "Sequential":
                seq_args = True
                self.models.append("torch_module" if _fw_of(q or "") == "torch" else "sequential")
            else:
                pending = self._other_call(node, func, q or "", last, line)
            if last == "add" and isinstance(func, ast.Attribute) and node.args:
                recv = func.value
                a0 = node.args[0]
                if (isinstance(recv, ast.Name) and recv.id in self.seq_vars) or (
                    isinstance(a0, ast.Call) and self._layer_of(a0.func, self._qual(a0.func), _call_name(a0) or "")
                ):
                    seq_args = True
            if node.keywords:
                for k in node.keywords:
                    if k.arg == "num_classes":
                        v = self._ev(k.value, line)
                        if _is_int(v) and v > 0:
                            self._classes(v, "to_categorical" if last == "to_categorical" else "num_classes")
        # children, with the context of this call (a dotted callee, the usual case, has nothing below it to read)
        if q is None:
            self._visit(func)
        saved = (self.in_seq, self.wrapper)
        if seq_args:
            self.in_seq = True
        if wrapper is not None:
            self.wrapper = wrapper
        for a in node.args:
            self._visit(a)
        for k in node.keywords:
            self._visit(k.value)
        self.in_seq, self.wrapper = saved
        if pending is not None:  # after the arguments: inner steps of a chain come first, as they run
            self.ops.append(pending)

    def _layer_of(self, func: ast.AST, q: str | None, last: str) -> tuple[str, str] | None:
        """(framework, class) when the callee is a library layer (or a user's Keras layer / torch block)."""
        if not last or q is None:
            return None
        if "." not in q:  # a bare name no import explains
            if last in self.keras_layer_classes:
                return "keras", last
            if last in self.torch_classes:
                return ("torch", last) if (self.in_seq or self._in_torch_init()) else None
            k, t = last in _KERAS_LAYERS, last in _TORCH_LAYERS
            if k and t:
                return (self.hint or "keras"), last
            if k:
                return "keras", last
            if t:
                return "torch", last
            return None
        parts = q.split(".")
        last = parts[-1]
        if parts[0] == "torch":
            if (
                len(parts) >= 3
                and parts[1] == "nn"
                and last[:1].isupper()
                and last not in _TORCH_NOT_LAYERS
                and not last.endswith("Loss")
                and not ({"functional", "init", "utils", "parameter"} & set(parts))
            ):
                return "torch", last
            return None
        if "keras" in parts or parts[0] in ("tensorflow", "tf_keras"):
            if "layers" in parts and last not in ("Layer", "InputSpec"):
                if last[:1].isupper() or last in _KERAS_FUNCTIONAL_LOWER:
                    return "keras", last
            elif last == "Input" and len(parts) >= 2 and parts[-2] in ("keras", "tf_keras"):
                return "keras", last
            return None
        if parts[-1] in self.keras_layer_classes and len(parts) == 1:
            return "keras", last
        return None

    def _in_torch_init(self) -> bool:
        return self.cls is not None and self.cls in self.torch_classes and self.func == "__init__"

    def _add_layer(self, node: ast.Call, fw: str, cls: str, line: int) -> str | None:
        kind = _kind(cls)
        if self.hint is None:
            self.hint = fw
        pos = _POS_BY_CLS.get(cls) or _POS_BY_KIND.get((fw, kind), ())
        args: dict[str, Value] = {}
        for i, a in enumerate(node.args):
            if isinstance(a, ast.Starred):
                break
            key = pos[i] if i < len(pos) else f"arg{i}"
            args[key] = self._argval(a, line)
        kws: dict[str, ast.expr] = {}
        for k in node.keywords:
            if k.arg:
                kws[k.arg] = k.value
                args[k.arg] = self._argval(k.value, line)
        if kind in ("bidirectional", "time_distributed"):
            inner = node.args[0] if node.args else kws.get("layer")
            if isinstance(inner, ast.Call):
                il = self._layer_of(inner.func, self._qual(inner.func), _call_name(inner) or "")
                if il is not None:
                    args["layer"] = _kind(il[1])
        name = args.get("name") if isinstance(args.get("name"), str) else None
        assigned = self.direct_target if node is self.direct else None
        if name is None and fw == "torch" and assigned:
            name = assigned.rsplit(".", 1)[-1]
        self.layers.append(
            (
                line,
                node.col_offset,
                LayerCall(
                    framework=fw,
                    cls=cls,
                    kind=kind,
                    args=args,
                    name=name,  # type: ignore[arg-type]
                    line=line,
                    in_sequential=self.in_seq,
                    wrapper=self.wrapper,
                    assigned_to=assigned,
                ),
            )
        )
        if fw == "keras":
            self._declared_from_layer(cls, kind, node, kws, line)
        return kind if kind in ("bidirectional", "time_distributed") else None

    def _declared_from_layer(self, cls: str, kind: str, node: ast.Call, kws: dict[str, ast.expr], line: int) -> None:
        if kind == "input":
            src = kws.get("shape")
            if src is None and "input_shape" not in kws and node.args:
                src = node.args[0]
            if src is not None:
                self._declare(src, "Input", cls, line)
            for key in ("batch_shape", "batch_input_shape"):
                if key in kws:
                    self._declare(kws[key], "batch_input_shape", cls, line)
            if "input_shape" in kws:
                self._declare(kws["input_shape"], "input_shape", cls, line)
            return
        if "input_shape" in kws:
            self._declare(kws["input_shape"], "input_shape", cls, line)
        if "batch_input_shape" in kws:
            self._declare(kws["batch_input_shape"], "batch_input_shape", cls, line)
        if "input_dim" in kws and kind != "embedding":
            v = self._ev(kws["input_dim"], line)
            n = v if _is_int(v) else None
            shape = (n,) if kind == "dense" and n is not None else None
            self.declared.append(Declared(shape=shape, shape_int=n, via="input_dim", line=line, layer=cls))
        if "input_length" in kws and kind == "embedding":
            v = self._ev(kws["input_length"], line)
            self.declared.append(
                Declared(shape=(v,) if _is_int(v) else (None,), via="input_length", line=line, layer=cls)
            )

    def _declare(self, src: ast.expr, via: str, cls: str | None, line: int) -> None:
        v = self._ev(src, line)
        shape: Shape | None = None
        shape_int: int | None = None
        if _is_int(v):
            shape_int = v
        elif isinstance(v, tuple):
            shape = tuple(d if _is_int(d) else None for d in v)
        self.declared.append(Declared(shape=shape, shape_int=shape_int, via=via, line=line, layer=cls))

    def _argval(self, node: ast.expr, line: int) -> Value:
        v = self._ev(node, line)
        if v is _UNKNOWN:
            if isinstance(node, (ast.Name, ast.Attribute)):
                return _dotted(node)
            return None
        if isinstance(v, tuple):
            return tuple(None if x is _UNKNOWN else x for x in v)
        return v  # type: ignore[no-any-return]

    def _other_call(self, node: ast.Call, func: ast.expr, q: str, last: str, line: int) -> DataOp | None:
        """Every call that is not a layer: models, losses, compile/fit, data ops, class counts, datasets."""
        if last not in _OTHER_NAMES and not last.endswith("Loss") and not _APP_RE.match(q):
            return None  # most calls in a script (print, range, optimizers, ...) are none of these
        fw = _fw_of(q)
        if last == "Model" and fw != "torch" and (len(node.args) >= 2 or {"inputs", "outputs"} <= _kwnames(node)):
            self.models.append("functional")
        elif _APP_RE.match(q):
            self.models.append("application")
        loss = self._loss_of(q, last)
        if loss is not None:
            self._add_loss(loss, node, line)
        if isinstance(func, ast.Attribute):
            if last == "compile":
                self._compile(node, line)
            elif last in _FIT_METHODS:
                self._fit(node, func, last, line)
            elif last == "build" and node.args and not self._is_module(func.value):
                self._declare(node.args[0], "build", None, line)
        if last in ("to_categorical", "one_hot"):
            idx = 1
            src = node.args[idx] if len(node.args) > idx else None
            for k in node.keywords:
                if k.arg in ("num_classes", "depth"):
                    src = k.value
            if src is not None:
                v = self._ev(src, line)
                if _is_int(v) and v > 0 and not any(k.arg == "num_classes" for k in node.keywords):
                    self._classes(v, last)
        if last in ("TensorDataset", "from_tensor_slices") and node.args:
            elts: list[ast.expr] = list(node.args)
            if last == "from_tensor_slices" and isinstance(node.args[0], ast.Tuple):
                elts = list(node.args[0].elts)
            for e in elts[1:]:
                for n in _names_in(e):
                    self.label_vars.add(n)
        return self._data_op(node, func, q, last, line)

    def _is_module(self, node: ast.expr) -> bool:
        q = self._qual(node)
        return (
            q is not None
            and q.split(".")[0] in _DTYPE_ROOTS
            and (not isinstance(node, ast.Name) or node.id in self.aliases or node.id in _DEFAULT_ALIASES)
        )

    # ---- losses

    def _loss_of(self, q: str, last: str) -> str | None:
        parts = q.split(".")
        if parts[0] == "torch" and len(parts) >= 3 and parts[1] == "nn":
            if "functional" in parts:
                return _TORCH_LOSS_FUNCS.get(last)
            if last in _TORCH_LOSS_CLASSES:
                return _TORCH_LOSS_CLASSES[last]
            if last.endswith("Loss") and last != "Loss":
                return _snake(last[:-4])
            return None
        if "losses" in parts and ("keras" in parts or parts[0] in ("tensorflow", "tf_keras")):
            if last in _KERAS_LOSS_CLASSES:
                return _KERAS_LOSS_CLASSES[last]
            if last in _LOSS_STRINGS:
                return _LOSS_STRINGS[last]
            return None
        if parts[0] == "tensorflow" and last in _TF_NN_LOSSES:
            return last.replace("_v2", "")
        if len(parts) == 1:
            if last in _TORCH_LOSS_CLASSES:
                return _TORCH_LOSS_CLASSES[last]
            if last in _KERAS_LOSS_CLASSES:
                return _KERAS_LOSS_CLASSES[last]
        return None

    def _add_loss(self, name: str, call: ast.Call | None, line: int) -> None:
        if name not in self.losses:
            self.losses.append(name)
        if call is not None and call.keywords:
            d = self.loss_args.setdefault(name, {})
            for k in call.keywords:
                if k.arg and k.arg not in _LOSS_DATA_ARGS:
                    d[k.arg] = self._argval(k.value, line)
            if not d:
                del self.loss_args[name]

    def _compile(self, node: ast.Call, line: int) -> None:
        src = node.args[1] if len(node.args) >= 2 else None
        for k in node.keywords:
            if k.arg == "loss":
                src = k.value
        if src is None:
            return
        items: list[ast.expr] = [src]
        if isinstance(src, (ast.List, ast.Tuple)):
            items = list(src.elts)
        elif isinstance(src, ast.Dict):
            items = [v for v in src.values if v is not None]
        for it in items:
            self._loss_value(it, line)

    def _loss_value(self, node: ast.expr, line: int) -> None:
        v = self._ev(node, line)
        if isinstance(v, str):
            self._add_loss(_LOSS_STRINGS.get(v.lower(), v.lower()), None, line)
            return
        if isinstance(v, tuple):
            for x in v:
                if isinstance(x, str):
                    self._add_loss(_LOSS_STRINGS.get(x.lower(), x.lower()), None, line)
            return
        target = node.func if isinstance(node, ast.Call) else node
        q = self._qual(target)
        if q is None:
            return
        last = q.rsplit(".", 1)[-1]
        name = self._loss_of(q, last)
        if name is None and isinstance(node, ast.Name):
            name = self._loss_via_var(node.id, line)
        if name is None:
            name = f"custom:{last}"
        self._add_loss(name, None, line)

    def _loss_via_var(self, var: str, line: int) -> str | None:
        q = self.var_ctor.get(var)
        if q:
            return self._loss_of(q, q.rsplit(".", 1)[-1])
        return None

    # ---- fit / evaluate / predict

    def _fit(self, node: ast.Call, func: ast.Attribute, method: str, line: int) -> None:
        recv = func.value
        rtext = _dotted(recv) if isinstance(recv, (ast.Name, ast.Attribute)) else None
        if rtext is not None:
            ctor = self.var_ctor.get(rtext, "")
            if ctor.startswith("sklearn") or _NOT_MODELS_RE.search(ctor.rsplit(".", 1)[-1].lower()):
                return
            if _NOT_MODELS_RE.search(rtext.rsplit(".", 1)[-1].lower()):
                return
        if self._is_module(recv):
            return
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        xs = kw.get("x") or kw.get("generator") or (node.args[0] if node.args else None)
        ys = kw.get("y") or (node.args[1] if len(node.args) >= 2 and method not in ("predict",) else None)
        bs = kw.get("batch_size")
        if bs is None and method == "predict" and len(node.args) >= 2:
            bs = node.args[1]
        bsv = self._ev(bs, line) if bs is not None else None
        vd = kw.get("validation_data")
        self.fits.append(
            FitCall(
                method=method,
                x=self._text(xs),
                y=self._text(ys),
                validation_data=self._text(vd),
                batch_size=bsv if _is_int(bsv) else None,
                line=line,
                receiver=rtext,
            )
        )
        if ys is not None:
            for n in _names_in(ys):
                self.label_vars.add(n)
        for e in (xs, vd):
            if e is not None and not isinstance(e, ast.Name):
                self._inline_dataset(e, line)

    # ---- datasets

    def _inline_dataset(self, expr: ast.expr, line: int) -> None:
        ds = self._dataset_from(expr, line)
        if ds is not None:
            ds.var = self._text(expr) or "<inline>"
            ds.line = line
            self.ds_list.append(ds)

    def _register_ds(self, name: str, ds: _DS, line: int) -> None:
        if ds.derived_from == name and name in self.ds_vars:  # ds = ds.map(f): the same dataset, one step on
            idx = self.ds_vars[name]
            prev = self.ds_list[idx]
            ds.var, ds.line, ds.derived_from = name, prev.line, prev.derived_from
            self.ds_list[idx] = ds
            return
        ds = ds.copy()
        ds.var, ds.line = name, line
        self.ds_vars[name] = len(self.ds_list)
        self.ds_list.append(ds)

    def _dataset_from(self, expr: ast.expr, line: int) -> _DS | None:
        """The dataset an expression evaluates to (a copy, not yet registered), or None if it is not one."""
        steps: list[ast.Call] = []
        e = expr
        while isinstance(e, ast.Call) and isinstance(e.func, ast.Attribute) and e.func.attr in _DS_METHODS:
            steps.append(e)
            e = e.func.value
        base: _DS | None = None
        if isinstance(e, ast.Name) and e.id in self.ds_vars:
            base = self.ds_list[self.ds_vars[e.id]].copy()
            base.derived_from = e.id
        elif isinstance(e, ast.Call):
            base = self._ds_ctor(e, line)
        if base is None:
            return None
        for call in reversed(steps):
            self._ds_step(base, call, line)
        return base

    def _ds_ctor(self, call: ast.Call, line: int) -> _DS | None:
        q = self._qual(call.func) or ""
        last = q.rsplit(".", 1)[-1]
        kw = {k.arg: k.value for k in call.keywords if k.arg}
        if last == "from_tensor_slices":
            first = call.args[0] if call.args else None
            parts = first.elts if isinstance(first, (ast.Tuple, ast.List)) else [first] if first is not None else []
            names = tuple(p.id for p in parts if isinstance(p, ast.Name))
            return _DS("", "from_tensor_slices", [], None, None, False, line,
                       slices=names if len(names) == len(parts) else ())
        if last == "from_generator":
            return _DS("", "from_generator", [], None, None, False, line)
        if q.startswith("tensorflow_datasets."):
            return _DS("", "tfds", [], None, None, False, line)
        if last == "DataLoader":
            splat = self._splat_kwargs(call, kw, line)  # DataLoader(ds, **train_kwargs)
            src = kw.get("batch_size") or (call.args[1] if len(call.args) >= 2 else None)
            bs: Any = (_UNKNOWN if splat is None else 1) if src is None else self._ev(src, line)
            dl = self._ev(kw["drop_last"], line) if "drop_last" in kw else (False if splat is not None else None)
            collate = "collate_fn" in kw and not (
                isinstance(kw["collate_fn"], ast.Constant) and kw["collate_fn"].value is None
            )
            if "batch_sampler" in kw:
                bs, src = _UNKNOWN, kw["batch_sampler"]
            ops = [] if bs is None else ["batch"]
            return _DS(
                "", "DataLoader", ops, bs if _is_int(bs) else None, dl if isinstance(dl, bool) else None, collate, line
            )
        if last in _DS_DIR_FUNCS and ("keras" in q or "tensorflow" in q or "." not in q):
            bsv: Any = self._ev(kw["batch_size"], line) if "batch_size" in kw else _DS_DIR_FUNCS[last]
            return _DS("", "other", [] if bsv is None else ["batch"], bsv if _is_int(bsv) else None, None, False, line)
        if last in ("flow_from_directory", "flow_from_dataframe") or (
            last == "flow" and isinstance(call.func, ast.Attribute) and self._from_image_generator(call.func.value)
        ):  # ImageDataGenerator: batches of batch_size (32 unless given)
            bsv = self._ev(kw["batch_size"], line) if "batch_size" in kw else 32
            return _DS("", "other", ["batch"], bsv if _is_int(bsv) else None, None, False, line)
        if last in _DS_OTHER_CTORS and (".data." in q or "Dataset" in q or q.startswith("tensorflow.data")):
            return _DS("", "other", [], None, None, False, line)
        if isinstance(call.func, ast.Name) and call.func.id in self.ds_factories:
            return self.ds_factories[call.func.id].copy()
        return None

    def _splat_kwargs(self, call: ast.Call, kw: dict[str, ast.expr], line: int) -> dict[str, ast.expr] | None:
        """Merge `**name` arguments whose dict the script spells out into kw; None if one cannot be read."""
        ok: dict[str, ast.expr] | None = kw
        for k in call.keywords:
            if k.arg is not None:
                continue
            d = self._lookup(self.dicts, k.value.id, line) if isinstance(k.value, ast.Name) else _dict_of(k.value)
            if not isinstance(d, dict):
                ok = None
                continue
            for key, value in d.items():
                kw.setdefault(key, value)
        return ok

    def _from_image_generator(self, recv: ast.expr) -> bool:
        if isinstance(recv, ast.Call):
            return (self._qual(recv.func) or "").endswith("ImageDataGenerator")
        name = _dotted(recv) if isinstance(recv, (ast.Name, ast.Attribute)) else None
        return name is not None and self.var_ctor.get(name, "").endswith("ImageDataGenerator")

    def _ds_step(self, ds: _DS, call: ast.Call, line: int) -> None:
        m = call.func.attr  # type: ignore[attr-defined]
        ds.ops.append(m)
        if m in ("batch", "padded_batch", "ragged_batch", "rebatch"):
            kw = {k.arg: k.value for k in call.keywords if k.arg}
            src = kw.get("batch_size") or (call.args[0] if call.args else None)
            v = self._ev(src, line) if src is not None else _UNKNOWN
            ds.batch_size = v if _is_int(v) else None
            dsrc = kw.get("drop_remainder") or (call.args[1] if len(call.args) >= 2 and m == "batch" else None)
            d = self._ev(dsrc, line) if dsrc is not None else False
            ds.drop_last = d if isinstance(d, bool) else None
        elif m == "unbatch":
            ds.batch_size = None
            ds.drop_last = None

    # ---- class counts

    def _classes(self, n: int, via: str) -> None:
        self.class_sources.append((n, via))

    def _randint_high(self, value: ast.expr, line: int) -> int | None:
        node = value
        probe: ast.expr = value
        while isinstance(probe, ast.Call):  # cheap test first: is there a randint-like call in the chain at all
            if _call_name(probe) in _RANDINT_NAMES:
                break
            if not isinstance(probe.func, ast.Attribute):
                return None
            probe = probe.func.value
        else:
            return None
        while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            q = self._qual(node.func) or ""
            if q.split(".")[0] in ("numpy", "torch", "tensorflow") or node.func.attr == "integers":
                break
            node = node.func.value
        if not isinstance(node, ast.Call):
            return None
        q = self._qual(node.func) or ""
        last = q.rsplit(".", 1)[-1]
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        args = node.args
        src: ast.expr | None = None
        if (last == "randint" and q.startswith("numpy")) or last == "integers":
            src = kw.get("high") or (args[1] if len(args) >= 2 else args[0] if args else None)
            if len(args) >= 2 and isinstance(args[1], (ast.Tuple, ast.List)):  # randint(10, (32,))
                src = args[0]
        elif last == "randint" and q.startswith("torch"):
            if "high" in kw:
                src = kw["high"]
            elif len(args) >= 3:
                src = args[1]
            elif len(args) == 2:
                src = args[0] if "size" not in kw else args[1]
            elif len(args) == 1:
                src = args[0]
        elif last == "choice" and q.startswith("numpy") and args:
            src = args[0]
        elif last == "uniform" and q.startswith("tensorflow") and "maxval" in kw:
            dt = kw.get("dtype")
            if dt is not None and (self._dtype(dt, line) or "").startswith("int"):
                src = kw["maxval"]
        if src is None:
            return None
        v = self._ev(src, line)
        return v if _is_int(v) and 1 < v <= 100000 else None

    # ---- data ops

    def _data_op(self, node: ast.Call, func: ast.expr, q: str, last: str, line: int) -> DataOp | None:
        args = node.args
        kw = {k.arg: k.value for k in node.keywords if k.arg}
        op: str | None = None
        subject: ast.expr | None = None
        vals: tuple[Any, ...] = ()
        module_fn = isinstance(func, ast.Attribute) and self._is_module(func.value)
        if module_fn or (isinstance(func, ast.Name) and func.id in self.aliases):
            root = q.split(".")[0]
            if last == "reshape" and args:
                op, subject = "reshape", args[0]
                vals = self._opshape(args[1:] or ([kw["shape"]] if "shape" in kw else []), line)
            elif last == "expand_dims" and args:
                op, subject = "expand_dims", args[0]
                vals = (self._opval(args[1] if len(args) > 1 else kw.get("axis"), line),)
            elif last in ("squeeze", "unsqueeze") and args:
                op, subject = last, args[0]
                ax = args[1] if len(args) > 1 else kw.get("axis", kw.get("dim"))
                vals = (self._opval(ax, line),) if ax is not None else ()
            elif last in ("stack", "concatenate", "cat", "concat", "vstack", "hstack", "dstack") and args:
                op = "stack" if last == "stack" else last if last in ("vstack", "hstack", "dstack") else "cat"
                subject = args[0]
                ax = args[1] if len(args) > 1 else kw.get("axis", kw.get("dim"))
                vals = (self._opval(ax, line),) if ax is not None else ()
            elif last in ("tensor", "as_tensor", "from_numpy", "convert_to_tensor", "asarray", "array") and args:
                dt = kw.get("dtype")
                if last in ("asarray", "array") and dt is None:
                    return None
                if root == "tensorflow" and last != "convert_to_tensor":
                    return None
                if last in ("tensor", "as_tensor") and isinstance(args[0], (ast.List, ast.Tuple, ast.Constant)):
                    return None
                op, subject = ("from_numpy" if last == "from_numpy" else "tensor"), args[0]
                vals = (self._dtype(dt, line) if dt is not None else None,)
            elif last in _TENSOR_TYPES and args and not isinstance(args[0], (ast.List, ast.Constant)):
                op, subject, vals = "tensor", args[0], (_TENSOR_TYPES[last],)
            elif last == "cast" and len(args) >= 1:
                op, subject = "cast", args[0]
                dt = args[1] if len(args) > 1 else kw.get("dtype")
                vals = (self._dtype(dt, line) if dt is not None else None,)
            elif last in ("permute", "transpose", "moveaxis", "movedim", "swapaxes") and args:
                op, subject = ("permute" if last == "permute" else last), args[0]
                rest = args[1:] or ([kw["perm"]] if "perm" in kw else [kw["axes"]] if "axes" in kw else [])
                vals = self._opshape(rest, line)
            elif (
                last in ("resize", "resize_with_pad", "resize_with_crop_or_pad")
                and args
                and root
                in (
                    "tensorflow",
                    "cv2",
                    "skimage",
                )
            ):
                op, subject = "resize", args[0]
                vals = self._opshape(args[1:2] or ([kw["size"]] if "size" in kw else []), line)
            elif last == "interpolate" and args:
                op, subject = "interpolate", args[0]
                vals = tuple(self._opval(kw[k], line) for k in ("size", "scale_factor") if k in kw)
            elif last in ("to_categorical", "one_hot") and args:
                op, subject = last, args[0]
                src = args[1] if len(args) > 1 else kw.get("num_classes", kw.get("depth"))
                vals = (self._opval(src, line),) if src is not None else ()
            elif last == "pad_sequences" and args:
                op, subject = "pad_sequences", args[0]
                vals = tuple(self._opval(kw[k], line) for k in ("maxlen", "padding", "truncating") if k in kw)
            elif last == "argmax" and args:
                op, subject = "argmax", args[0]
                ax = args[1] if len(args) > 1 else kw.get("axis", kw.get("dim"))
                vals = (self._opval(ax, line),) if ax is not None else ()
            elif last in ("flatten", "ravel") and args:
                op, subject = "flatten", args[0]
                vals = tuple(self._opval(a, line) for a in args[1:])
        elif isinstance(func, ast.Name):
            if last == "pad_sequences" and args:
                op, subject = "pad_sequences", args[0]
                vals = tuple(self._opval(kw[k], line) for k in ("maxlen", "padding", "truncating") if k in kw)
            elif last in ("to_categorical", "one_hot") and args:
                op, subject = last, args[0]
                src = args[1] if len(args) > 1 else kw.get("num_classes", kw.get("depth"))
                vals = (self._opval(src, line),) if src is not None else ()
        elif isinstance(func, ast.Attribute):
            subject = func.value
            if last in ("reshape", "view") and (args or "shape" in kw):
                op, vals = last, self._opshape(args or [kw["shape"]], line)
            elif last in ("permute", "transpose") and args:
                op, vals = last, self._opshape(args, line)
            elif last in ("squeeze", "unsqueeze"):
                op = last
                ax = args[0] if args else kw.get("axis", kw.get("dim"))
                vals = (self._opval(ax, line),) if ax is not None else ()
            elif last == "astype" and args:
                op, vals = "astype", (self._dtype(args[0], line) or self._text(args[0]),)
            elif last in _METHOD_CASTS and not args and not kw:
                op = last
            elif last == "to" and (args or "dtype" in kw):
                dt = kw.get("dtype")
                if dt is None:
                    for a in args:
                        if self._dtype(a, line):
                            dt = a
                if dt is None:
                    return None
                op, vals = "to", (self._dtype(dt, line),)
            elif last == "type" and args:
                d = self._dtype(args[0], line)
                if d is None:
                    return None
                op, vals = "type", (d,)
            elif (
                last in ("flatten", "ravel")
                and not isinstance(func.value, ast.Call | ast.Name)
                or (
                    last in ("flatten", "ravel")
                    and isinstance(func.value, ast.Name)
                    and func.value.id not in self.aliases
                )
            ):
                op, vals = "flatten", tuple(self._opval(a, line) for a in args)
            elif last == "argmax" and (args or kw):
                op = "argmax"
                ax = args[0] if args else kw.get("axis", kw.get("dim"))
                vals = (self._opval(ax, line),) if ax is not None else ()
        if op is None:
            return None
        return DataOp(
            var=_root_text(subject, self._is_module) if subject is not None else None,
            op=op,
            args=vals,
            line=line,
            target=self._target_of(node),
            scope=self.func,
        )

    def _text(self, node: ast.AST | None) -> str | None:
        """The source text of an expression, as written (whitespace runs of a multi-line one folded)."""
        if node is None:
            return None
        if isinstance(node, (ast.Name, ast.Attribute)):
            d = _dotted(node)
            if d is not None:
                return d
        ln, col = getattr(node, "lineno", None), getattr(node, "col_offset", None)
        eln, ecol = getattr(node, "end_lineno", None), getattr(node, "end_col_offset", None)
        if ln is None or col is None or eln is None or ecol is None or not 0 < ln <= eln <= len(self.lines):
            return _text(node)
        if ln == eln:
            s = _cut(self.lines[ln - 1], col, ecol)
        else:
            parts = [_cut(self.lines[ln - 1], col, None)]
            parts += self.lines[ln : eln - 1]
            parts.append(_cut(self.lines[eln - 1], 0, ecol))
            s = " ".join(" ".join(parts).split())
        if not s:
            return _text(node)
        return s if len(s) <= _MAX_TEXT else s[: _MAX_TEXT - 3] + "..."

    def _opval(self, node: ast.expr | None, line: int) -> Any:
        if node is None:
            return None
        v = self._ev(node, line)
        if v is _UNKNOWN:
            return self._text(node)
        if isinstance(v, tuple):
            return tuple(None if x is _UNKNOWN else x for x in v)
        return v

    def _opshape(self, args: list[ast.expr], line: int) -> tuple[Any, ...]:
        if len(args) == 1:
            v = self._opval(args[0], line)
            if isinstance(args[0], (ast.Tuple, ast.List)) or isinstance(v, tuple):
                if isinstance(v, tuple):
                    return v
                return tuple(self._opval(e, line) for e in args[0].elts)  # type: ignore[attr-defined]
            return (v,)
        return tuple(self._opval(a, line) for a in args)

    def _subscript_op(self, node: ast.Subscript) -> None:
        """`x[..., np.newaxis]`, `x[:, :, None]`, `x[None]`: an axis added by indexing."""
        s = node.slice
        elts = s.elts if isinstance(s, ast.Tuple) else [s]
        if not any(_is_newaxis(e) for e in elts):
            return
        enc: list[Any] = []
        for e in elts:
            if _is_newaxis(e):
                enc.append("newaxis")
            elif isinstance(e, ast.Constant) and e.value is Ellipsis:
                enc.append("...")
            elif isinstance(e, ast.Slice):
                enc.append(":" if e.lower is None and e.upper is None and e.step is None else self._text(e))
            else:
                enc.append(self._opval(e, node.lineno))
        self.ops.append(
            DataOp(
                var=_root_text(node.value, self._is_module),
                op="newaxis",
                args=tuple(enc),
                line=node.lineno,
                target=self._target_of(node),
                scope=self.func,
            )
        )


# --------------------------------------------------------------------------------------------------- helpers


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _fw_of(q: str) -> str | None:
    root = q.split(".", 1)[0]
    if root == "torch":
        return "torch"
    if root in ("keras", "tensorflow", "tf_keras") or ".keras." in q:
        return "keras"
    return None


def _kind(cls: str) -> str:
    k = _KIND_EXACT.get(cls)
    if k is not None:
        return k
    m = _CONV_RE.match(cls)
    if m:
        return f"conv{m.group(1)}d"
    m = _GPOOL_RE.match(cls)
    if m:
        return f"global_pool{m.group(1)}d"
    m = _POOL_RE.match(cls)
    if m:
        return f"pool{m.group(1)}d"
    if _BN_RE.match(cls):
        return "batchnorm"
    if "Dropout" in cls:
        return "dropout"
    return "other"


def _snake(name: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _canon_dtype(s: str) -> str:
    s = s.strip().lower()
    return {"float": "float64", "double": "float64", "half": "float16", "long": "int64", "int": "int64"}.get(s, s)


def _array_ctor(q: str) -> tuple[str, str | None] | None:
    """(constructor, default dtype) for calls that make an array of a stated shape."""
    parts = q.split(".")
    last = parts[-1]
    if parts[0] == "numpy":
        if last in ("rand", "randn", "random", "random_sample", "normal", "uniform"):
            return last, "float64"
        if last in ("randint", "integers", "choice", "binomial"):
            return last, "int64"
        if last in ("zeros", "ones", "empty", "full"):
            return last, "float64"
        return None
    if parts[0] == "torch":
        if last in ("rand", "randn", "zeros", "ones", "empty"):
            return f"torch.{last}", "float32"
        if last == "randint":
            return "torch.randint", "int64"
        return None
    if parts[0] == "tensorflow" and last in ("normal", "uniform", "zeros", "ones"):
        return ("zeros" if last in ("zeros", "ones") else "tf"), "float32"
    return None


def _reshaped(shape: Shape | None, dims: Any) -> Shape | None:
    if shape is None:
        return None
    if not isinstance(dims, tuple) or not all(_is_int(d) for d in dims):
        return None
    total = 1
    for d in shape:
        if d is None:
            return None
        total *= d
    known = 1
    free = [i for i, d in enumerate(dims) if d == -1]
    if len(free) > 1:
        return None
    for d in dims:
        if d != -1:
            known *= d
    out = list(dims)
    if free:
        if known == 0 or total % known:
            return None
        out[free[0]] = total // known
    elif known != total:
        return None
    return tuple(out)


def _inserted(shape: Shape | None, axis: Any) -> Shape | None:
    """The shape after expand_dims/unsqueeze at `axis`."""
    if shape is None or not _is_int(axis):
        return None
    n = len(shape) + 1
    pos = axis + n if axis < 0 else axis
    if not 0 <= pos < n:
        return None
    return shape[:pos] + (1,) + shape[pos:]


def _permuted(shape: Shape | None, dims: Any) -> Shape | None:
    if shape is None:
        return None
    if not isinstance(dims, tuple) or sorted(d for d in dims if _is_int(d)) != list(range(len(shape))):
        return None
    return tuple(shape[d] for d in dims)


def _swap(rank: int, dims: tuple[Any, ...]) -> tuple[Any, ...] | None:
    a, b = dims
    if not (_is_int(a) and _is_int(b)) or not (-rank <= a < rank and -rank <= b < rank):
        return None
    order = list(range(rank))
    order[a], order[b] = order[b], order[a]
    return tuple(order)


def _indexed(shape: Shape, index: ast.expr) -> Shape | None:
    """The shape after indexing with full slices, `...` and new axes (`x[..., None]`, `x[:, :, np.newaxis]`)."""
    elts = index.elts if isinstance(index, ast.Tuple) else [index]
    if not any(_is_newaxis(e) for e in elts):
        return None

    def walk(items: list[ast.expr], dims: list[int | None]) -> list[int | None] | None:
        out: list[int | None] = []
        for e in items:
            if _is_newaxis(e):
                out.append(1)
            elif isinstance(e, ast.Slice) and e.lower is None and e.upper is None and e.step is None and dims:
                out.append(dims.pop(0))
            else:
                return None
        return out

    dots = [i for i, e in enumerate(elts) if isinstance(e, ast.Constant) and e.value is Ellipsis]
    if len(dots) > 1:
        return None
    if not dots:
        rest = list(shape)
        head = walk(list(elts), rest)
        return tuple(head + rest) if head is not None else None
    before, after = list(elts[: dots[0]]), list(elts[dots[0] + 1 :])
    dims = list(shape)
    head = walk(before, dims)
    if head is None:
        return None
    tail_dims = list(reversed(dims))
    tail = walk(list(reversed(after)), tail_dims)
    if tail is None:
        return None
    return tuple(head + list(reversed(tail_dims)) + list(reversed(tail)))


def _dict_of(node: ast.expr) -> dict[str, ast.expr] | None:
    """A dict spelled out with string keys, `{"batch_size": 64}` or `dict(batch_size=64)`, as key -> expression."""
    if isinstance(node, ast.Dict):
        out: dict[str, ast.expr] = {}
        for k, v in zip(node.keys, node.values, strict=False):
            if not (isinstance(k, ast.Constant) and isinstance(k.value, str)):
                return None
            out[k.value] = v
        return out
    if isinstance(node, ast.Call) and _call_name(node) == "dict" and not node.args:
        if all(k.arg for k in node.keywords):
            return {k.arg: k.value for k in node.keywords if k.arg}
    return None


def _is_newaxis(e: ast.expr) -> bool:
    if isinstance(e, ast.Constant) and e.value is None:
        return True
    return isinstance(e, ast.Attribute) and e.attr == "newaxis"


def _names_in(tgt: ast.expr) -> Iterator[str]:
    if isinstance(tgt, ast.Name):
        yield tgt.id
    elif isinstance(tgt, (ast.Tuple, ast.List)):
        for e in tgt.elts:
            yield from _names_in(e)
    elif isinstance(tgt, ast.Starred):
        yield from _names_in(tgt.value)


def _call_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute):
        return f.attr
    if isinstance(f, ast.Name):
        return f.id
    return None


def _kwnames(call: ast.Call) -> set[str]:
    return {k.arg for k in call.keywords if k.arg}


def _kw_true(call: ast.Call, name: str) -> bool:
    return any(k.arg == name and isinstance(k.value, ast.Constant) and k.value.value is True for k in call.keywords)


def _dotted(node: ast.AST) -> str | None:
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def _target_text(tgt: ast.expr) -> str | None:
    if isinstance(tgt, (ast.Name, ast.Attribute)):
        return _dotted(tgt)
    return None


def _root_text(node: ast.expr, is_module: Callable[[ast.expr], bool] = lambda n: False) -> str | None:
    """The variable an expression is about: `x_train` in `x_train.astype(...).reshape(...)` or `x[..., None]`.

    Module functions pass their first argument on (`torch.tensor(x).permute(...)` is about x), and an array made
    on the spot (`np.random.rand(3, 4).astype(...)`) is about no variable.
    """
    for _ in range(32):
        if isinstance(node, (ast.Name, ast.Attribute)):
            d = _dotted(node)
            if d is not None:
                return d
            node = node.value  # type: ignore[union-attr]
        elif isinstance(node, ast.Call):
            if isinstance(node.func, ast.Attribute) and node.func.attr in _CREATORS:
                return None  # np.random.rand(n, 4): a new array, about no variable
            if isinstance(node.func, ast.Attribute) and not is_module(node.func.value):
                node = node.func.value
            elif node.args and not isinstance(node.args[0], (ast.Constant, ast.Tuple, ast.List)):
                node = node.args[0]
            else:
                return None
        elif isinstance(node, ast.Subscript):
            node = node.value
        elif isinstance(node, ast.BinOp):
            node = node.left
        elif isinstance(node, (ast.List, ast.Tuple)) and node.elts:
            node = node.elts[0]
        else:
            return None
    return None


def _cut(line: str, start: int, end: int | None) -> str:
    """A slice of a line by the parser's offsets, which count UTF-8 bytes."""
    if line.isascii():
        return line[start:end]
    return line.encode("utf-8")[start:end].decode("utf-8", errors="replace")


def _text(node: ast.AST | None) -> str | None:
    if node is None:
        return None
    d = _dotted(node) if isinstance(node, (ast.Name, ast.Attribute)) else None
    if d is not None:
        return d
    try:
        s = ast.unparse(node)
    except (ValueError, RecursionError, AttributeError, TypeError):
        return None
    return s if len(s) <= _MAX_TEXT else s[: _MAX_TEXT - 3] + "..."
