"""What the exported model runs: raw text in, category out. Ships with the model, with ``core``."""
