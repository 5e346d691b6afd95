"""Stage 1, the data: images and labels in, batches out (notebook 01).

vocab, images and labels need no torch: an exported model reads images with them alone.
Import names from `captcha_lib`; this package holds the modules.
"""
