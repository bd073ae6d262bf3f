"""edge_rnn.runtime: the on-device runner (numpy + onnxruntime only, never torch)."""
