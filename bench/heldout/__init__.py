"""Helpers of bench/heldout.py: the held-out evaluation of hygiene's removal-feeding decisions.

sources  where the real photos come from, and the TUNING / HELD-OUT split
imaging  pixel and encoding helpers (sRGB, noise, EXIF)
degrade  derived copies of a photo: exposure, blur, crops, borders, downscales
render   derived look-alikes: documents, receipts, scans, screenshots, star fields
damage   broken and damaged-but-complete files
corpus   one split's corpus on disk plus its ground truth
score    reads a hygiene run and scores it against the ground truth
report   the markdown table
"""
