"""The bottom layer: errors, settings, device and threads, input checks, files, notebook banners, style."""
