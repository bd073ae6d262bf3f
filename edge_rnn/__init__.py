"""edge-rnn: recurrent networks from PyTorch training to streaming ONNX models.

Importing this package never imports torch; training and export import it lazily.
"""

__version__ = "0.2.0"
