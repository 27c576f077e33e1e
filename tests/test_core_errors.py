"""Bad shapes, dtypes and axes raise Python exceptions that name the function and
the shapes involved, never abort the process."""
import numpy as np
import pytest

from singa import singa_wrap as sw


def T(a):
    a = np.asarray(a)
    return sw.from_numpy(a if a.flags.c_contiguous else a.copy())


def z(*shape, dtype=np.float32):
    return T(np.zeros(shape, dtype))


# callable, exception, regex the message must match (function name and shapes)
CASES = [
    ("Add broadcast", lambda: sw.Add(z(2, 3), z(4)), ValueError, r"Add.*\(2, 3\).*\(4,\)"),
    ("__add__ broadcast", lambda: sw.__add__(z(2, 3), z(3, 2)), ValueError, r"__add__.*\(2, 3\).*\(3, 2\)"),
    ("class + broadcast", lambda: z(2, 3) + z(2), ValueError, r"__add__.*\(2, 3\).*\(2,\)"),
    ("EltwiseMult", lambda: sw.EltwiseMult(z(5), z(6)), ValueError, r"EltwiseMult.*\(5,\).*\(6,\)"),
    ("iadd grows", lambda: z(3).__iadd__(z(2, 3)), ValueError, r"__iadd__.*\(3,\).*\(2, 3\)"),
    ("WithRet shape", lambda: sw.SubWithRet(z(2, 3), z(3), z(3, 2)), ValueError, r"Sub.*\(3, 2\)"),
    ("Mult inner", lambda: sw.Mult(z(2, 3), z(4, 5)), ValueError, r"Mult.*\(2, 3\).*\(4, 5\)"),
    ("Mult vec", lambda: sw.Mult(z(3), z(4)), ValueError, r"Mult.*\(3,\).*\(4,\)"),
    ("Mult batch", lambda: sw.Mult(z(2, 3, 4), z(3, 4, 5)), ValueError, r"Mult.*\(2,\).*\(3,\)"),
    ("Mult 0-d", lambda: sw.Mult(z(), z(3)), ValueError, r"Mult.*\(\).*\(3,\)"),
    ("MultWithScale", lambda: sw.MultWithScale(1.0, z(2, 3), z(3, 4), 0.0, z(2, 5)), ValueError,
     r"MultWithScale.*\(2, 3\).*\(3, 4\).*\(2, 5\)"),
    ("MultWithScale 3d", lambda: sw.MultWithScale(1.0, z(2, 2, 3), z(3, 4), 0.0, z(2, 4)), ValueError,
     r"MultWithScale.*2-D.*\(2, 2, 3\)"),
    ("Axpy shapes", lambda: sw.Axpy(1.0, z(2, 3), z(3)), ValueError, r"Axpy.*\(2, 3\).*\(3,\)"),
    ("Axpy alpha", lambda: sw.Axpy(z(2), z(3), z(3)), ValueError, r"Axpy.*alpha.*\(2,\)"),
    ("AddRow", lambda: sw.AddRow(z(4), z(2, 3)), ValueError, r"AddRow.*\(4,\).*\(2, 3\)"),
    ("AddColumn", lambda: sw.AddColumn(z(3), z(2, 3)), ValueError, r"AddColumn.*\(3,\).*\(2, 3\)"),
    ("MultColumn 1-D", lambda: sw.MultColumn(z(3), z(3)), ValueError, r"MultColumn.*2-D.*\(3,\)"),
    ("SumRows 3-D", lambda: sw.SumRows(z(2, 2, 2)), ValueError, r"SumRows.*\(2, 2, 2\)"),
    ("ReduceSum axis", lambda: sw.ReduceSum(z(2, 3), [2], False), IndexError, r"Sum.*axis 2.*2 dimension"),
    ("ReduceSum dup", lambda: sw.ReduceSum(z(2, 3), [1, -1], False), ValueError, r"Sum.*more than once"),
    ("Sum axis", lambda: sw.Sum(z(2, 3), -3), IndexError, r"Sum.*-3"),
    ("SoftMax axis", lambda: sw.SoftMax(z(2, 3), 2), IndexError, r"SoftMax.*axis 2"),
    ("SoftMaxBackward", lambda: sw.SoftMaxBackward(z(2, 3), 1, z(3, 2)), ValueError,
     r"SoftMaxBackward.*\(2, 3\).*\(3, 2\)"),
    ("CE label range", lambda: sw.CrossEntropyFwd(z(2, 3), T(np.array([0, 3], np.int32))), IndexError,
     r"CrossEntropyFwd.*label 3.*3 classes"),
    ("CE negative label", lambda: sw.SoftmaxCrossEntropyBwd(z(2, 3), T(np.array([-1, 0], np.int32))),
     IndexError, r"SoftmaxCrossEntropyBwd.*-1"),
    ("CE label count", lambda: sw.CrossEntropyFwd(z(2, 3), T(np.array([0, 1, 2], np.int32))), ValueError,
     r"CrossEntropyFwd.*3 labels.*2"),
    ("CE target shape", lambda: sw.CrossEntropyFwd(z(2, 3), z(2, 4)), ValueError,
     r"CrossEntropyFwd.*\(2, 4\).*\(2, 3\)"),
    ("CE fractional", lambda: sw.CrossEntropyFwd(z(2, 3), T(np.array([0.5, 1], np.float32))), ValueError,
     r"CrossEntropyFwd.*whole"),
    ("CE 3-D", lambda: sw.CrossEntropyFwd(z(2, 3, 1), z(2)), ValueError, r"CrossEntropyFwd.*\(2, 3, 1\)"),
    ("Reshape size", lambda: sw.Reshape(z(2, 3), [4, 2]), ValueError, r"Reshape.*6.*\(4, 2\)"),
    ("Reshape -1", lambda: sw.Reshape(z(2, 3), [4, -1]), ValueError, r"Reshape"),
    ("Reshape two -1", lambda: sw.Reshape(z(2, 3), [-1, -1]), ValueError, r"Reshape.*-1"),
    ("Transpose axes", lambda: sw.Transpose(z(2, 3), [0, 0]), ValueError, r"Transpose.*permutation"),
    ("Transpose len", lambda: sw.Transpose(z(2, 3), [0, 1, 2]), ValueError, r"Transpose.*\(2, 3\)"),
    ("Broadcast", lambda: sw.Broadcast(z(2, 3), [4, 3]), ValueError, r"Broadcast.*\(2, 3\).*\(4, 3\)"),
    ("ConcatOn", lambda: sw.ConcatOn([z(2, 3), z(3, 2)], 0), ValueError, r"ConcatOn.*\(2, 3\).*\(3, 2\)"),
    ("ConcatOn rank", lambda: sw.ConcatOn([z(2, 3), z(3)], 0), ValueError, r"ConcatOn.*rank"),
    ("ConcatOn axis", lambda: sw.ConcatOn([z(2, 3)], 5), IndexError, r"ConcatOn.*axis 5"),
    ("SliceOn", lambda: sw.SliceOn(z(2, 3), 1, 4, 1), IndexError, r"SliceOn.*\[1, 4\).*size 3"),
    ("Repeat", lambda: sw.Repeat(z(2, 3), [1, 2], 1), ValueError, r"Repeat.*2 repeat counts.*3"),
    ("Take", lambda: sw.Take(z(2, 3), T(np.array([3], np.int32)), 0), IndexError, r"index 3.*size 2"),
    ("GatherElements", lambda: sw.GatherElements(z(2, 3), T(np.zeros((2,), np.int32)), 0), ValueError,
     r"GatherElements.*\(2,\).*\(2, 3\)"),
    ("ScatterElements", lambda: sw.ScatterElements(z(2, 3), T(np.zeros((2, 2), np.int32)), z(2, 3), 0),
     ValueError, r"ScatterElements.*\(2, 3\).*\(2, 2\)"),
    ("OneHot", lambda: sw.OneHot(T(np.array([4], np.int32)), 4), IndexError, r"OneHot.*index 4.*4"),
    ("Pad rank", lambda: sw.Pad(z(2, 3), [(1, 1)]), ValueError, r"Pad.*rank 2"),
    ("Pad reflect", lambda: sw.Pad(z(2, 3), [(2, 0), (0, 0)], 2), ValueError, r"Pad.*reflect"),
    ("Where", lambda: sw.Where(z(2), z(3), z(3)), ValueError, r"Where.*\(2,\).*\(3,\)"),
    ("Clip", lambda: sw.Clip(z(2), 1.0, 0.0), ValueError, r"Clip.*min 1.*max 0"),
    ("CopyData", lambda: z(2, 3).CopyData(z(5)), ValueError, r"CopyData.*\(5,\).*\(2, 3\)"),
    ("Tensor shape", lambda: sw.Tensor([2, -1]), ValueError, r"Tensor.*negative"),
    ("shape(i)", lambda: z(2, 3).shape(2), IndexError, r"shape.*axis 2.*\(2, 3\)"),
    ("Slice axis", lambda: z(2, 3).Slice(2, 0, 1), IndexError, r"Slice.*axis 2.*\(2, 3\)"),
    ("Slice step", lambda: z(2, 3).Slice(0, 0, 1, 0), ValueError, r"Slice.*step"),
    ("Squeeze", lambda: z(2, 3).Squeeze(0), ValueError, r"Squeeze.*\(2, 3\)"),
    ("ArgMax axis", lambda: sw.ArgMax(z(2, 3), 2), IndexError, r"ArgMax.*axis 2"),
    ("SumToShape", lambda: sw.SumToShape(z(2, 3), [4]), ValueError, r"SumToShape.*\(2, 3\).*\(4,\)"),
    ("from_numpy dtype", lambda: sw.from_numpy(np.zeros(3, np.complex64)), TypeError,
     r"from_numpy.*complex64"),
    ("Exp on int8?", lambda: sw.Tensor([2], None, 9), TypeError, r"dtype"),
    ("SoftMax int", lambda: sw.Sum(T(np.zeros(2, np.int8)), 3), IndexError, r"Sum"),
    ("set_num_threads", lambda: sw.set_num_threads(0), ValueError, r"set_num_threads"),
    ("CreateCudaGPU", lambda: sw.Platform.CreateCudaGPU(0), RuntimeError, r"CUDA"),
]


@pytest.mark.parametrize("fn,exc,pattern", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_error(fn, exc, pattern):
    with pytest.raises(exc, match=pattern):
        fn()


def test_errors_leave_operands_untouched():
    a = T(np.ones((2, 3), np.float32))
    with pytest.raises(ValueError):
        a += z(3, 3)
    np.testing.assert_array_equal(sw.to_numpy(a), np.ones((2, 3)))
