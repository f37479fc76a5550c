"""Analyses over the warehouse's results: how well a ranking predicts what happens next (evaluate)."""
