"""absl mains and their ml_collections configs (experiments/configs)."""
from efjax import malloc

if malloc.started_as_main_of("experiments"):
  malloc.reexec_with_huge_pages()     # before jax is imported: see efjax/malloc.py
