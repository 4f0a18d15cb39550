"""Applications built on the runtime: media input/output, rendering, COCO files, inference runs, evaluation.

Nothing below `apps` imports it: the runtime and the stages under it stay usable without OpenCV video,
pycocotools or the command-line tools.
"""
