"""Bundled default models (int8 ONNX)."""
