"""Turn a raw traceback block into facts: exception type, whole message, frames, the framework, and the
*core* message.

Frameworks wrap the real error: tf.keras 2 re-raises it "in user code:" with a second stack inside the
message, Keras 3 wraps it in "Exception encountered when calling X.call()" with the call arguments after
it, TensorFlow's graph errors put "Detected at node" frames before the op's own words, and PyTorch's
DataLoader re-raises a worker's error with its "Original Traceback". Rules match the core message, so
one rule covers a message however it was wrapped.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

from diagnoser.engine.extract import RawBlock
from diagnoser.engine.result import Frame

FRAME_RE = re.compile(r'^\s*File "(?P<file>[^"]*)", line (?P<line>\d+)(?:, in (?P<func>.+?))?\s*(?:\*{1,2})?\s*$')
# TF 2.0-2.4 autograph prints the frames inside "in converted code:" / "in user code:" as
# "    /venv/lib/python3.7/site-packages/tensorflow/python/keras/engine/training.py:805 train_function  *"
AUTOGRAPH_FRAME_RE = re.compile(
    r"^\s*(?P<file>(?:[A-Za-z]:)?[^\s:]+\.py|<[^>]+>):(?P<line>\d+) (?P<func>[\w<>.]+)\s*(?:\*{1,2})?\s*$"
)
NESTED_EXC_RE = re.compile(
    r"^(?P<indent>\s*)(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*(?:Error|Exception|Exit)):(?:\s(?P<msg>.*))?$"
)
NODE_RE = re.compile(r"(?:Detected at node|Node:)\s*'?(?P<node>[^\s']+)'?|\{\{node (?P<node2>[^}]+)\}\}")
ARGS_HEADER_RE = re.compile(r"^\s*(?:Call arguments|Arguments) received by\b")
WRAPPER_RE = re.compile(
    r"^Exception encountered when calling\b(?:\s+layer\s+['\"](?P<name>[^'\"]+)['\"]|\s+(?P<cls>[\w.]+)\.call\(\))?"
)
# "Could not automatically infer the output shape / dtype of 'x' ... Error encountered:" and
# "Unable to automatically build the model ... Exception encountered:": Keras 3 quotes the real error after them.
INFER_RE = re.compile(
    r"(?:Could not automatically infer the output shape / dtype of '(?P<name>[^']+)'[\s\S]*?Error encountered:"
    r"|Unable to automatically build the model[\s\S]*?Exception encountered:)\s*"
)
# "{{function_node __wrapped__ConcatV2_N_2_device_/job:...}}": the op, without its arity or type suffix
FUNCTION_NODE_RE = re.compile(r"^\{\{function_node __wrapped__(?P<op>_?[A-Za-z0-9]+)\w*?_device_[^}]*\}\}")
ARG_SHAPE_RE = re.compile(r"•\s*(?P<name>[\w.]+)=.*?shape=(?P<shape>\([^)]*\)|\[[^\]]*\])")
# JAX appends a notice to the message of errors raised under jit (Keras 3 on the jax backend).
JAX_NOTICE_RE = re.compile(r"^\s*(?:-{10,}\s*)?For simplicity, JAX has removed its internal frames")
# Colour codes, with their escape character or with it lost by a log shipper ("[1mInput 0 ...[0m").
ANSI_RE = re.compile(r"\x1b\[[0-9;]*[A-Za-z]|(?<![\w\[])\[(?:0|1|22|39|0;\d{1,2}|\d;\d{1,2})m")
# TF 1.x session errors: "InvalidArgumentError (see above for traceback): Incompatible shapes: ..."
SEE_ABOVE_RE = re.compile(r"^(?P<type>(?:[A-Za-z_]\w*\.)*[A-Za-z_]\w*) \(see above for traceback\)\s*:\s?(?P<msg>.*)$")
# TF eager ops end their message with the op: "... In[1]: [4,5] [Op:MatMul] name: " (or "[Op:MatMul]").
EAGER_OP_RE = re.compile(r"\s*\[Op:(?P<op>[\w.]+)\](?:\s*name:\s*\S*)?\s*$")
OLD_NODE_RE = re.compile(r"\[\[(?:node |Node: )(?P<node>[^\s\]{}=]+)")
TRAILER_STARTS = ("Original stack trace for", "Caused by op", "Errors may have originated", "Function call stack:")
# torch.compile (Dynamo) runs the graph on fake tensors first and wraps what they raise: torch 2.13 quotes it as
# "... **{}): got RuntimeError('message')", torch 2.1-2.5 puts it below "Failed running call_function ...:".
DYNAMO_GOT_RE = re.compile(r"\): got (?P<type>[A-Za-z_][\w.]*)\((?P<q>['\"])(?P<msg>.*)(?P=q)\)\s*$")
DYNAMO_FAILED_RE = re.compile(r"^Failed running (?:call_function|call_method|call_module|get_attr) .*:\s*$")
DYNAMO_TRAILER = ("from user code:", "Set TORCH_LOGS=", "Set TORCHDYNAMO_VERBOSE=")
_TYPE_NAME_RE = re.compile(r"[A-Za-z_][\w.]*")
_CHECKING_RE = re.compile(r"Error when checking (?:model )?(?:input|target)")
# Message style, when no path says: Keras 3 quotes layer names with single quotes and says "with name".
_KERAS3_STYLE_RE = re.compile(
    r"Input \d+ with name '[^']*' of layer '|Exception encountered when calling \w+\.call\(\)"
)
_KERAS2_STYLE_RE = re.compile(
    r'Input \d+ of layer "[^"]+" is incompatible|Exception encountered when calling layer [\'"]'
)
_STANDALONE_STYLE_RE = re.compile(r"Input \d+ is incompatible with layer \w+")
_TORCH_STYLE_RE = re.compile(r"mat1 and mat2|Expected \d+D \(unbatched\)|Given groups=|torch\.\w+Tensor")
_TRAINING_ARG_RE = re.compile(r"•\s*training=(True|False)")


@dataclass
class ParsedTraceback:
    exception_type: str  # as printed, possibly qualified
    message: str  # whole message, as printed
    frames: list[Frame]
    core_type: str  # short name of the innermost exception
    core_message: str  # the innermost error's own words
    nested_frames: list[Frame] = field(default_factory=list)  # frames printed inside the message
    node: str | None = None  # TensorFlow op node, e.g. "sequential/dense/MatMul"
    call_arguments: dict[str, str] = field(default_factory=dict)  # Keras "Arguments received" shapes
    wrapper_layer: str | None = None  # the layer whose call raised, from Keras' wrapper message
    framework: str = "unknown"
    chained_from_previous: bool = False
    bare: bool = False
    start_line: int = 0
    cell_code: str | None = None  # the notebook cell's lines IPython printed around the failing one

    @property
    def short_type(self) -> str:
        return self.exception_type.rsplit(".", 1)[-1]

    @property
    def all_frames(self) -> list[Frame]:
        return self.frames + self.nested_frames


IPY_FRAME_RES = [
    re.compile(r"^File (?P<file>.+?):(?P<line>\d+), in (?P<func>[^\s(]+)"),  # IPython 8
    re.compile(r"^Cell In ?\[\d*\], line (?P<line>\d+)"),  # a notebook cell (IPython 8)
    re.compile(r"^Input In ?\[\d*\], in (?P<func>[^\s(]+)"),  # IPython 7.3x
    re.compile(r"^(?P<file><ipython-input-[^>]*>) in (?P<func>[^\s(]+)"),  # IPython <= 7
    re.compile(r"^(?P<file>\S.*?\.py) in (?P<func>[^\s(]+)"),  # IPython <= 7, library files
]
IPY_CODE_RE = re.compile(r"^-*>\s*(?P<line>\d+)\s(?P<code>.*)$")
IPY_CONTEXT_RE = re.compile(r"^\s*(?:-+>)?\s*\d+ (?P<code>.*)$")


def ipython_cell_code(lines: list[str]) -> str | None:
    """The code IPython printed of the user's own cell (the first location, a cell or an ipython-input): the
    lines before the failing one are the script's, the evidence a pasted notebook traceback carries."""
    code: list[str] = []
    in_cell = False
    for line in lines:
        if not line.startswith((" ", "\t", "-")):
            if code or in_cell:
                break
            stripped = line.strip()
            in_cell = stripped.startswith(("Cell In", "Input In", "<ipython-input"))
            continue
        m = IPY_CONTEXT_RE.match(line) if in_cell else None
        if m:
            code.append(m["code"])
    if not code:
        return None
    indent = min((len(x) - len(x.lstrip()) for x in code if x.strip()), default=0)
    return "\n".join(x[indent:] for x in code) + "\n"


def parse_ipython_frames(lines: list[str]) -> list[Frame]:
    """Frames of an IPython/Jupyter traceback: a location line, then context lines, the current one
    marked with an arrow (---> 10 model.fit(x, y))."""
    frames: list[Frame] = []
    current: dict[str, object] | None = None
    for line in lines:
        if not line.startswith((" ", "\t", "-")):
            for rx in IPY_FRAME_RES:
                m = rx.match(line.strip())
                if m:
                    if current is not None:
                        frames.append(Frame(**current))  # type: ignore[arg-type]
                    d = m.groupdict()
                    current = {
                        "file": d.get("file") or "<cell>",
                        "line": int(d["line"]) if d.get("line") else None,
                        "function": d.get("func") or "<module>",
                        "code": None,
                    }
                    break
            continue
        cm = IPY_CODE_RE.match(line.strip())
        if cm and current is not None:
            current["code"] = cm.group("code").strip()
            if current["line"] is None:
                current["line"] = int(cm.group("line"))
    if current is not None:
        frames.append(Frame(**current))  # type: ignore[arg-type]
    return frames


def _plain_frame(line: str) -> tuple[str, int, str] | None:
    """`  File "x.py", line 3, in f` read with string methods, as FRAME_RE would read it; None when the line has
    anything unusual (the regex then decides)."""
    at = line.find('File "')
    if at < 0 or line[:at].strip():
        return None
    end = line.find('", line ', at + 6)
    if end < 0:
        return None
    file = line[at + 6 : end]
    rest = line[end + 8 :]
    digits = len(rest) - len(rest.lstrip("0123456789"))
    if not digits or '"' in file or "*" in rest:
        return None
    number, tail = int(rest[:digits]), rest[digits:].rstrip()
    if not tail:
        return file, number, ""
    if tail.startswith(", in ") and tail[5:].strip():
        return file, number, tail[5:].strip()
    return None


def parse_frames(lines: list[str]) -> list[Frame]:
    frames: list[Frame] = []
    pending: tuple[str, int, str] | None = None
    code: str | None = None
    for line in lines:
        read = _plain_frame(line) if 'File "' in line else None
        if read is None:
            m = (FRAME_RE.match(line) if 'File "' in line else None) or (
                AUTOGRAPH_FRAME_RE.match(line) if (".py:" in line or ">:" in line) else None
            )
            read = (m["file"], int(m["line"]), (m["func"] or "").strip()) if m else None
        if read is not None:
            if pending is not None:
                frames.append(Frame(pending[0], pending[1], pending[2], code))
            pending = read
            code = None
            continue
        if pending is not None and code is None:
            s = line.strip()
            if s and s.strip("^~ "):
                code = s
    if pending is not None:
        frames.append(Frame(pending[0], pending[1], pending[2], code))
    return frames


def _split_exception_line(line: str) -> tuple[str, str]:
    sm = SEE_ABOVE_RE.match(line.strip())
    if sm:
        return sm["type"], sm["msg"]
    if ":" in line:
        head, tail = line.split(":", 1)
        if head.strip() == "Node" and tail.strip().startswith("'"):  # TF's graph error body, pasted without its type
            return "", line.strip()
        if _TYPE_NAME_RE.fullmatch(head.strip()):
            return head.strip(), tail[1:] if tail.startswith(" ") else tail
    if _TYPE_NAME_RE.fullmatch(line.strip()):
        return line.strip(), ""
    return "", line.strip()  # a message pasted without its exception type


def _dedent(lines: list[str]) -> list[str]:
    indents = [len(x) - len(x.lstrip()) for x in lines if x.strip()]
    cut = min(indents) if indents else 0
    return [x[cut:] if len(x) >= cut else x.strip() for x in lines]


def _dynamo_user_frames(lines: list[str]) -> list[Frame]:
    """torch.compile lists where the failing op ran after "from user code:" (the model's forward, the layers'):
    the frames an eager run would have shown, which the outer traceback (inside Dynamo) does not."""
    for i, x in enumerate(lines):
        if x.strip().startswith("from user code:"):
            block = []
            for y in lines[i + 1 :]:
                if y.strip().startswith(DYNAMO_TRAILER[1:]):
                    break
                block.append(y)
            return parse_frames(block)
    return []


def _dynamo_inner(lines: list[str]) -> tuple[str, list[str]] | None:
    if not lines or not (
        DYNAMO_FAILED_RE.match(lines[0].strip()) or lines[0].strip().startswith("RuntimeError when making fake tensor")
    ):
        return None
    for x in lines[:6]:
        m = DYNAMO_GOT_RE.search(x)
        if m:
            try:
                message = str(ast.literal_eval(m["q"] + m["msg"] + m["q"]))
            except (ValueError, SyntaxError):
                message = m["msg"]
            return m["type"].rsplit(".", 1)[-1], message.splitlines() or [""]
    if DYNAMO_FAILED_RE.match(lines[0].strip()):
        body = []
        for x in lines[1:]:
            if x.strip().startswith(DYNAMO_TRAILER):
                break
            body.append(x)
        while body and not body[-1].strip():
            body.pop()
        if body:
            return "RuntimeError", body
    return None


def unwrap(
    core_type: str, lines: list[str]
) -> tuple[str, list[str], list[Frame], dict[str, str], str | None, str | None]:
    """Peel wrappers off a message until the innermost error's own words remain."""
    nested: list[Frame] = []
    args: dict[str, str] = {}
    node: str | None = None
    wrapper: str | None = None
    lines = [ANSI_RE.sub("", x) if "[" in x else x for x in lines]
    for _ in range(8):  # wrappers nest a few levels at most; bound it anyway
        text_first = lines[0].strip() if lines else ""
        # 1. tf.keras "in user code:" (TF 2.0-2.1 autograph: "in converted code:") and PyTorch "Original
        # Traceback": an inner traceback in the message. Autograph's is peeled to the first exception after
        # its frames (a Keras wrapper nested there is peeled next); a worker's to its last (chained) one.
        autograph = text_first.startswith(("in user code", "in converted code"))
        if (
            autograph
            or any("Original Traceback (most recent call last)" in x for x in lines[:5])
            or text_first.startswith("Caught ")
        ):
            inner_idx = None
            order = range(1, len(lines)) if autograph else range(len(lines) - 1, 0, -1)
            for i in order:
                if NESTED_EXC_RE.match(lines[i]) and not FRAME_RE.match(lines[i]):
                    inner_idx = i
                    break
            if inner_idx is None:
                break
            nested += parse_frames(lines[:inner_idx])
            m = NESTED_EXC_RE.match(lines[inner_idx])
            assert m is not None
            indent = len(m["indent"])
            core_type = m["type"].rsplit(".", 1)[-1]
            rest = [m["msg"] or ""] + [x[indent:] if x[:indent].strip() == "" else x for x in lines[inner_idx + 1 :]]
            lines = rest
            continue
        # 2. Keras "Exception encountered when calling ...": the real error follows, then the arguments
        wm = WRAPPER_RE.match(text_first)
        if wm:
            wrapper = wm["name"] or wm["cls"] or wrapper
            body: list[str] = []
            in_args = False
            for x in lines[1:]:
                if ("received by" in x and ARGS_HEADER_RE.match(x)):
                    in_args = True
                    continue
                if in_args:
                    am = ARG_SHAPE_RE.search(x) if "•" in x else None
                    if am:
                        args.setdefault(am["name"], am["shape"])
                    tm = _TRAINING_ARG_RE.search(x)
                    if tm:
                        args.setdefault("training", tm.group(1))
                    continue
                body.append(x)
            while body and not body[0].strip():
                body.pop(0)
            if not body:
                break
            lines = _dedent(body)
            continue
        # 2b. Keras 3 building a model on the torch/jax backends: the backend's error is quoted inside
        joined = "\n".join(lines)
        im = INFER_RE.search(joined)
        if im:
            wrapper = im["name"] or wrapper
            inner = joined[im.end() :].strip()
            inner = inner.strip("'\"").strip()
            if inner:
                lines = inner.splitlines()
                continue
        # 2c. torch.compile: the fake-tensor run's error, quoted (2.13) or on the lines after (2.1-2.5)
        dynamo = _dynamo_inner(lines)
        if dynamo is not None:
            nested += _dynamo_user_frames(lines)
            core_type, lines = dynamo
            continue
        # 3. TensorFlow graph errors: frames of where the op was defined, then the op's message
        if text_first.startswith(("Graph execution error", "Detected at node", "Node: '")) or (
            lines and any(x.lstrip().startswith("Detected at node") for x in lines[:3])
        ):
            joined = "\n".join(lines)
            nm = NODE_RE.search(joined)
            if nm:
                node = nm["node"] or nm["node2"]
            last_file = max((i for i, x in enumerate(lines) if FRAME_RE.match(x)), default=-1)
            after = last_file + 1
            if last_file >= 0:  # TF <= 2.15 prints the last frame's code line, indented below it
                frame_indent = len(lines[last_file]) - len(lines[last_file].lstrip())
                while after < len(lines) and lines[after].strip() and (
                    len(lines[after]) - len(lines[after].lstrip()) > frame_indent
                ):
                    after += 1
            nested += parse_frames(lines[:after])
            body = [x for x in lines[after:] if x.strip()]
            body = [x for x in body if not x.strip().startswith("[[{{node") and not x.strip().startswith("Node:")]
            if not body:
                break
            lines = _dedent(body)
            continue
        break
    # Strip what follows the message: TF's op annotations and TF1's "Original stack trace" appendix, Keras'
    # call arguments (left after an inner "in user code" was peeled), JAX's notice about filtered frames.
    out: list[str] = []
    if lines:
        fm = FUNCTION_NODE_RE.match(lines[0].strip())
        if fm:  # TF eager ops: "{{function_node __wrapped__Op_device_...}} message"
            node = node or fm.group("op")
            lines = [lines[0].strip()[fm.end() :].lstrip()] + lines[1:]
    in_args = False
    for x in lines:
        s = x.strip()
        if s.startswith(TRAILER_STARTS) or ("For simplicity" in x and JAX_NOTICE_RE.match(x)):
            break
        if ("received by" in x and ARGS_HEADER_RE.match(x)):
            in_args = True
            continue
        if in_args:
            am = ARG_SHAPE_RE.search(x) if "•" in x else None
            if am:
                args.setdefault(am["name"], am["shape"])
            elif s and not s.startswith("•"):
                in_args = False
            if in_args:
                continue
        nm = NODE_RE.search(x) if "{{node" in x else None
        if nm and node is None:
            node = nm["node"] or nm["node2"]
        if s.startswith(("[[{{node", "[[node", "[[Node:")):
            om = OLD_NODE_RE.match(s)
            if om and node is None:  # TF 1.x-2.8: "[[node a/b (defined at f.py:3) ]]", "[[Node: a/b = Op[...]"
                node = om["node"]
            continue
        out.append(x)
    while out and (not out[-1].strip() or set(out[-1].strip()) <= {"-"}):
        out.pop()
    if out:
        em = EAGER_OP_RE.search(out[-1])
        if em:
            if not em["op"].startswith("__inference"):
                node = node or em["op"]
            out[-1] = out[-1][: em.start()]
            while out and not out[-1].strip():
                out.pop()
    return core_type, out, nested, args, node, wrapper


KERAS3_PATH = re.compile(r"keras/src/(?:models|layers|backend|trainers|ops|losses|utils|saving|engine)/")
KERAS2_PATH = re.compile(r"tf_keras/|tensorflow/python/keras/|keras/src/engine/|keras/engine/|keras/src/backend\.py")
STANDALONE_PATH = re.compile(
    r"keras/backend/tensorflow_backend\.py|keras/engine/topology\.py|keras/engine/training_utils\.py"
)
TORCH_PATH = re.compile(r"torch/(?:nn|utils|_tensor|functional|autograd)|/torch/")
TF_PATH = re.compile(r"tensorflow/python/")


def detect_framework(frames: list[Frame], exc_type: str, message: str) -> str:
    """Which library raised it, from paths first (reliable) and message style second."""
    paths = "\n".join(f.file.replace("\\", "/") for f in frames)
    # each path pattern holds a literal ("torch/", "keras/"): testing it first skips most searches
    keras3 = "keras/src/" in paths and KERAS3_PATH.search(paths) is not None
    torch_path = "torch/" in paths and TORCH_PATH.search(paths) is not None
    if torch_path or "torch.Size" in message or exc_type.startswith("torch."):
        if not keras3 and "tensorflow" not in paths:
            return "torch"
    if ("keras/" in paths and STANDALONE_PATH.search(paths)) or _CHECKING_RE.search(message):
        return "keras_standalone"
    if "keras/src/engine/" in paths or "tf_keras/" in paths or "tensorflow/python/keras/" in paths:
        return "tf_keras2"
    if keras3:
        return "keras3"
    if "keras/engine/" in paths:
        return "tf_keras2"
    if _KERAS3_STYLE_RE.search(message):
        return "keras3"
    if _KERAS2_STYLE_RE.search(message):
        return "tf_keras2"
    if _STANDALONE_STYLE_RE.search(message):
        return "keras_standalone"
    if _TORCH_STYLE_RE.search(message):
        return "torch"
    if (
        TF_PATH.search(paths)
        or exc_type.startswith("tensorflow.")
        or "[[{{node" in message
        or "Graph execution error" in message
    ):
        return "tensorflow"
    return "unknown"


def parse_block(block: RawBlock) -> ParsedTraceback:
    exc_type, first = _split_exception_line(block.exception_line)
    message_lines = [first] + block.message_lines
    message = "\n".join(message_lines).strip("\n")
    frames = parse_ipython_frames(block.frame_lines) if block.ipython_type else parse_frames(block.frame_lines)
    core_type, core_lines, nested, args, node, wrapper = unwrap(exc_type.rsplit(".", 1)[-1], message_lines)
    core = "\n".join(core_lines).strip()
    framework = detect_framework(frames + nested, exc_type, message)
    return ParsedTraceback(
        exception_type=exc_type,
        message=message,
        frames=frames,
        core_type=core_type,
        core_message=core,
        nested_frames=nested,
        node=node,
        call_arguments=args,
        wrapper_layer=wrapper,
        framework=framework,
        chained_from_previous=block.chained_from_previous,
        bare=block.bare,
        start_line=block.start_line,
        cell_code=ipython_cell_code(block.frame_lines) if block.ipython_type else None,
    )
