"""Compiled detector kernels with a column API (numba), bit-identical to river's detectors.

One kernel a module, like detectors/ and river's river/drift/. Not wired into the monitor yet:
the columnar engine of issue 13 builds on these.
"""
