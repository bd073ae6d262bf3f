"""edge_rnn.export: PyTorch to ONNX with explicit states and metadata, quantization, parity."""
