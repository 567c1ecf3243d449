"""Runs INSIDE the student's kernel while a test cell is graded: records the student's answers as plain data.

This file is not imported by the grader: its text is sent to the sandboxed kernel once, after the setup cell
(see ``course.grading.checker``). It defines one object, ``__course_recorder__``, in the kernel's namespace.

Why it can be simple: nothing here decides a grade. Before a checked test cell runs, the grader arms the
recorder, which wraps each student-defined function so that every outermost call records its result (and
any argument the call changed) as plain data: numbers, strings, numeric arrays and tensors, and lists,
tuples and dicts of those. After the cell, the grader collects the records. The trusted checker then runs
the same test cell, with each student function replaced by a replay of these records, and decides the
verdict. A student can make this code record anything, but only ever their own answers, which the checker
compares with references it computes itself.
"""


def __course_make_recorder():
    import base64
    import functools
    import hashlib
    import io
    import json
    import sys
    import types

    limit = 48_000_000  # bytes of recorded data per test cell; past it the cell cannot be checked
    state = {"depth": 0, "records": [], "saved": {}, "size": 0, "overflow": False}
    namespace = sys.modules["__main__"].__dict__

    def _npy(array) -> str:
        import numpy as np
        buffer = io.BytesIO()
        array = np.asarray(array)  # (np.ascontiguousarray would turn a 0-d array into 1-d)
        np.save(buffer, array if array.flags.c_contiguous else array.copy(order="C"), allow_pickle=False)
        data = buffer.getvalue()
        state["size"] += len(data)
        if state["size"] > limit:
            state["overflow"] = True
            return ""
        return base64.b64encode(data).decode("ascii")

    def plain(value, depth: int = 0):
        np = sys.modules.get("numpy")
        torch = sys.modules.get("torch")
        if depth > 8:
            return {"opaque": "nested too deeply"}
        if value is None or type(value) in (bool, int, float, str):
            if type(value) is str and len(value) > 100_000:
                return {"opaque": "a string of more than 100,000 characters"}
            if type(value) is int and abs(value) > 2**62:
                return {"opaque": "an integer too large"}
            return {"v": value}
        if np is not None and isinstance(value, (np.ndarray, np.generic)) and type(value).__module__ == "numpy":
            array = np.asarray(value)
            if array.dtype.kind not in "biuf" or array.dtype.itemsize > 8:
                return {"opaque": f"an array of dtype {array.dtype}"}
            return {"nd": _npy(array), "scalar": isinstance(value, np.generic)}
        if torch is not None and type(value) in (torch.Tensor, torch.nn.Parameter):
            tensor = value.detach().cpu()
            if tensor.dtype in (torch.bfloat16, torch.float16):
                tensor = tensor.float()
            if tensor.is_complex() or tensor.is_quantized or tensor.layout != torch.strided:
                return {"opaque": f"a tensor of dtype {tensor.dtype}"}
            grad = value.grad if value.requires_grad else None
            return {"t": _npy(tensor.numpy()), "rg": bool(value.requires_grad),
                    "grad": plain(grad, depth + 1) if grad is not None else None}
        if type(value) in (list, tuple):
            if len(value) > 100_000:
                return {"opaque": "a sequence of more than 100,000 items"}
            return {"list" if type(value) is list else "tuple": [plain(v, depth + 1) for v in value]}
        if type(value) is dict:
            if not all(type(k) is str for k in value) or len(value) > 10_000:
                return {"opaque": "a dict whose keys are not all strings"}
            return {"dict": [[k, plain(v, depth + 1)] for k, v in value.items()]}
        return {"opaque": type(value).__name__[:60]}

    def fingerprint(value):
        """A cheap identity of an argument's contents, to record it again only if the call changed it."""
        np = sys.modules.get("numpy")
        torch = sys.modules.get("torch")
        try:
            if np is not None and type(value) is np.ndarray:
                return hashlib.blake2b(np.ascontiguousarray(value).tobytes(), digest_size=16).hexdigest(), value.shape
            if torch is not None and type(value) in (torch.Tensor, torch.nn.Parameter):
                data = value.detach().cpu().contiguous()
                return hashlib.blake2b(data.numpy().tobytes() if data.dtype != torch.bfloat16 else
                                       data.float().numpy().tobytes(), digest_size=16).hexdigest(), tuple(value.shape)
            if type(value) in (list, dict, tuple):
                items = value.items() if type(value) is dict else enumerate(value)
                return tuple((k, fingerprint(v)) for k, v in items)
        except Exception:  # noqa: BLE001
            return None
        return None

    def wrap(name, function):
        @functools.wraps(function)
        def recorded(*args, **kwargs):
            if state["depth"]:
                return function(*args, **kwargs)  # a call from inside the student's own code
            before = [fingerprint(a) for a in args]
            before_kw = {k: fingerprint(v) for k, v in kwargs.items()}
            state["depth"] += 1
            try:
                result = function(*args, **kwargs)
            except BaseException as exc:
                state["records"].append({"name": name, "raised": type(exc).__name__[:60],
                                         "message": str(exc)[:300]})
                raise
            finally:
                state["depth"] -= 1
            changed = [plain(a) if before[i] is not None and fingerprint(a) != before[i] else None
                       for i, a in enumerate(args)]
            changed_kw = {k: plain(v) for k, v in kwargs.items()
                          if before_kw[k] is not None and fingerprint(v) != before_kw[k]}
            state["records"].append({"name": name, "result": plain(result), "args": changed, "kwargs": changed_kw})
            return result
        recorded.__course_recorded__ = True
        return recorded

    class Recorder:
        def arm(self, names):
            self.disarm()
            state.update(depth=0, records=[], size=0, overflow=False)
            for name in names:
                function = namespace.get(name)
                if isinstance(function, (types.FunctionType, types.BuiltinFunctionType, functools.partial)) \
                        or (callable(function) and not isinstance(function, type)):
                    state["saved"][name] = function
                    namespace[name] = wrap(name, function)
            return len(state["saved"])

        def disarm(self):
            for name, function in state["saved"].items():
                if getattr(namespace.get(name), "__course_recorded__", False):
                    namespace[name] = function
            state["saved"] = {}

        def collect(self):
            self.disarm()
            if state["overflow"]:
                return json.dumps({"error": f"the answers were larger than {limit // 1_000_000} MB"})
            return json.dumps({"records": state["records"]}, allow_nan=True)

    return Recorder()


__course_recorder__ = __course_make_recorder()
del __course_make_recorder
