"""Stage 3, training: one configuration, the recipes, the loop, torchrun (notebooks 03, 07)."""
