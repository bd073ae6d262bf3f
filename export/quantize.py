"""int8 weights: onnxruntime dynamic quantization (weights int8, activations quantized per call).

MatMul/Gemm weights (the output projection), the embedding Gather and LSTM weights
(DynamicQuantizeLSTM) become int8. The contract metadata is copied with precision "int8".
"""

from __future__ import annotations

import logging
from pathlib import Path

PRECISIONS = ("fp32", "int8")


def quantize_int8(src: Path, dst: Path) -> None:
    """Write the dynamically quantized model of `src` to `dst` (metadata is set by the caller)."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # the quantizer logs advice to the root logger
    try:
        quantize_dynamic(str(src), str(dst), weight_type=QuantType.QInt8, per_channel=False,
                         op_types_to_quantize=["MatMul", "Gemm", "Gather", "LSTM"],
                         extra_options={"MatMulConstBOnly": True})
    finally:
        root.setLevel(level)
