"""Video sampling: intervals and fingerprint positions, bounds, and hostile input."""

from __future__ import annotations

import pytest

from infra.errors import MediaError
from streams.bench import synthetic
from streams.media import video
from streams.media.hashers import PDQ, distance


def test_frames_every_interval_and_at_fingerprint_positions() -> None:
    info = video.VideoInfo()
    frames = list(video.sample(synthetic.video(1, seconds=10), interval=3.0, info=info))
    times = [round(f.at_s, 1) for f in frames]
    assert info.duration_s == pytest.approx(10.0, abs=0.2)
    for t in (0.0, 3.0, 6.0, 9.0, 1.0, 5.0, 7.0):  # interval and 10/50/70 % positions
        assert t in times
    assert sum(f.fingerprint for f in frames) == 5
    assert times == sorted(times)


def test_a_re_encoded_copy_has_matching_fingerprint_frames() -> None:
    hasher = PDQ()
    a = [f for f in video.sample(synthetic.video(2, seconds=6)) if f.fingerprint]
    copy = synthetic.reencode(synthetic.video(2, seconds=6))
    b = [f for f in video.sample(copy) if f.fingerprint]
    other = [f for f in video.sample(synthetic.video(3, seconds=6)) if f.fingerprint]
    for x, y, z in zip(a, b, other, strict=True):
        assert distance(hasher.hash(b"", x.image), hasher.hash(b"", y.image)) <= 31
        assert distance(hasher.hash(b"", x.image), hasher.hash(b"", z.image)) > 31


def test_work_is_bounded() -> None:
    data = synthetic.video(4, seconds=60)
    info = video.VideoInfo()
    frames = list(video.sample(data, interval=1.0, max_frames=8, info=info))
    assert len(frames) <= 8 + 5
    with pytest.raises(MediaError, match="too_many_pixels"):
        list(video.sample(data, max_pixels=1000))
    info = video.VideoInfo()
    assert list(video.sample(data, budget=0.0, info=info)) == []
    assert info.truncated


@pytest.mark.parametrize(
    "data", [b"", b"\x00\x00\x00\x18ftypmp42" + b"\x00" * 500, b"garbage" * 99]
)
def test_undecodable_input_is_an_error_not_a_crash(data: bytes) -> None:
    with pytest.raises(MediaError):
        list(video.sample(data))
