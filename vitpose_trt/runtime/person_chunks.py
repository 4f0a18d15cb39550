"""Persons of several images cut into inference-sized chunks, so crops of many images share one inference."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from ..geometry import CheckedBoxes


@dataclass(frozen=True)
class Segment:
    """Some consecutive boxes of one image: image_index into the call's images, first: the index of
    boxes.xyxy[0] among that image's boxes."""

    image_index: int
    first: int
    boxes: CheckedBoxes


def chunks_of_persons(boxes_per_image: Sequence[CheckedBoxes], size: int) -> Iterator[list[Segment]]:
    """Every image's boxes, in order, in chunks of at most `size` persons (a chunk may span images)."""
    chunk: list[Segment] = []
    room = size
    for index, boxes in enumerate(boxes_per_image):
        start = 0
        while start < len(boxes):
            take = min(room, len(boxes) - start)
            chunk.append(Segment(index, start, boxes.rows(start, start + take)))
            start, room = start + take, room - take
            if room == 0:
                yield chunk
                chunk, room = [], size
    if chunk:
        yield chunk
