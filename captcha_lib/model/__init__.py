"""Stage 2, the model: the networks, the CTC loss and the checkpoint format (notebook 02)."""
