"""Quantization recipes (data, not scattered flags) and calibration sources."""

from __future__ import annotations

from .recipes import RECIPES, Recipe, recipe_for

__all__ = ["RECIPES", "Recipe", "recipe_for"]
