"""Method implementations: DSER (Deep Self-Evolving Reasoning), sharpening, resampling with imperfect verifiers."""
