"""Property: the streamed digest equals hashlib over the whole bytes, whatever the chunking and interruptions."""

from __future__ import annotations

import hashlib
import random
import tempfile
from collections.abc import Iterable
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from imagelock.hashing import StreamHasher
from imagelock.net.http import resumable_download


class Dropped(Exception):
    """A stand-in for a connection that breaks mid-stream."""


@st.composite
def cuts(draw: st.DrawFn, size: int) -> list[int]:
    """Increasing positions in [0, size] where something happens."""
    return sorted(set(draw(st.lists(st.integers(0, size), max_size=8))))


# Large payloads are made from a drawn size and seed: Hypothesis stays fast and still
# shrinks towards small sizes; the edges (empty, one byte, chunk-sized) are drawn often.
payloads = st.builds(
    lambda size, seed: random.Random(seed).randbytes(size),
    st.one_of(st.integers(0, 300_000), st.sampled_from([0, 1, 65_535, 65_536, 65_537, 1 << 20])),
    st.integers(0, 2**32),
)


@settings(max_examples=200, deadline=None)
@given(data=payloads, chunking=st.data())
def test_any_chunking_gives_the_whole_file_digest(data: bytes, chunking: st.DataObject) -> None:
    bounds = [0, *chunking.draw(cuts(len(data))), len(data)]
    hasher = StreamHasher()
    for start, end in zip(bounds, bounds[1:], strict=False):
        hasher.update(data[start:end])
    digest = hasher.digest()
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.md5 == hashlib.md5(data).hexdigest()
    assert digest.size == len(data)


@settings(max_examples=150, deadline=None)
@given(data=payloads.filter(bool), plan=st.data(), ignores_range=st.booleans())
def test_any_interruption_points_resume_to_the_whole_file_digest(
    data: bytes, plan: st.DataObject, ignores_range: bool
) -> None:
    drops = plan.draw(cuts(len(data) - 1))  # the source breaks once at each of these offsets
    pending = list(drops)
    chunk = plan.draw(st.integers(1, 70_000))

    def open_at(offset: int) -> tuple[int, Iterable[bytes]]:
        start = 0 if ignores_range else offset

        def body() -> Iterable[bytes]:
            position = start
            while position < len(data):
                if pending and position >= pending[0]:
                    pending.pop(0)
                    raise Dropped(position)
                end = min(position + chunk, len(data), *(p for p in pending[:1] if p > position))
                yield data[position:end]
                position = end

        return start, body()

    with tempfile.TemporaryDirectory() as folder:
        dest = Path(folder) / "blob"
        digest = resumable_download(
            open_at, dest, label="blob", total=len(data), transient=(Dropped,), attempts=len(drops) + 2, pause=0.0
        )
        assert dest.read_bytes() == data
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.md5 == hashlib.md5(data).hexdigest()
    assert digest.size == len(data)


def test_a_flaky_source_that_keeps_making_progress_is_not_given_up_on(tmp_path: Path) -> None:
    data = random.Random(7).randbytes(6 << 20)
    step = 3 << 19  # the connection breaks every 1.5 MiB: four times, with attempts=2

    def open_at(offset: int) -> tuple[int, Iterable[bytes]]:
        def body() -> Iterable[bytes]:
            end = min(offset + step, len(data))
            for start in range(offset, end, 1 << 20):
                yield data[start : min(start + (1 << 20), end)]
            if end < len(data):
                raise Dropped(end)

        return offset, body()

    digest = resumable_download(
        open_at, tmp_path / "blob", label="blob", total=len(data), transient=(Dropped,), attempts=2, pause=0.0
    )
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
