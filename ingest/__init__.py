"""Documents → clean text → structured passages → tokens + embeddings → a new KB version."""
