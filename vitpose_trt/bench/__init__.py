"""Benchmarks: latency statistics, analytic FLOPs, a measured roofline, environment capture and reports.

Library side of `vitpose-bench`. Every module here imports with only numpy and the standard library;
the runners load torch, onnxruntime or the runtime backends inside functions.
"""
