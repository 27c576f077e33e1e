"""Bad input to every public name of singa.tensor (issue 18, point 8)."""

import numpy as np
import pytest

from singa import tensor as T

from _bad_input import DEVICES, Bad, arr, check, check_coverage, on_other, params

A23 = arr(2, 3)
A34 = arr(3, 4)
V4 = arr(4)

CASES = [
    Bad("Tensor", "negative dim", lambda: T.Tensor((2, -3)), ValueError, r"-3"),
    Bad("Tensor", "shape of text", lambda: T.Tensor("ab"), TypeError, r"'ab'"),
    Bad("Tensor", "unknown dtype", lambda: T.Tensor((2, 3), dtype=99), TypeError, r"99",
        who=r"dtype"),
    Bad("Tensor", "device of text", lambda: T.Tensor((2,), device="cpu"), TypeError, r"'cpu'"),
    Bad("Tensor", "data of a list", lambda: T.Tensor(data=[1, 2]), TypeError, r"list"),
    Bad("Tensor", "reshape to fewer", lambda: A23.reshape((5,)), ValueError, r"6.*\(5,\)",
        who=r"Reshape"),
    Bad("Tensor", "index past axis", lambda: A23[5], IndexError, r"5.*axis 0.*2",
        who=r"index"),
    Bad("Tensor", "as_type unknown", lambda: A23.as_type(99), TypeError, r"99", who=r"dtype"),
    Bad("Tensor", "add other device", lambda: A23 + on_other(2, 3), RuntimeError, DEVICES,
        who=r"__add__"),
    Bad("Tensor", "add bad shapes", lambda: A23 + A34, ValueError, r"\(2, 3\).*\(3, 4\)",
        who=r"__add__"),
    Bad("Tensor", "add text", lambda: A23 + "x", TypeError, r"'x'", who=r"operand"),
    Bad("PlaceHolder", "negative dim", lambda: T.PlaceHolder((2, -1)), ValueError, r"-1",
        who=r"Tensor"),
    Bad("set_leaf_creator", "not callable", lambda: T.set_leaf_creator(5), TypeError, r"5"),
    Bad("from_raw_tensor", "None", lambda: T.from_raw_tensor(None), TypeError, r"NoneType"),
    Bad("from_raw_tensors", "list of None", lambda: T.from_raw_tensors([None]), TypeError,
        r"NoneType", who=r"from_raw_tensor"),
    Bad("product", "None", lambda: T.product(None), TypeError, r"NoneType"),
    Bad("sizeof", "unknown dtype", lambda: T.sizeof(99), TypeError, r"99"),
    Bad("from_dlpack", "None", lambda: T.from_dlpack(None), TypeError, r"NoneType"),
    Bad("from_dlpack", "int16 array", lambda: T.from_dlpack(np.zeros(2, np.int16)), BufferError,
        r"int16"),
    Bad("from_dlpack", "copy of text", lambda: T.from_dlpack(np.zeros(2), copy="no"), TypeError,
        r"'no'"),
    Bad("from_numpy", "text array", lambda: T.from_numpy(np.array(["a"])), TypeError, r"<U1"),
    Bad("from_numpy", "too big ints", lambda: T.from_numpy(np.array([2 ** 40])), ValueError,
        r"int32"),
    Bad("copy_from_numpy", "too many values",
        lambda: T.copy_from_numpy(A23.data, np.zeros(10)), ValueError, r"10.*6"),
    Bad("copy_from_numpy", "None target", lambda: T.copy_from_numpy(None, np.zeros(1)),
        TypeError, r"NoneType"),
    Bad("to_host", "None", lambda: T.to_host(None), TypeError, r"NoneType"),
    Bad("to_numpy", "None", lambda: T.to_numpy(None), TypeError, r"NoneType"),
    Bad("to_numpy", "ndarray", lambda: T.to_numpy(np.zeros(2)), TypeError, r"ndarray"),
    Bad("to_numpy_view", "None", lambda: T.to_numpy_view(None), TypeError, r"NoneType"),
    Bad("zeros", "negative dim", lambda: T.zeros((2, -1)), ValueError, r"-1"),
    Bad("zeros", "None shape", lambda: T.zeros(None), TypeError, r"NoneType"),
    Bad("zeros", "unknown dtype", lambda: T.zeros((2,), dtype=99), TypeError, r"99"),
    Bad("ones", "negative dim", lambda: T.ones((-4,)), ValueError, r"-4"),
    Bad("zeros_like", "None", lambda: T.zeros_like(None), TypeError, r"NoneType"),
    Bad("ones_like", "ndarray", lambda: T.ones_like(np.zeros(2)), TypeError, r"ndarray"),
    Bad("random", "negative dim", lambda: T.random((-1,)), ValueError, r"-1"),
    Bad("reshape", "wrong size", lambda: T.reshape(A23, (4, 4)), ValueError, r"6.*\(4, 4\)"),
    Bad("reshape", "None", lambda: T.reshape(None, (6,)), TypeError, r"NoneType"),
    Bad("transpose", "repeated axes", lambda: T.transpose(A23, (0, 0)), ValueError, r"0\.\.1"),
    Bad("transpose", "None", lambda: T.transpose(None), TypeError, r"NoneType"),
    Bad("contiguous", "None", lambda: T.contiguous(None), TypeError, r"NoneType"),
    Bad("repeat", "axis out of range", lambda: T.repeat(A23, 2, 5), IndexError, r"axis 5"),
    Bad("repeat", "negative repeats", lambda: T.repeat(A23, -1, 0), ValueError, r"-1"),
    Bad("concatenate", "shapes differ", lambda: T.concatenate([A23, A34], 0), ValueError,
        r"\(2, 3\).*\(3, 4\)"),
    Bad("concatenate", "axis out of range", lambda: T.concatenate([A23, A23], 5), IndexError,
        r"axis 5"),
    Bad("concatenate", "other device", lambda: T.concatenate([A23, on_other(2, 3)], 0),
        RuntimeError, DEVICES),
    Bad("concatenate", "None in list", lambda: T.concatenate([A23, None], 0), TypeError,
        r"tensors\[1\].*NoneType"),
    Bad("copy_data_to_from", "too many", lambda: T.copy_data_to_from(A23, A34, 100), ValueError,
        r"100"),
    Bad("copy_data_to_from", "negative size", lambda: T.copy_data_to_from(A23, A34, -1),
        ValueError, r"size.*-1"),
    Bad("copy_data_to_from", "None source", lambda: T.copy_data_to_from(A23, None, 1),
        TypeError, r"src.*NoneType"),
]
for _name in ["abs", "exp", "ceil", "floor", "log", "sigmoid", "sign", "sqrt", "square", "tanh",
              "relu"]:
    CASES.append(Bad(_name, "None", lambda f=getattr(T, _name): f(None), TypeError, r"NoneType"))
    CASES.append(Bad(_name, "ndarray", lambda f=getattr(T, _name): f(np.ones(2)), TypeError,
                     r"ndarray"))
CASES += [
    Bad("sum", "axis out of range", lambda: T.sum(A23, 5), IndexError, r"axis 5"),
    Bad("sum", "None", lambda: T.sum(None), TypeError, r"NoneType"),
    Bad("average", "axis out of range", lambda: T.average(A23, 5), IndexError, r"axis 5"),
    Bad("average", "list", lambda: T.average([1, 2]), TypeError, r"list"),
    Bad("softmax", "axis out of range", lambda: T.softmax(A23, axis=5), IndexError, r"axis 5"),
    Bad("softmax", "None", lambda: T.softmax(None), TypeError, r"NoneType"),
    Bad("pow", "text exponent", lambda: T.pow(A23, "x"), TypeError, r"'x'"),
    Bad("pow", "bad shapes", lambda: T.pow(A23, A34), ValueError, r"\(2, 3\).*\(3, 4\)"),
    Bad("axpy", "bad shapes", lambda: T.axpy(1.0, A23, A34), ValueError, r"\(2, 3\).*\(3, 4\)"),
    Bad("axpy", "text alpha", lambda: T.axpy("x", A23, A23), TypeError, r"alpha.*'x'"),
    Bad("axpy", "other device", lambda: T.axpy(1.0, on_other(2, 3), arr(2, 3)), RuntimeError,
        DEVICES),
    Bad("bernoulli", "p above 1", lambda: T.bernoulli(2.0, T.Tensor((2,))), ValueError, r"2"),
    Bad("bernoulli", "p below 0", lambda: T.bernoulli(-1, T.Tensor((2,))), ValueError, r"-1"),
    Bad("bernoulli", "None", lambda: T.bernoulli(0.5, None), TypeError, r"NoneType"),
    Bad("gaussian", "negative std", lambda: T.gaussian(0, -1, T.Tensor((2,))), ValueError,
        r"-1"),
    Bad("gaussian", "None", lambda: T.gaussian(0, 1, None), TypeError, r"NoneType"),
    Bad("uniform", "low above high", lambda: T.uniform(1, 0, T.Tensor((2,))), ValueError,
        r"1.*0"),
    Bad("uniform", "None", lambda: T.uniform(0, 1, None), TypeError, r"NoneType"),
    Bad("add_column", "rows differ", lambda: T.add_column(1, V4, 1, arr(2, 3)), ValueError,
        r"4.*\(2, 3\)"),
    Bad("add_column", "None", lambda: T.add_column(1, None, 1, arr(2, 3)), TypeError,
        r"v.*NoneType"),
    Bad("add_row", "columns differ", lambda: T.add_row(1, V4, 1, arr(2, 3)), ValueError,
        r"4.*\(2, 3\)"),
    Bad("add_row", "text beta", lambda: T.add_row(1, arr(3), "b", arr(2, 3)), TypeError,
        r"beta.*'b'"),
    Bad("sum_columns", "not 2-D", lambda: T.sum_columns(V4), ValueError, r"\(4,\)"),
    Bad("sum_columns", "None", lambda: T.sum_columns(None), TypeError, r"NoneType"),
    Bad("sum_rows", "not 2-D", lambda: T.sum_rows(V4), ValueError, r"\(4,\)"),
    Bad("sum_rows", "None", lambda: T.sum_rows(None), TypeError, r"NoneType"),
    Bad("tensordot", "too many axes", lambda: T.tensordot(A23, A34, 3), ValueError,
        r"axes=3.*\(2, 3\).*\(3, 4\)"),
    Bad("tensordot", "sizes differ", lambda: T.tensordot(A23, A23, ([0], [1])), ValueError,
        r"\(2, 3\).*\(2, 3\)"),
    Bad("tensordot", "axis out of range", lambda: T.tensordot(A23, A34, ([1], [5])),
        IndexError, r"axis 5.*\(3, 4\)"),
    Bad("tensordot", "None", lambda: T.tensordot(None, A34), TypeError, r"A.*NoneType"),
    Bad("einsum", "sizes differ", lambda: T.einsum("ij,jk->ik", A23, A23), ValueError,
        r"\(2,3\)"),
    Bad("einsum", "other device", lambda: T.einsum("ij,jk->ik", A23, on_other(3, 2)),
        RuntimeError, DEVICES),
    Bad("einsum", "None operand", lambda: T.einsum("i->i", None), TypeError, r"NoneType"),
]
for _name in ["lt", "le", "gt", "ge", "eq"]:
    CASES.append(Bad(_name, "bad shapes", lambda f=getattr(T, _name): f(A23, A34), ValueError,
                     r"\(2, 3\).*\(3, 4\)"))
    CASES.append(Bad(_name, "None", lambda f=getattr(T, _name): f(None, 1.0), TypeError,
                     r"NoneType"))
for _name in ["add", "sub", "eltwise_mult", "div"]:
    CASES.append(Bad(_name, "bad shapes", lambda f=getattr(T, _name): f(A23, A34), ValueError,
                     r"\(2, 3\).*\(3, 4\)"))
    CASES.append(Bad(_name, "other device", lambda f=getattr(T, _name): f(A23, on_other(2, 3)),
                     RuntimeError, DEVICES))
    CASES.append(Bad(_name, "None", lambda f=getattr(T, _name): f(A23, None), TypeError,
                     r"NoneType"))
    CASES.append(Bad(_name, "text", lambda f=getattr(T, _name): f(A23, "2"), TypeError, r"'2'"))
CASES += [
    Bad("mult", "not aligned", lambda: T.mult(A23, A23), ValueError, r"\(2, 3\).*\(2, 3\)"),
    Bad("mult", "other device", lambda: T.mult(A23, on_other(3, 2)), RuntimeError, DEVICES),
    Bad("mult", "None", lambda: T.mult(None, A23), TypeError, r"A.*NoneType"),
    Bad("mult", "C does not fit", lambda: T.mult(A23, A34, C=arr(2, 3)), ValueError,
        r"\(2, 3\).*\(3, 4\)"),
    Bad("mult", "text alpha", lambda: T.mult(A23, A34, C=arr(2, 4), alpha="2"), TypeError,
        r"alpha.*'2'"),
]

EXEMPT = {
    "float32": "a dtype constant, not callable",
    "float16": "a dtype constant, not callable",
    "int32": "a dtype constant, not callable",
    "float64": "a dtype constant, not callable",
    "bfloat16": "a dtype constant, not callable",
    "int64": "a dtype constant, not callable",
    "uint8": "a dtype constant, not callable",
    "bool_": "a dtype constant, not callable",
}


@pytest.mark.parametrize("case", params(CASES))
def test_bad_input(case):
    check(case)


def test_every_public_name_has_bad_input_cases():
    check_coverage(T, CASES, EXEMPT)
