"""Data: images from anything, datasets, safe downloads and archives, checkpoints."""
