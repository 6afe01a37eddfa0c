"""Data shipped with lablib: the Fashion-MNIST mini subset (see PROVENANCE.md)."""
