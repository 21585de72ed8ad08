"""Stage 1: bytes -> clean text. Encodings, terminal residue and prompts, capture splitting,
secret scrubbing, device names and the scalar words Cisco prints. Used by the parser and by the
collector alike."""
