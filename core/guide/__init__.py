"""Guides for newcomers: the complete guide for one business in one region, milestone dates,
and scaffolding for a new region plugin (``eportcard guide / deadline / new-region``)."""

from core.guide.build import DueDate, Guide, GuideMaterial, build_guide, deadline
from core.guide.render import guide_json, render_text

__all__ = ["DueDate", "Guide", "GuideMaterial", "build_guide", "deadline", "guide_json", "render_text"]
