"""Watching and recording an agent: the live window with its heads-up display, and MP4/GIF
writers that never leave a broken file behind."""
