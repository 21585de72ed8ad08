"""Stage 1: bytes -> clean text. Encodings, terminal residue and prompts, capture splitting,
secret scrubbing, device names and the scalar words Cisco prints; configuration and secret files
read within bounds. Used by the parser and by the sources (collector, account pollers) alike."""
