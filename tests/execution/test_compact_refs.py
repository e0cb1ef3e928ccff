"""CompactRefs: the plan's key -> ref mapping gives back every ref exactly as it was put, in insertion order,
while keeping segment refs as integers."""

from __future__ import annotations

import sys

from dagviz.execution.compact_refs import CompactRefs
from dagviz.storage.segments import segment_ref

RUN = "67ba9357-b081-4a84-bd97-ca0ff2ddef2c"


def test_every_kind_of_ref_reads_back_exactly_in_insertion_order():
    refs = {
        "k0": segment_ref(RUN, "host-12-5ea198b9", 0, 15),
        "k1": segment_ref(RUN, "host-12-5ea198b9", 15, 17),
        "k2": segment_ref(RUN, "host-13-0a0b0c0d", 2 ** 40, 2 ** 32 - 1),  # another head, big numbers
        "k3": f"{RUN}/emit/result/k3",  # a value stored as a file
        "k4": f"{RUN}/@seg/w/007/15",  # a leading zero: rebuilding it from an int would lose it
        "k5": f"{RUN}/@seg/w/1/{2 ** 32}",  # a length beyond the integer's field
        "k6": "15/16",  # no head
        "k7": "memory-ref-without-numbers",
        "k8": f"{RUN}/@seg/w/²/1",  # a digit that is not ASCII
        "k9": f"{RUN}/@seg/w/0/0",
    }
    compact = CompactRefs()
    for key in sorted(refs, reverse=True):  # insertion order is kept, not sorted
        compact[key] = refs[key]
    assert list(compact) == sorted(refs, reverse=True)
    assert dict(compact.items()) == refs
    assert list(compact.values()) == [refs[key] for key in sorted(refs, reverse=True)]
    assert "k3" in compact and "zz" not in compact and len(compact) == len(refs)
    assert compact.get("zz", "missing") == "missing"
    del compact["k3"]
    assert "k3" not in compact and len(compact) == len(refs) - 1
    compact["k0"] = refs["k3"]  # a key given a new ref reads the new one
    assert compact["k0"] == refs["k3"]


def test_segment_refs_are_kept_as_integers_smaller_than_the_strings():
    compact = CompactRefs()
    compact["k0"] = ref = segment_ref(RUN, "host-12-5ea198b9", 123_456_789, 17)
    code = compact._codes["k0"]
    assert isinstance(code, int) and sys.getsizeof(code) * 3 < sys.getsizeof(ref)
    assert compact["k0"] == ref


def test_more_heads_than_the_code_numbers_are_kept_as_strings():
    compact = CompactRefs()
    for index in range(2 ** 16 + 5):
        compact[f"k{index}"] = segment_ref(RUN, f"writer-{index}", index, 1)
    assert isinstance(compact._codes["k0"], int) and isinstance(compact._codes[f"k{2 ** 16 + 4}"], str)
    assert all(compact[f"k{index}"] == segment_ref(RUN, f"writer-{index}", index, 1)
               for index in range(0, 2 ** 16 + 5, 997))
