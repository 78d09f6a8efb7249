"""Scheduled what-if reports (`exposure report`) and their history (`exposure history`)."""
