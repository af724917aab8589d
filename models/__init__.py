"""Reverie's generators: one architecture per file, a registry, and safetensors checkpoints."""
