"""Widgets and table helpers the views and screens share: the banner, keyed tables."""
