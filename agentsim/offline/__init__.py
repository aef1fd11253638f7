"""The offline engine: a knowledge-base reasoner doctor and a fact-grounded patient, no LLM."""
