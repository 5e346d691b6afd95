"""Stage 4, decoding and evaluation: logits to text, and how good the reads are (notebooks 04, 05).

Nothing here imports torch: an exported model decodes with numpy alone.
"""
